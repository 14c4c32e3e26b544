"""A run's networks and images, for the commands that read a run folder (or `pretrained:NAME`):
`load_generator`, `load_discriminator`, `draw_images` (seeded batches of a generator) and
`images_to_score` (the generator and the real images `evaluate` compares it with).

Every consumer of a run's images (the grids, `sample`, the metrics, notebooks) draws them from the
trainer's `sampler` or the saved `generator.keras`: the EMA generator when the run kept one.

Example:
    >>> G = load_generator("pretrained:anime64")      # or a run folder: load_generator("outputs/run")
    >>> draw_images(G, 8, seed=1).shape               # float32 in [-1, 1]
    (8, 64, 64, 3)
"""

import numpy as np

from gan_keras.errors import UsageError
from gan_keras.runs.checkpoints import restore_networks
from gan_keras.runs.config import load_config
from gan_keras.runs.folder import run_folder


def load_generator(run_dir):
    """The generator of a run folder or of a shipped one (`"pretrained:anime64"`): `generator.keras`,
    or rebuilt from config + newest readable checkpoint (its EMA generator when the run kept one).
    A damaged `generator.keras` is skipped with a warning.
    """
    import warnings

    import keras

    import gan_keras.networks  # noqa: F401  (registers the custom layers a saved generator may hold)
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
    from gan_keras.networks.build import Build_Gen

    generator = Build_Gen(config.model, config.latent_dim, tuple(saved["image_shape"]), config.width,
                          num_classes=len(saved.get("class_names") or []))
    restore_networks(run_dir, **{"generator_ema" if config.ema else "generator": generator})
    return generator


def load_discriminator(run_dir):
    """The discriminator of a run folder (or `pretrained:NAME`), rebuilt from its config and newest
    readable checkpoint: what the projector's "discriminator" distance compares features with."""
    from gan_keras.networks.build import Build_Disc
    from gan_keras.networks.layers import with_keras_layers

    config, saved = load_config(run_dir)
    discriminator = Build_Disc(config.model, tuple(saved["image_shape"]), config.width,
                               num_classes=len(saved.get("class_names") or []))
    restore_networks(run_folder(run_dir), discriminator=discriminator)
    return with_keras_layers(discriminator)


def draw_images(generator, n, seed=0, batch_size=256, labels=None, draw_batch=None):
    """`n` images in [-1, 1] from a generator, in batches, seeded by (seed, first index); for a
    conditional generator, of `labels` (one class or one per image; default: the classes in turn).
    `draw_batch(z, labels)` draws a batch another way (truncation: `tools.sample.generate`)."""
    from gan_keras.networks.build import NOT_CONDITIONAL, class_labels, draw, num_classes
    from gan_keras.training.noise import Stream, latent_noise

    latent_dim = int(generator.inputs[0].shape[-1])
    if num_classes(generator):
        labels = class_labels(generator, n, labels)
    elif labels is not None:
        raise UsageError(NOT_CONDITIONAL)

    def batch(i):
        z = latent_noise(seed, i, min(batch_size, n - i), latent_dim, stream=Stream.SAMPLE)
        part = None if labels is None else labels[i:i + batch_size]
        return np.asarray(draw(generator, z, part) if draw_batch is None else draw_batch(z, part))

    return np.concatenate([batch(i) for i in range(0, n, batch_size)])[:n]


def images_to_score(run, data_dir=None, against_train=False, compare_with=None, excluding=None):
    """What `evaluate` compares for a run: (its RunConfig, its generator, the real images and their
    labels, the training images or None, a phrase naming the real images). The real images are those
    the run held out (`--heldout`, or beyond `--limit`) when there are some, else (or with
    `against_train`) the training ones. `compare_with` names another dataset: its own held-out images
    and training images (with its default `--heldout`), e.g. a run of `anime8k` against `anime`'s.
    `excluding` names a dataset whose images are taken out of the real ones (`not_in`): the held-out
    faces that neither of two generators trained on, when one trained on `anime8k`."""
    from gan_keras.data.load import load_images, load_labeled_images, not_in, split_for_training
    from gan_keras.runs.config import default_heldout

    config, saved = load_config(run)
    shape = saved.get("image_shape", [None, None, None])
    data_dir = data_dir or config.data_dir
    dataset, limit, heldout = config.dataset, config.limit, config.heldout
    if compare_with is not None:
        dataset, limit, heldout = compare_with, None, default_heldout(compare_with)
        if not heldout:
            raise UsageError(f"--compare-with {compare_with}: that dataset holds out no images by default")
    labels = None
    if config.conditional:
        images, labels, _ = load_labeled_images(dataset, shape[0], shape[2], data_dir)
    else:
        images = load_images(dataset, shape[0], shape[2], data_dir)
    train, held = split_for_training(images, limit, heldout)
    train_labels, held_labels = split_for_training(labels, limit, heldout)
    generator = load_generator(run)
    if not against_train and held is not None and len(held):  # the run never saw these
        compared = (f"{len(held):,} held-out images of {dataset}, drawn at random" if heldout
                    else f"held-out images (after the first {limit:,})")
        real, labels = held, held_labels
    else:
        real, labels, train, compared = train, train_labels, None, "training images"
    if excluding is not None:
        keep = not_in(real, load_images(excluding, shape[0], shape[2], data_dir))
        if not len(keep):
            raise UsageError(f"--excluding {excluding}: every one of the {compared} is in {excluding}")
        compared = f"{compared}, less the {len(real) - len(keep):,} that are in {excluding}"
        real, labels = real[keep], None if labels is None else labels[keep]
    return config, generator, real, labels, train, compared
