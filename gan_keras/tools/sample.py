"""The `sample` command (`run_sampling`) and its method `generate`: seeded images of a generator,
with truncation for a style-based one. The generator comes from `gan_keras.runs.loading`.

Example:
    >>> G = load_generator("pretrained:anime64")      # or a run folder: load_generator("outputs/run")
    >>> generate(G, 64, seed=1).shape                # float32 in [-1, 1]
    (64, 64, 64, 3)
    >>> sevens = generate(load_generator("pretrained:mnist_conditional"), 16, labels=7)   # a conditional run
"""

import numpy as np

from gan_keras.errors import UsageError
from gan_keras.runs.loading import draw_images, load_generator


def generate(generator, n, seed=0, batch_size=256, labels=None, truncation=None):
    """`n` images in [-1, 1] from a generator, in batches, seeded; for a conditional generator, of
    `labels` (one class or one per image; default: the classes in turn, see `class_labels`).

    `truncation` psi (style-based generators): each w pulled towards the mean w by psi
    (`latent.truncate`); 1 or None: untouched, the images `runs.loading.draw_images` draws.
    """
    from gan_keras.networks.build import NOT_CONDITIONAL, class_labels, num_classes
    from gan_keras.tools import latent

    if truncation is None or truncation == 1:
        return draw_images(generator, n, seed, batch_size, labels)
    if num_classes(generator):
        labels = class_labels(generator, n, labels)
    elif labels is not None:
        raise UsageError(NOT_CONDITIONAL)
    if not latent.is_style_based(generator):
        raise UsageError("--truncation needs a style-based generator (a --model stylegan run)")
    if not 0 <= truncation <= 1:
        raise UsageError(f"--truncation is a fraction in [0, 1], got {truncation}")
    classes = np.unique(labels) if labels is not None else [None]
    centres = {c: latent.mean_w(generator, labels=c) for c in classes}  # per class for a conditional one

    def batch(z, part):
        w = latent.to_w(generator, z, part)
        w_avg = np.stack([centres[c] for c in part]) if part is not None else centres[None]
        return latent.synthesize(generator, latent.truncate(w, w_avg, truncation))

    return draw_images(generator, n, seed, batch_size, labels, draw_batch=batch)


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


def run_sampling(run, out, n=64, label=None, truncation=None, seed=0, beside_real=False):
    """Write `n` images of a run's generator to `out`: a .png grid (a conditional run's classes in
    turn, one column each) or an .npz (`images` uint8, and `labels` for a conditional run). With
    `beside_real`, the .png shows them beside `n` real images drawn at random from those `evaluate`
    compares with (the run's held-out ones, else its training ones).

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
    if beside_real and out.suffix != ".png":
        raise UsageError("--beside-real draws a figure: give --out a .png")
    if beside_real:  # the generator and the real images it is shown beside, read once
        from gan_keras.runs.loading import images_to_score

        _, generator, real, _, _, compared = images_to_score(run)
    else:
        generator = load_generator(run)
    classes = check_class(generator, label)
    labels = class_labels(generator, n, label) if classes else None
    images = generate(generator, n, seed=seed, labels=labels, truncation=truncation)
    if out.suffix == ".npz":
        save_images_npz(out, images, **({} if labels is None else {"labels": labels}))
    elif beside_real:
        chosen = np.random.default_rng(seed).choice(len(real), min(n, len(real)), replace=False)
        beside_real_figure(images, real[np.sort(chosen)] / 127.5 - 1.0, out,
                           (f"{n} samples of {run}", f"{len(chosen)} real: {compared}"))
    else:
        save_png(image_grid(images, cols=classes if classes and label is None and classes <= 16 else None), out)
    return out


def beside_real_figure(generated, real, path, titles=("generated", "real")):
    """A PNG at `path`: a grid of `generated` images (in [-1, 1]) beside a grid of `real` ones, titled."""
    from matplotlib.figure import Figure  # no pyplot: the notebook's backend stays as it is

    from gan_keras.images import image_grid

    grids = [image_grid(images) for images in (generated, real)]
    height, width = grids[0].shape[:2]
    fig = Figure(figsize=(2 * width / 60 + 0.4, height / 60 + 0.6))
    for ax, grid, title in zip(fig.subplots(1, 2), grids, titles):
        ax.imshow(grid.squeeze(), cmap="gray" if grid.shape[-1] == 1 else None, vmin=0, vmax=255)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
