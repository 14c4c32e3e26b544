"""Keras callbacks of a training run that write nothing: `StopGuard` (a NaN, the time budget, a
signal; a warning when D wins outright) and `EpochTimer` (each epoch's seconds and images/s).
The callbacks that write a run folder are in `gan_keras.runs.callbacks`.
"""

import math
import signal
import threading
import time
from dataclasses import dataclass

import keras


@dataclass
class RunStatus:
    """Why training stopped early: None, "time", "signal" or "diverged" (with a detail)."""

    stop_reason: str | None = None
    detail: str = ""
    signal_received: int | None = None

    def handle_signals(self):
        """Turn SIGINT/SIGTERM into a clean stop; returns a function that restores the old handlers."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum, frame):
            self.signal_received = signum

        for s in old:
            signal.signal(s, on_signal)
        return lambda: [signal.signal(s, h) for s, h in old.items()]


class StopGuard(keras.callbacks.Callback):
    """Stops training on a NaN/Inf loss, a spent time budget or SIGINT/SIGTERM; warns when D wins.

    Args:
        status: the run's `RunStatus`, where the reason is recorded.
        deadline: `time.monotonic()` value after which training stops, or None.
        d_wins_epochs: warn after this many epochs with D's accuracy on generated images >= 0.99.
    """

    def __init__(self, status, deadline=None, d_wins_epochs=5):
        super().__init__()
        self.status, self.deadline, self.d_wins_epochs = status, deadline, d_wins_epochs
        self._d_wins = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _stop(self, reason, detail=""):
        self.status.stop_reason, self.status.detail = reason, detail
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = [k for k in ("d_loss", "g_loss") if k in logs and not math.isfinite(float(logs[k]))]
        if bad:
            self._stop("diverged", f"{bad[0]} became {float(logs[bad[0]])} in epoch {self._epoch + 1}, "
                                   f"step {batch + 1}")
        elif self.status.signal_received is not None:
            self._stop("signal", signal.Signals(self.status.signal_received).name)
        elif self.deadline is not None and time.monotonic() > self.deadline:
            self._stop("time")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if logs.get("d_acc_fake", 0.0) >= 0.99:
            self._d_wins += 1
            if self._d_wins == self.d_wins_epochs:
                print(f"warning: the discriminator has won outright for {self._d_wins} epochs "
                      f"(accuracy on generated images {logs['d_acc_fake']:.2f}, G loss {logs.get('g_loss', 0):.2f}): "
                      "G is learning little; try label smoothing (--real-label 0.9), label noise, or a lower D "
                      "learning rate", flush=True)
        else:
            self._d_wins = 0


class EpochTimer(keras.callbacks.Callback):
    """Adds `seconds`, `images_per_s` and `steps` of the epoch to its logs, and with a `clock`,
    `record_s`: the seconds spent recording since the previous epoch's steps ended (that epoch's
    metrics, grid, plot and checkpoint, and this epoch's mid-epoch checkpoints). `step_seconds` and
    `steps_done` sum the epochs."""

    def __init__(self, batch_size, clock=None):
        super().__init__()
        self.batch_size, self.clock = batch_size, clock
        self.step_seconds, self.steps_done = 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            seconds = time.perf_counter() - self._start
            self.step_seconds += seconds
            self.steps_done += self._steps
            logs.update(seconds=seconds, steps=self._steps, images_per_s=self._steps * self.batch_size / seconds)
            if self.clock is not None:
                logs["record_s"] = self.clock.take_unreported()
