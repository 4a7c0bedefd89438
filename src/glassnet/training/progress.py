"""Progress output: a live bar per epoch on a terminal, one plain line per epoch
otherwise (logs, CI, notebooks writing to files)."""

from __future__ import annotations

import sys
import time

from .callbacks import Callback

_BAR_WIDTH = 24
_REFRESH_SECONDS = 0.1


def format_value(value) -> str:
    if isinstance(value, float):
        return (
            f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"
        )
    return str(value)


def format_logs(logs: dict, skip=("epoch_time",)) -> str:
    """ "loss 0.1234  accuracy 0.9700 ..." for the values in ``logs``."""
    return "  ".join(
        f"{key} {format_value(value)}"
        for key, value in logs.items()
        if key not in skip and value is not None
    )


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressBar(Callback):
    """verbose=1: a bar redrawn in place (steps, running loss, time left) when the
    output stream is a terminal, else one line per epoch; verbose=2: always one line
    per epoch. The stream is ``sys.stdout`` at the time training starts."""

    def __init__(self, verbose: int = 1, stream=None):
        self.verbose = verbose
        self._stream = stream

    def on_train_begin(self, logs):
        self.stream = self._stream if self._stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.live = self.verbose == 1 and bool(isatty and isatty())
        self.epochs = self.params.get("epochs")
        self.steps = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.first_step = self.trainer.step  # > 0 when resuming mid-epoch
        self.loss_sum = 0.0
        self.count = 0
        self.line_width = 0

    def on_batch_end(self, step, logs):
        size = logs.get("size", 1)
        self.loss_sum += logs["loss"] * size
        self.count += size
        if not self.live:
            return
        now = time.perf_counter()
        last = self.steps is not None and step + 1 >= self.steps
        if now - self.last_draw < _REFRESH_SECONDS and not last:
            return
        self.last_draw = now
        self._draw(step + 1, now - self.start)

    def _draw(self, done: int, elapsed: float) -> None:
        head = f"Epoch {self.epoch + 1}/{self.epochs} "
        if self.steps:
            filled = int(_BAR_WIDTH * done / self.steps)
            arrow = ">" if filled < _BAR_WIDTH else ""
            bar = (
                "["
                + "=" * filled
                + arrow
                + "." * (_BAR_WIDTH - filled - len(arrow))
                + "]"
            )
            counted = done - self.first_step
            left = elapsed / counted * (self.steps - done) if counted else 0.0
            tail = f" {done}/{self.steps}  loss {format_value(self.loss_sum / self.count)}  ETA {format_seconds(left)}"
        else:
            bar, tail = (
                "",
                f"step {done}  loss {format_value(self.loss_sum / self.count)}",
            )
        line = head + bar + tail
        pad = max(0, self.line_width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self.line_width = len(line)

    def on_epoch_end(self, epoch, logs):
        elapsed = logs.get("epoch_time", time.perf_counter() - self.start)
        line = f"Epoch {epoch + 1}/{self.epochs} - {format_seconds(elapsed)} - {format_logs(logs)}"
        if self.live:
            pad = max(0, self.line_width - len(line))
            self.stream.write("\r" + line + " " * pad + "\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def on_train_end(self, logs):
        reason = self.trainer.stop_reason
        epoch, step = self.trainer.position()
        if reason is None or step == 0:
            return  # ran to the end, or stopped at an epoch boundary: nothing to add
        if self.live and self.line_width:
            self.stream.write("\n")
        self.stream.write(
            f"Stopped ({reason}) after step {step} of epoch {epoch + 1}: continue "
            f"with fit(..., initial_epoch={epoch}, initial_step={step}, "
            f"seed={self.params.get('seed')})\n"
        )
        self.stream.flush()
