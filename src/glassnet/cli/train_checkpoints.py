"""Checkpoints and outputs of ``glassnet train``: where a run resumes from, how each
checkpoint is written with the run's settings (and older ones pruned), the lock that
keeps a second run out of the folder, the output checks made before training, the
fallback when the final save fails, and what an interrupted run leaves behind."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import signal
import sys
import threading
from pathlib import Path

from ..io import latest_checkpoint, save, to_bytes
from ..io.atomic import check_writable, create_exclusive
from ..io.lock import FolderLock
from ..io.model import metadata_json
from ..training.checkpoint import load_checkpoint, save_checkpoint
from . import CliError
from .tabular import Preprocessing

#: The run settings kept in the model file (metadata key) and what --resume compares.
SETTINGS_KEY = "train"
CHECKPOINT_INTERRUPTED = "interrupted-epoch-{epoch:04d}-step-{step:06d}.safetensors"
#: --keep's default: the newest three and the best; 0 keeps every checkpoint.
DEFAULT_KEEP = 3
#: The checkpoint names train writes (and --keep prunes): epoch-0003.safetensors
#: (after epoch 3) and interrupted-epoch-0003-step-000012.safetensors (in epoch 4).
_EPOCH_NAME = re.compile(r"^epoch-(\d+)\.safetensors$")
_INTERRUPTED_NAME = re.compile(r"^interrupted-epoch-(\d+)-step-(\d+)\.safetensors$")


# -- before training -------------------------------------------------------------------
def check_outputs(args) -> None:
    """Every path the run will write, checked before any data is read: --out (its
    folder exists and is writable, it is not a folder) and --checkpoint-dir (a folder,
    or a name whose nearest existing parent is a writable folder)."""
    check_writable(args.out, "--out")
    if args.checkpoint_dir:
        _check_checkpoint_dir(Path(args.checkpoint_dir))


def _check_checkpoint_dir(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise CliError(
            f"--checkpoint-dir {folder} is a file, not a folder; name a folder (it is "
            "created if missing)"
        )
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CliError(
            f"--checkpoint-dir {folder}: {existing} is a file, so the folder cannot "
            "be created"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CliError(f"--checkpoint-dir {folder}: {existing} is not writable")


def check_metadata(metadata: dict) -> None:
    """The model file's metadata can be stored (JSON values only), checked before
    training so a finished run is never lost to it."""
    try:
        metadata_json(metadata)
    except (TypeError, ValueError) as error:
        raise CliError(
            f"the model's metadata cannot be stored ({error}); nothing was trained"
        ) from None


@contextlib.contextmanager
def checkpoint_lock(args):
    """Holds the lock of --checkpoint-dir (created if missing) for the run; a second
    run into the same folder is refused with a message naming the first."""
    if not args.checkpoint_dir:
        yield None
        return
    folder = Path(args.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(folder, "--checkpoint-dir").acquire()
    try:
        if lock.note:
            print(f"glassnet train: note: {lock.note}", file=sys.stderr)
        yield lock
    finally:
        lock.release()


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """While training, SIGTERM does what Ctrl-C does: the fit loop stops after the
    current step and the run writes a checkpoint there (exit code 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        handler = signal.getsignal(signal.SIGINT)
        if not callable(handler):
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)  # the fit loop's handler, or raise

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def open_checkpoints(args, say):
    """(checkpoint, its run settings) to resume from, or (None, None) for a new run;
    the --checkpoint-dir folder exists afterwards."""
    if not args.checkpoint_dir:
        return None, None
    folder = Path(args.checkpoint_dir)
    if args.resume:
        ckpt, stored = _newest_checkpoint(folder, say)
    else:
        _check_no_checkpoints(folder)
        ckpt = stored = None
    folder.mkdir(parents=True, exist_ok=True)
    return ckpt, stored


def _newest_checkpoint(folder: Path, say):
    path = latest_checkpoint(folder)
    if path is None:
        print(
            f"glassnet train: no checkpoint in {folder}; starting a new run",
            file=sys.stderr,
        )
        return None, None
    ckpt = load_checkpoint(path)
    stored = ckpt.metadata.get(SETTINGS_KEY)
    if not isinstance(stored, dict):
        raise CliError(
            f"{path} was not written by glassnet train (no run settings "
            "in its metadata), so it cannot be resumed from the command line"
        )
    say(f"resuming from {path} (epoch {ckpt.epoch}, step {ckpt.step})")
    return ckpt, stored


def _check_no_checkpoints(folder: Path) -> None:
    newest = latest_checkpoint(folder)
    if newest is not None:
        raise CliError(
            f"{folder} already holds checkpoints (newest: {newest.name}); pass "
            "--resume to continue that run, or choose an empty --checkpoint-dir"
        )


def checkpoint_saver(metadata: dict, keep: int = DEFAULT_KEEP):
    """save_fn for ModelCheckpoint: gn.save_checkpoint with the run's metadata. A
    failed write warns and training goes on; after a good one, ``keep`` > 0 prunes
    all but the newest ``keep`` checkpoints and the best."""

    def save_fn(path, net, optimizer, history, rng_state, epoch, step):
        try:
            save_checkpoint(
                path, net, optimizer, history, rng_state, epoch, step, metadata
            )
        except OSError as error:
            print(
                f"glassnet train: warning: checkpoint {path} not written ({error}); "
                "training goes on",
                file=sys.stderr,
            )
            return
        if keep > 0:
            try:
                prune_checkpoints(Path(path).parent, keep, best_epoch(history))
            except OSError as error:
                print(
                    f"glassnet train: warning: old checkpoints not pruned ({error})",
                    file=sys.stderr,
                )

    return save_fn


def best_epoch(history) -> int | None:
    """The 1-based epoch with the lowest val_loss (loss without validation)."""
    if history is None:
        return None
    for key in ("val_loss", "loss"):
        values = history.history.get(key) or []
        scored = [
            (v, e) for v, e in zip(values, history.epoch, strict=False) if v is not None
        ]
        if scored:
            return min(scored)[1] + 1
    return None


def _checkpoint_position(name: str) -> tuple[int, int] | None:
    """(epochs completed, step within the next) from a name train writes."""
    match = _EPOCH_NAME.match(name)
    if match:
        return int(match[1]), 0
    match = _INTERRUPTED_NAME.match(name)
    if match:
        return int(match[1]), int(match[2])
    return None


def prune_checkpoints(folder: Path, keep: int, best: int | None) -> list[Path]:
    """Removes train's checkpoints in ``folder`` but the newest ``keep`` and the one
    after epoch ``best``; returns the removed paths. Other files are never touched."""
    found = []
    for path in folder.iterdir():
        position = _checkpoint_position(path.name)
        if position is not None:
            found.append((position, path))
    found.sort(reverse=True)
    removed = []
    for position, path in found[keep:]:
        if position == (best, 0):
            continue  # the best checkpoint stays
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


# -- after training --------------------------------------------------------------------
def save_or_fallback(net, out, metadata, checkpoint_dir) -> None:
    """Saves the model to ``out``; if that fails, writes it to a new file (next to the
    checkpoints, or in the current folder) and raises a CliError saying where."""
    try:
        save(net, out, metadata)
        return
    except OSError as error:
        failure = error
    folder = Path(checkpoint_dir) if checkpoint_dir else Path.cwd()
    stem = Path(out).name.split(".")[0] or "model"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    data = to_bytes(net, metadata)
    for n in range(100):
        suffix = f"-{n}" if n else ""
        fallback = folder / f"{stem}-unsaved-{stamp}{suffix}.safetensors"
        try:
            create_exclusive(fallback, data)  # never overwrites a file
        except FileExistsError:
            continue
        except OSError as error:
            raise CliError(
                f"could not write --out {out} ({failure}), nor the fallback "
                f"{fallback} ({error}); the trained model is lost"
            ) from None
        raise CliError(
            f"could not write --out {out} ({failure}); the trained model was written "
            f"to {fallback} instead"
        )
    raise CliError(f"could not write --out {out} ({failure}) nor a fallback file")


def check_same_data(stored: dict, settings: dict, record, ckpt) -> None:
    if stored.get("data_sha256") != settings["data_sha256"]:
        source = settings["data"] or f"--dataset {settings['dataset']}"
        raise CliError(
            f"{source} is not the data the checkpoint's run trained on (its rows, "
            "features or labels differ); resume with the same data, or start a new run "
            "in another --checkpoint-dir"
        )
    saved = Preprocessing.from_metadata(ckpt.metadata, ckpt.net)
    if saved is None or (
        saved.mean.tobytes() != record.mean.tobytes()
        or saved.scale.tobytes() != record.scale.tobytes()
    ):
        raise CliError(
            "the checkpoint's standardisation differs from the one refitted on the "
            "same data; the checkpoint is inconsistent"
        )


def report_interrupted(args, net, optimizer, history, metadata) -> int:
    epoch, step = history.next_epoch, history.next_step
    if args.checkpoint_dir:
        path = Path(args.checkpoint_dir) / CHECKPOINT_INTERRUPTED.format(
            epoch=epoch, step=step
        )
        save_checkpoint(
            path,
            net,
            optimizer,
            history,
            net.rng.bit_generator.state,
            epoch,
            step,
            metadata,
        )
        print(
            f"glassnet train: interrupted at epoch {epoch + 1}, step {step}; checkpoint "
            f"written to {path}; continue with the same command and --resume",
            file=sys.stderr,
        )
    else:
        print(
            f"glassnet train: interrupted at epoch {epoch + 1}, step {step}; no model "
            "written (train with --checkpoint-dir DIR to be able to --resume)",
            file=sys.stderr,
        )
    return 130
