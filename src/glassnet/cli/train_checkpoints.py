"""Checkpoints of ``glassnet train``: where a run resumes from, how each checkpoint is
written with the run's settings, and what an interrupted run leaves behind."""

from __future__ import annotations

import sys
from pathlib import Path

from ..io import latest_checkpoint
from ..training.checkpoint import load_checkpoint, save_checkpoint
from . import CliError
from .tabular import Preprocessing

#: The run settings kept in the model file (metadata key) and what --resume compares.
SETTINGS_KEY = "train"
CHECKPOINT_INTERRUPTED = "interrupted-epoch-{epoch:04d}-step-{step:06d}.safetensors"


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


def checkpoint_saver(metadata: dict):
    """save_fn for ModelCheckpoint: gn.save_checkpoint with the run's metadata."""

    def save_fn(path, net, optimizer, history, rng_state, epoch, step):
        save_checkpoint(path, net, optimizer, history, rng_state, epoch, step, metadata)

    return save_fn


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
