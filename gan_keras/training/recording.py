"""What a run writes along the way, kept to a bounded share of its wall clock.

Each kind of record (grids, the GIF, the loss figure, checkpoints, metrics) is written on its epoch
cadence only while its own seconds so far, plus what it last cost, stay within its share of the time
since training began; the first and the last epoch are always recorded. So the cost per epoch does not
grow with the run, and a fast device (short epochs) records every few epochs instead of every one.
"""

import contextlib
import math
import time
from collections import defaultdict

import keras

from gan_keras.training.config import RunConfig

# The most of the wall clock each kind of record may take (measured costs in
# docs/benchmarks/2026-12-04-run-clock-and-width.md); the metrics' share is `train --eval-share`.
RECORD_SHARES = {"grids": 0.015, "gif": 0.005, "losses.png": 0.005, "checkpoints": 0.015, "tensorboard": 0.005,
                 "metrics": RunConfig.eval_share}


class RecordingClock:
    """Seconds spent recording, per kind, and the rule that keeps each kind within its share.

    Example:
        >>> now = [0.0]
        >>> clock = RecordingClock(now=lambda: now[0])   # a stand-in clock; time.monotonic by default
        >>> with clock.timing("grids"):
        ...     now[0] += 0.3                            # a grid that took 0.3 s
        >>> now[0] = 10.0
        >>> clock.due("grids")                           # another would make 0.6 s of 10: over the 1.5%
        False
        >>> now[0] = 50.0
        >>> clock.due("grids")
        True
    """

    def __init__(self, shares=None, now=time.monotonic):
        self.shares, self.now = {**RECORD_SHARES, **(shares or {})}, now
        self.started = now()
        self.spent = defaultdict(float)
        self.last_cost = {}
        self._unreported = 0.0
        self._inner = []  # seconds of the blocks timed inside the ones running now

    def due(self, kind):
        """Whether a record of `kind` fits its share of the wall clock since training began."""
        if kind not in self.last_cost:
            return True
        elapsed = self.now() - self.started
        return self.spent[kind] + self.last_cost[kind] <= self.shares[kind] * elapsed

    @contextlib.contextmanager
    def timing(self, kind):
        """Count the seconds of the block as `kind`'s; a block timed inside another (the GIF inside the
        grids) counts as its own kind only."""
        start = self.now()
        self._inner.append(0.0)
        try:
            yield
        finally:
            took = self.now() - start
            cost = took - self._inner.pop()
            if self._inner:
                self._inner[-1] += took
            self.spent[kind] += cost
            self.last_cost[kind] = cost
            self._unreported += cost

    def take_unreported(self):
        """Recording seconds since the last call (a history row's `record_s`)."""
        seconds, self._unreported = self._unreported, 0.0
        return seconds

    @property
    def total(self):
        return sum(self.spent.values())

    def summary(self):
        """'grids 3.1 s, checkpoints 2.0 s, ...' (largest first)."""
        return ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in
                         sorted(self.spent.items(), key=lambda item: -item[1]))


class Recorder(keras.callbacks.Callback):
    """A callback that writes something every `every` epochs, within its kind's share of the clock.

    Subclasses set `kind` and define `record(epoch, logs)` (epoch 1-based). The first epoch this process
    trains and the last one are always recorded; a diverged run records nothing more.
    """

    kind = ""

    def __init__(self, every=1, clock=None, status=None):
        super().__init__()
        self.every, self.status = every, status
        self.clock = clock if clock is not None else RecordingClock()

    def is_final(self, epoch):
        return self.model.stop_training or epoch + 1 >= (self.params or {}).get("epochs", math.inf)

    def on_epoch_end(self, epoch, logs=None):
        if self.status is not None and self.status.stop_reason == "diverged":
            return
        final = self.is_final(epoch)
        if final or ((epoch + 1) % self.every == 0 and self.clock.due(self.kind)):
            with self.clock.timing(self.kind):
                self.record(epoch + 1, logs if logs is not None else {})

    def record(self, epoch, logs):
        raise NotImplementedError
