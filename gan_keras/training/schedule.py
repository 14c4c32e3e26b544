"""Settings that change over a run: the learning rate, Adam's beta_2, the rpgan loss's gamma, the
moving average's decay and the augmentation probability, each from its value at the start to its end
value, held until `--lr-decay-start` (a fraction of the run) and then linearly or along a cosine
(`--schedule`). R3GAN's recipe: the rate 2e-4 -> 5e-5, beta_2 0.9 -> 0.99, gamma 2 -> 0.2, a longer
average and augmentation 0 -> 0.3, on a cosine from the start. On an H200, continuing
`pretrained:anime64` at a constant 5e-5 drew faces further from its training faces the longer it
ran, while a rate falling to a tenth over the run kept them where they were
(docs/benchmarks/2026-12-04-h200-batch-and-falling-rate.md).

Example:
    >>> scheduled(2e-4, 2e-5, 0.25, begin=0.5)            # held for the first half
    0.0002
    >>> round(scheduled(2e-4, 2e-5, 0.75, begin=0.5), 7)  # halfway down, linearly
    0.00011
    >>> round(scheduled(2.0, 0.2, 0.5, shape="cosine"), 4), round(scheduled(2.0, 0.2, 1.0, shape="cosine"), 4)
    (1.1, 0.2)
"""

import math
import time

import keras

from gan_keras import backend
from gan_keras.registry import declare

declare("schedule", "linear", help="a straight line from the start value to the end value")
declare("schedule", "cosine", help="half a cosine: slow at first and at the end (R3GAN's)")


def scheduled(start, end, fraction, begin=0.0, shape="linear"):
    """The value at `fraction` (0 to 1) of a run: `start` until `begin`, then to `end` by the run's end,
    linearly or along half a cosine."""
    if fraction <= begin:
        return start
    progress = min(1.0, (fraction - begin) / max(1e-9, 1.0 - begin))
    weight = progress if shape == "linear" else (1.0 - math.cos(math.pi * progress)) / 2.0
    return start + (end - start) * weight


class Scheduled:
    """A float the compiled step reads and a schedule sets: a variable kept outside the checkpoint
    (a plain object is not tracked), since the schedule sets it again at every epoch's start."""

    def __init__(self, value, name):
        self.variable = backend.state_variable(value, name)

    def assign(self, value):
        self.variable.assign(float(value))


def schedules_of(config, trainer):
    """{history column: (start, end, setter)} of what `config` schedules on `trainer`: each setting
    whose end value is set (the rate whenever --lr-decay-start < 1)."""
    found = {}
    optimizers = [trainer.d_optimizer, trainer.g_optimizer]
    if config.lr_decay_start < 1:
        def set_lr(value):
            for optimizer in optimizers:
                optimizer.learning_rate = value
        found["lr"] = (config.lr, config.lr * config.lr_end, set_lr)
    if config.beta_2_end is not None:
        holders = [optimizer.scheduled_beta_2() for optimizer in optimizers]
        found["beta_2"] = (config.beta_2, config.beta_2_end, lambda v: [h.assign(v) for h in holders])
    if config.gamma_end is not None:
        penalty = trainer.gan_loss.penalty
        found["gamma"] = (config.gamma, config.gamma_end, lambda v: penalty.gamma.assign(v))
    if config.ema_end is not None:
        found["ema"] = (config.ema, config.ema_end, lambda v: trainer.ema.decay.assign(v))
    if config.augment_p_end is not None:
        found["augment_p"] = (0.0, config.augment_p_end, lambda v: trainer.augmenter.p.assign(v))
    return found


class RunSchedule(keras.callbacks.Callback):
    """Sets each scheduled setting at each epoch's start by `scheduled`. The run's length is its
    `epochs` (counted from 0: a resumed run continues the schedule), or else its time budget
    (`deadline` on `clock`, counted from `started`): a run resumed by time starts where the last one
    stopped (`done`, the fraction of the schedules it had reached) and spreads what is left over its
    own budget; one that had finished holds the end values. Adds each value, and the fraction reached
    at the epoch's end (`progress`), to the epoch's logs (`columns`).

    Example:
        >>> rate = {"lr": (2e-4, 2e-5, print)}
        >>> clock = iter([0.0, 30.0]).__next__
        >>> halfway = RunSchedule(rate, begin=0.0, started=0.0, deadline=60.0, done=0.5, clock=clock)
        >>> halfway.on_epoch_begin(0)  # half the schedule was done before this resume
        0.00011
        >>> round(halfway.fraction(1), 2)  # half of the rest since
        0.75
    """

    def __init__(self, schedules, begin, shape="linear", epochs=None, started=None, deadline=None,
                 clock=time.monotonic, done=0.0):
        super().__init__()
        self.schedules, self.begin, self.shape = dict(schedules), float(begin), shape
        self.epochs, self.started, self.deadline, self.clock = epochs, started, deadline, clock
        self.done = min(1.0, max(0.0, float(done)))
        self.columns = (*self.schedules, "progress")
        self.values = {name: start for name, (start, _, _) in self.schedules.items()}

    def fraction(self, epoch):
        """How far through its schedules the run is at the start of `epoch` (0 to 1)."""
        if self.deadline is not None:
            spent = (self.clock() - self.started) / max(1e-9, self.deadline - self.started)
            return min(1.0, self.done + (1.0 - self.done) * spent)
        return min(1.0, epoch / max(1, self.epochs))

    def on_epoch_begin(self, epoch, logs=None):
        fraction = self.fraction(epoch)
        for name, (start, end, setter) in self.schedules.items():
            self.values[name] = scheduled(start, end, fraction, self.begin, self.shape)
            setter(self.values[name])

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.values, progress=self.fraction(epoch + 1))


def progress_of(history):
    """The fraction of its schedules a run had reached by its last row of history (`read_history`'s
    columns; 0 where none was recorded)."""
    recorded = [value for value in history.get("progress", []) if value == value]
    return recorded[-1] if recorded else 0.0
