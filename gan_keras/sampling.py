"""Images from a trained generator: `load_generator` (a run folder) and `generate` (seeded batches).

Every consumer of a run's images (the grids, `sample`, the metrics, notebooks) draws them here,
from the trainer's `sampler` or the saved `generator.keras`: the EMA generator when the run kept one.

Example:
    >>> G = load_generator("outputs/anime")
    >>> faces = generate(G, 64, seed=1)      # float32 in [-1, 1], (64, 64, 64, 3)
    >>> sevens = generate(load_generator("outputs/cmnist"), 64, labels=7)   # a conditional run
"""

import numpy as np

from gan_keras.config import load_config
from gan_keras.errors import UsageError

NOT_CONDITIONAL = "this run is not class-conditional (trained without --conditional): it has no classes"


def load_generator(run_dir):
    """The generator of a run folder or of a shipped one (`"pretrained:anime64"`): `generator.keras`,
    or rebuilt from config + newest readable checkpoint (its EMA generator when the run kept one).
    A damaged `generator.keras` is skipped with a warning.
    """
    import warnings

    import keras

    import gan_keras.networks  # noqa: F401  (registers the custom layers a saved generator may hold)
    from gan_keras.pretrained import run_folder

    run_dir = run_folder(run_dir)
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
    from gan_keras.checkpoints import restore_networks
    from gan_keras.models import Build_Gen

    generator = Build_Gen(config.model, config.latent_dim, tuple(saved["image_shape"]), config.width,
                          num_classes=len(saved.get("class_names") or []))
    restore_networks(run_dir, **{"generator_ema" if config.ema else "generator": generator})
    return generator


def load_discriminator(run_dir):
    """The discriminator of a run folder (or `pretrained:NAME`), rebuilt from its config and newest
    readable checkpoint: what the projector's "discriminator" distance compares features with."""
    from gan_keras.checkpoints import restore_networks
    from gan_keras.models import Build_Disc
    from gan_keras.networks import with_keras_layers
    from gan_keras.pretrained import run_folder

    config, saved = load_config(run_dir)
    discriminator = Build_Disc(config.model, tuple(saved["image_shape"]), config.width,
                               num_classes=len(saved.get("class_names") or []))
    restore_networks(run_folder(run_dir), discriminator=discriminator)
    return with_keras_layers(discriminator)


def class_labels(generator, n, labels=None):
    """The `n` labels a conditional generator draws: `labels` (one class, or one per image), else
    the classes in turn (0, 1, ..., 0, 1, ...). One UsageError line for a class the run lacks."""
    from gan_keras.models import num_classes

    classes = num_classes(generator)
    if labels is None:
        return np.arange(n, dtype=np.int32) % classes
    labels = np.broadcast_to(np.asarray(labels, np.int32), (n,)).copy()
    bad = labels[(labels < 0) | (labels >= classes)]
    if len(bad):
        raise UsageError(f"class {bad[0]} is outside this run's classes 0-{classes - 1}")
    return labels


def draw(generator, z, labels=None):
    """A generator's images for the noise `z` (and, when conditional, `labels`), in inference mode.

    The one place that knows a conditional generator takes [z, label]; `labels` of an
    unconditional one is a UsageError.
    """
    import tensorflow as tf

    from gan_keras.models import num_classes

    if not num_classes(generator):
        if labels is not None:
            raise UsageError(NOT_CONDITIONAL)
        return generator(z, training=False)
    labels = class_labels(generator, len(z), labels)
    return generator([tf.convert_to_tensor(z), tf.constant(labels)], training=False)


def generate(generator, n, seed=0, batch_size=256, labels=None, truncation=None):
    """`n` images in [-1, 1] from a generator, in batches, seeded; for a conditional generator, of
    `labels` (one class or one per image; default: the classes in turn, see `class_labels`).

    `truncation` psi (style-based generators): each w pulled towards the mean w by psi
    (`latent.truncate`); 1 or None: untouched.
    """
    from gan_keras import latent
    from gan_keras.models import num_classes
    from gan_keras.noise import Stream, latent_noise

    latent_dim = int(generator.inputs[0].shape[-1])
    if num_classes(generator):
        labels = class_labels(generator, n, labels)
    elif labels is not None:
        raise UsageError(NOT_CONDITIONAL)
    if truncation is not None and truncation != 1:
        if not latent.is_style_based(generator):
            raise UsageError("--truncation needs a style-based generator (a --model stylegan run)")
        if not 0 <= truncation <= 1:
            raise UsageError(f"--truncation is a fraction in [0, 1], got {truncation}")
        classes = np.unique(labels) if labels is not None else [None]
        centres = {c: latent.mean_w(generator, labels=c) for c in classes}  # per class for a conditional one

    def batch(i):
        z = latent_noise(seed, i, min(batch_size, n - i), latent_dim, stream=Stream.SAMPLE)
        part = None if labels is None else labels[i:i + batch_size]
        if truncation is None or truncation == 1:
            return np.asarray(draw(generator, z, part))
        w = latent.to_w(generator, z, part)
        w_avg = np.stack([centres[c] for c in part]) if part is not None else centres[None]
        return latent.synthesize(generator, latent.truncate(w, w_avg, truncation))

    return np.concatenate([batch(i) for i in range(0, n, batch_size)])[:n]


def class_grid_inputs(noise, classes, columns=10, max_rows=10):
    """Noise and labels of a class grid: one row per class (the first `max_rows`), the same
    `columns` noise vectors in every row, so a column is one "style" drawn as every class."""
    rows = min(classes, max_rows)
    z = np.tile(np.asarray(noise[:columns], np.float32), (rows, 1))
    return z, np.repeat(np.arange(rows, dtype=np.int32), columns)
