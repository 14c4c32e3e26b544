"""What a trainer is to a run: the interface `run.train` uses, which `gan.GAN` and
`classic.ClassicGAN` both satisfy (a `typing.Protocol`: no base class to inherit).

Trainers are declared to `gan_keras.registry` (kind "trainer"); `run.train` builds the one a run
names with `for_run` and then only calls what is declared here, so a new trainer is its own module
plus its test.

Example:
    >>> from gan_keras.training.config import RunConfig
    >>> from gan_keras.training.distribute import make_strategy
    >>> from gan_keras.runs.train import build_trainer  # registry.get("trainer", name).for_run(...)
    >>> config = RunConfig(model="mlp", ema=0.0, augment="none", share_fakes=False, mixed_precision="off")
    >>> trainer = build_trainer(config, (28, 28, 1), make_strategy("default", verbose=False))
    >>> isinstance(trainer, Trainer)
    True
"""

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Trainer(Protocol):
    """A GAN trainer as a run folder sees it."""

    generator: Any
    discriminator: Any
    fit_options: dict  # extra keyword arguments for `fit`

    @classmethod
    def for_run(cls, generator, discriminator, d_optimizer, g_optimizer, config, strategy):
        """The trainer for a `RunConfig`'s settings (a UsageError line for ones it cannot take)."""

    @property
    def sampler(self):
        """The generator that draws every image outside training (the EMA generator where there is one)."""

    @property
    def d_optimizer(self): ...

    @property
    def g_optimizer(self): ...

    def checkpoint_items(self) -> dict:
        """What a checkpoint must hold to resume this trainer exactly."""

    def log_columns(self) -> tuple:
        """The history columns it logs beyond d_loss, g_loss, d_acc_real, d_acc_fake."""

    def training_batches(self, images, labels, image_shape, global_batch, seed, consumed):
        """An endless iterable of training batches that starts after the `consumed` images."""

    def fit(self, data, epochs=1, steps_per_epoch=None, initial_epoch=0, callbacks=None, verbose=1, **kwargs):
        """Train with Keras callbacks, as `keras.Model.fit`."""
