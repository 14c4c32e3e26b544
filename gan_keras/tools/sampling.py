"""Images from a trained generator: `load_generator` (a run folder) and `generate` (seeded batches).

Every consumer of a run's images (the grids, `sample`, the metrics, notebooks) draws them here,
from the trainer's `sampler` or the saved `generator.keras`: the EMA generator when the run kept one.

Example:
    >>> G = load_generator("pretrained:anime64")      # or a run folder: load_generator("outputs/run")
    >>> generate(G, 64, seed=1).shape                # float32 in [-1, 1]
    (64, 64, 64, 3)
    >>> sevens = generate(load_generator("pretrained:mnist_conditional"), 16, labels=7)   # a conditional run
"""

import numpy as np

from gan_keras.errors import UsageError
from gan_keras.training.config import load_config


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
    from gan_keras.networks.build import Build_Gen
    from gan_keras.training.checkpoints import restore_networks

    generator = Build_Gen(config.model, config.latent_dim, tuple(saved["image_shape"]), config.width,
                          num_classes=len(saved.get("class_names") or []))
    restore_networks(run_dir, **{"generator_ema" if config.ema else "generator": generator})
    return generator


def load_discriminator(run_dir):
    """The discriminator of a run folder (or `pretrained:NAME`), rebuilt from its config and newest
    readable checkpoint: what the projector's "discriminator" distance compares features with."""
    from gan_keras.networks.build import Build_Disc
    from gan_keras.networks.layers import with_keras_layers
    from gan_keras.pretrained import run_folder
    from gan_keras.training.checkpoints import restore_networks

    config, saved = load_config(run_dir)
    discriminator = Build_Disc(config.model, tuple(saved["image_shape"]), config.width,
                               num_classes=len(saved.get("class_names") or []))
    restore_networks(run_folder(run_dir), discriminator=discriminator)
    return with_keras_layers(discriminator)


def generate(generator, n, seed=0, batch_size=256, labels=None, truncation=None):
    """`n` images in [-1, 1] from a generator, in batches, seeded; for a conditional generator, of
    `labels` (one class or one per image; default: the classes in turn, see `class_labels`).

    `truncation` psi (style-based generators): each w pulled towards the mean w by psi
    (`latent.truncate`); 1 or None: untouched.
    """
    from gan_keras.networks.build import (
        NOT_CONDITIONAL,
        class_labels,
        draw,
        num_classes,
    )
    from gan_keras.tools import latent
    from gan_keras.training.noise import Stream, latent_noise

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


# ---------------------------------------------------------------------------------------------
# The `sample` command: images of a run, written to a file


def check_class(generator, label):
    """The generator's number of classes; one UsageError line for a class asked of a run without classes."""
    from gan_keras.networks.build import NOT_CONDITIONAL, num_classes

    if label is not None and not num_classes(generator):
        raise UsageError(f"--class: {NOT_CONDITIONAL}")
    return num_classes(generator)


def save_images_npz(out, images, **extra):
    """uint8 images as `sample` writes them (grayscale without its channel axis), beside `extra` arrays."""
    from gan_keras.images import to_uint8

    array = to_uint8(images)
    np.savez_compressed(out, images=array[..., 0] if array.shape[-1] == 1 else array, **extra)


def check_image_out(out):
    """`out` as a Path ending in .png or .npz in a folder that exists; one UsageError line otherwise."""
    from pathlib import Path

    out = Path(out)
    if out.suffix not in (".png", ".npz"):
        raise UsageError(f"--out must end in .png or .npz, got {out.name}")
    if not out.parent.is_dir():
        raise UsageError(f"folder {out.parent} does not exist")
    return out


def run_sampling(run, out, n=64, label=None, truncation=None, seed=0):
    """Write `n` images of a run's generator to `out`: a .png grid (a conditional run's classes in
    turn, one column each) or an .npz (`images` uint8, and `labels` for a conditional run).

    Example:
        >>> run_sampling("pretrained:anime64", "outputs/faces.png", n=16)
        PosixPath('outputs/faces.png')
    """
    from gan_keras.files import save_png
    from gan_keras.images import image_grid
    from gan_keras.networks.build import class_labels

    out = check_image_out(out)
    if n < 1:
        raise UsageError(f"--n must be positive, got {n}")
    generator = load_generator(run)
    classes = check_class(generator, label)
    labels = class_labels(generator, n, label) if classes else None
    images = generate(generator, n, seed=seed, labels=labels, truncation=truncation)
    if out.suffix == ".npz":
        save_images_npz(out, images, **({} if labels is None else {"labels": labels}))
    else:
        save_png(image_grid(images, cols=classes if classes and label is None and classes <= 16 else None), out)
    return out
