"""The learning rate over a run: held, then falling linearly to a fraction of itself by the end
(`train --lr-decay-start F --lr-end E`). On an H200, continuing `pretrained:anime64` at a constant
5e-5 drew faces further from its training faces the longer it ran, while a rate falling to a tenth
over the run kept them where they were (docs/benchmarks/2026-12-04-h200-batch-and-falling-rate.md).

Example:
    >>> decayed_rate(2e-4, 0.25, start=0.5, end=0.1)   # held for the first half
    0.0002
    >>> round(decayed_rate(2e-4, 0.75, start=0.5, end=0.1), 7)   # halfway down to 2e-5
    0.00011
"""

import time

import keras


def decayed_rate(lr, fraction, start=1.0, end=0.1):
    """The rate at `fraction` (0 to 1) of a run: `lr` until `start`, then linearly down to `end * lr`."""
    if fraction <= start:
        return lr
    progress = min(1.0, (fraction - start) / max(1e-9, 1.0 - start))
    return lr * (1.0 - progress * (1.0 - end))


class LinearDecay(keras.callbacks.Callback):
    """Sets the rate of `optimizers` at each epoch's start by `decayed_rate`, the run's length being its
    time budget (`deadline` on `clock`, counted from `started`: a resumed run
    decays over its own budget) or else its `epochs` (counted from 0: a resumed run continues the
    schedule). Adds `lr` to each epoch's logs."""

    columns = ("lr",)

    def __init__(self, optimizers, lr, start, end, epochs=None, started=None, deadline=None, clock=time.monotonic):
        super().__init__()
        self.optimizers, self.lr, self.start, self.end = list(optimizers), float(lr), float(start), float(end)
        self.epochs, self.started, self.deadline, self.clock = epochs, started, deadline, clock
        self.rate = self.lr

    def fraction(self, epoch):
        if self.deadline is not None:
            return (self.clock() - self.started) / max(1e-9, self.deadline - self.started)
        return epoch / max(1, self.epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.rate = decayed_rate(self.lr, self.fraction(epoch), self.start, self.end)
        for optimizer in self.optimizers:
            optimizer.learning_rate = self.rate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self.rate
