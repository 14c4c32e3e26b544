"""Images from a trained generator: `load_generator` (a run folder) and `generate` (seeded batches).

Every consumer of a run's images (the grids, `sample`, the metrics, notebooks) draws them here,
from the trainer's `sampler` or the saved `generator.keras`: the EMA generator when the run kept one.

Example:
    >>> G = load_generator("outputs/anime")
    >>> faces = generate(G, 64, seed=1)      # float32 in [-1, 1], (64, 64, 64, 3)
"""

from pathlib import Path

import numpy as np

from gan_keras.config import load_config
from gan_keras.errors import UsageError


def load_generator(run_dir):
    """The generator of a run: `generator.keras`, or rebuilt from config + newest readable checkpoint
    (its EMA generator when the run kept one). A damaged `generator.keras` is skipped with a warning.
    """
    import warnings

    import keras

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist")
    saved_model = run_dir / "generator.keras"
    if saved_model.is_file():
        try:
            return keras.saving.load_model(saved_model, compile=False)
        except Exception as e:  # a cut-short zip raises ValueError, BadZipFile, OSError, EOFError ...
            warnings.warn(f"{saved_model} is damaged ({type(e).__name__}); rebuilding the generator from "
                          "the checkpoints", stacklevel=2)
    config, saved = load_config(run_dir)
    import tensorflow as tf

    from gan_keras.checkpoints import restore_newest
    from gan_keras.models import Build_Gen

    generator = Build_Gen(config.model, config.latent_dim, tuple(saved["image_shape"]), config.width)
    restore_newest(tf.train.Checkpoint(**{"generator_ema" if config.ema else "generator": generator}),
                   run_dir / "checkpoints")
    return generator


def generate(generator, n, seed=0, batch_size=256):
    """`n` images in [-1, 1] from a generator, in batches, seeded."""
    from gan_keras.noise import latent_noise

    latent_dim = int(generator.inputs[0].shape[-1])
    parts = [np.asarray(generator(latent_noise(seed, i, min(batch_size, n - i), latent_dim, stream=2000),
                                  training=False)) for i in range(0, n, batch_size)]
    return np.concatenate(parts)[:n]
