"""Transfer learning: start a run from another run's networks (`--init-from`, a run folder or
`pretrained:NAME`), and FreezeD (`--freeze-d N`, Mo et al. 2020).

Example:
    >>> from gan_keras.training.config import RunConfig
    >>> from gan_keras.training.distribute import make_strategy
    >>> from gan_keras.runs.train import build_trainer
    >>> config = RunConfig(dataset="anime", model="dcgan", width=16, ema=0.999, augment="diffaug", share_fakes=True,
    ...                    mixed_precision="off")
    >>> trainer = build_trainer(config, (64, 64, 3), make_strategy("default", verbose=False))
    >>> initialize_from(trainer, "pretrained:anime64")   # G, D and the EMA G from the shipped run
    >>> freeze_lower_layers(trainer.discriminator, 2)      # D's two lowest blocks stay as they are
"""

from gan_keras.errors import UsageError


def initialize_from(trainer, run_dir):
    """Copy G's and D's weights (and G's moving average, where both runs keep one) from another run's
    last checkpoint, or a shipped one's (`pretrained:NAME`); optimizer state is not copied."""
    from gan_keras.runs.checkpoints import restore_networks
    from gan_keras.runs.folder import run_folder

    try:
        restore_networks(run_folder(run_dir), generator=trainer.generator, discriminator=trainer.discriminator)
    except UsageError as e:
        raise UsageError(f"--init-from {run_dir}: {e}") from None
    if getattr(trainer, "ema", None):  # the average starts from the source's average, else from its G
        try:
            restore_networks(run_folder(run_dir), generator_ema=trainer.ema.average)
        except UsageError:  # the source kept no average (or only the average, which G already holds)
            trainer.ema.average.set_weights(trainer.generator.get_weights())


def freeze_lower_layers(discriminator, blocks):
    """FreezeD: make D's lowest `blocks` convolution blocks untrainable.

    A block is a Conv2D (or Dense) with the layers that follow it up to the next one.
    """
    import keras

    weighted = [i for i, layer in enumerate(discriminator.layers)
                if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    if blocks >= len(weighted):
        raise UsageError(f"freeze-d {blocks}: D has only {len(weighted)} weighted layers")
    for layer in discriminator.layers[:weighted[blocks]]:
        layer.trainable = False
