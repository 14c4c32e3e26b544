"""Edits: latents moved along a direction (`gan_keras.tools.directions`) and drawn, how much a
direction changes the images against random ones, and the two commands built on them:
`run_directions` (find directions, write a grid per direction) and `run_edit` (move given latents).

Example:
    >>> from gan_keras.tools.directions import sefa
    >>> from gan_keras.tools.latent import random_latents
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:anime64")
    >>> edit(G, random_latents(G, 4), sefa(G), index=0, amounts=[-3, 0, 3]).shape   # 4 latents x 3 amounts
    (12, 64, 64, 3)
"""

from pathlib import Path

import numpy as np

from gan_keras.errors import UsageError


def edit_latents(latents, space, vector, std, amounts, layers=None, num_ws=None):
    """Each latent moved by each amount (in standard deviations) along unit `vector`: (N * A, ...)
    latent-major. With `layers` (style input indices or a group name) the move applies to those
    layers of w+ only, and the result is in w+ (w is broadcast first)."""
    from gan_keras.tools import latent as lat

    latents = np.asarray(latents, np.float32)
    amounts = np.asarray(amounts, np.float32)
    step = np.asarray(vector, np.float32) * np.float32(std)
    if layers is None:
        moved = latents[:, None] + amounts.reshape(1, -1, *([1] * (latents.ndim - 1))) * (
            step if latents.ndim == 2 else step[None])
        return moved.reshape(-1, *latents.shape[1:]), space
    if space == "z":
        raise UsageError("--layers needs a style-based generator: z feeds every layer at once")
    ws = lat.broadcast(latents, num_ws) if latents.ndim == 2 else latents
    if isinstance(layers, str):
        layers = lat.style_groups(num_ws)[layers]
    mask = np.zeros((num_ws, 1), np.float32)
    mask[list(layers)] = 1.0
    moved = ws[:, None] + amounts.reshape(1, -1, 1, 1) * (mask * step)[None, None]
    return moved.reshape(-1, num_ws, ws.shape[-1]), "w+"


def edit(generator, latents, found, index, amounts, space=None, labels=None, layers=None):
    """Images of `latents` (in `space`, default the directions') moved along direction `index`:
    (N * len(amounts), H, W, C), latent-major. Amount 0 draws each latent's own image exactly."""
    from gan_keras.tools import latent

    space = space or found.space
    base = "w" if space == "w+" else space
    if base != found.space:
        raise UsageError(f"these directions are in {found.space}, the latents in {space}")
    moved, moved_space = edit_latents(latents, space, found.vectors[index], found.std[index], amounts, layers,
                                      latent.num_ws(generator) if latent.is_style_based(generator) else None)
    moved_labels = None if labels is None else np.repeat(np.asarray(labels), len(amounts))
    return latent.render(generator, moved, moved_space, moved_labels if moved_space == "z" else None)


# ---------------------------------------------------------------------------------------------
# Do they mean something? (measured, not assumed)


def effect_sizes(generator, found, n=64, seed=0, amount=1.0, labels=None):
    """Per direction: the mean absolute pixel change of a step of `amount` standard deviations, divided
    by that of random unit directions moved the same distance (1: no better than chance)."""
    from gan_keras.tools import latent

    latents = latent.random_latents(generator, n, seed=seed, space=found.space, labels=labels)
    base = latent.render(generator, latents, found.space, labels)
    rng = np.random.default_rng(seed)
    ratios, changes = [], []
    for vector, std in zip(found.vectors, found.std):
        moved = latent.render(generator, latents + amount * std * vector, found.space, labels)
        change = float(np.mean(np.abs(moved - base)))
        random_change = []
        for _ in range(3):
            r = rng.standard_normal(vector.shape).astype(np.float32)
            r /= np.linalg.norm(r)
            shifted = latent.render(generator, latents + amount * std * r, found.space, labels)
            random_change.append(float(np.mean(np.abs(shifted - base))))
        changes.append(change)
        ratios.append(change / max(np.mean(random_change), 1e-12))
    return np.array(changes), np.array(ratios)


def edits_keep_identity(original, tuned, pivots, targets, found, amount=2.0, labels=None, space=None, n=64, seed=0):
    """How edits of projected images keep who they are, per direction of `found` (of `original`):

    - `ssim_untuned`, `ssim_tuned`: SSIM to the `targets` of the pivots moved `amount` standard
      deviations either way, drawn by `original` and by `tuned` (the generator `projection.tune` made):
      an edit that keeps the face stays close to it.
    - `strength`: the mean |pixel change| of that edit by `tuned` at the pivots over the change the same
      step makes on random latents of `original` (1: the direction moves the projected face as much as
      any face; near 0: tuning made it inert there).

    `space`: the pivots' (default the directions'; w+ pivots take w directions). Returns a dict of
    arrays, one value per direction.
    """
    from gan_keras.images import psnr_ssim
    from gan_keras.tools import latent

    changes, _ = effect_sizes(original, found, n=n, seed=seed, amount=amount, labels=labels)
    space = space or found.space
    pivot_labels = None if labels is None or space != "z" else labels
    unedited = latent.render(tuned, pivots, space, pivot_labels)
    result = {"ssim_untuned": [], "ssim_tuned": [], "strength": []}
    for vector, std, change in zip(found.vectors, found.std, changes):
        ssim = {"untuned": [], "tuned": []}
        moved = []
        for sign in (-1, 1):
            shifted = pivots + sign * amount * std * vector
            for name, generator in (("untuned", original), ("tuned", tuned)):
                images = latent.render(generator, shifted, space, pivot_labels)
                ssim[name].append(psnr_ssim(images, targets)[1].mean())
                if name == "tuned":
                    moved.append(float(np.mean(np.abs(images - unedited))))
        result["ssim_untuned"].append(np.mean(ssim["untuned"]))
        result["ssim_tuned"].append(np.mean(ssim["tuned"]))
        result["strength"].append(np.mean(moved) / max(change, 1e-12))
    return {name: np.array(values) for name, values in result.items()}


def monotonicity(score_fn, generator, found, index, amounts=(-3, -2, -1, 0, 1, 2, 3), n=64, seed=0, labels=None):
    """The mean score of images along direction `index` at each amount, and Spearman's rank correlation
    of amount and mean score (1: the score rises at every step)."""
    from scipy.stats import spearmanr

    from gan_keras.tools import latent

    latents = latent.random_latents(generator, n, seed=seed, space=found.space, labels=labels)
    means = []
    for a in amounts:
        images = latent.render(generator, latents + a * found.std[index] * found.vectors[index], found.space, labels)
        means.append(float(np.mean(score_fn(images))))
    return np.array(means), float(spearmanr(amounts, means).statistic)


# ---------------------------------------------------------------------------------------------
# The `directions` and `edit` commands


def run_directions(run, out, method="sefa", attribute=None, k=10, rows=4, seed=0):
    """Find the controls of a run's generator and write `out/directions.npz` and `direction_KK.png`
    (rows: random latents, columns: -3 ... +3 sd); prints how much each direction moves the pixels
    against a random direction. Returns the `Directions`.

    Example:
        >>> found = run_directions("pretrained:mnist", "outputs/mnist_directions", k=2)
        direction 0: ...
        wrote outputs/mnist_directions/directions.npz (2 sefa directions in z) and direction_00.png ...
    """
    from gan_keras.files import save_png
    from gan_keras.images import image_grid
    from gan_keras.networks.build import class_labels, num_classes
    from gan_keras.runs.config import load_config
    from gan_keras.runs.loading import load_generator
    from gan_keras.tools.directions import (
        attribute_scorer,
        discover,
        labelled_direction,
    )
    from gan_keras.tools.latent import fingerprint, random_latents

    out = Path(out)
    if (method == "interfacegan") != bool(attribute):
        raise UsageError("--attribute goes with --method interfacegan (and it needs one)")
    if attribute:
        attribute_scorer(attribute, load_config(run)[0].dataset)  # a bad name: one line before loading
    generator = load_generator(run)
    if attribute:
        found, score = labelled_direction(generator, attribute, load_config(run)[0].dataset, run=str(run))
        means, rho = monotonicity(score, generator, found, 0)
        print(f"{attribute}: boundary accuracy {found.values[0]:.3f}; mean score from -3 to +3 sd: "
              f"{' '.join(f'{m:.3f}' for m in means)} (Spearman {rho:+.2f})")
    else:
        found = discover(generator, method, k, run=str(run))
    found.generator = fingerprint(generator)
    out.mkdir(parents=True, exist_ok=True)
    found.save(out / "directions.npz")
    labels = class_labels(generator, rows) if num_classes(generator) else None
    latents = random_latents(generator, rows, seed=seed, labels=labels)
    amounts = [-3, -2, -1, 0, 1, 2, 3]
    for i in range(len(found)):
        save_png(image_grid(edit(generator, latents, found, i, amounts, labels=labels), cols=len(amounts)),
                 out / f"direction_{i:02d}.png")
    changes, ratios = effect_sizes(generator, found, labels=None if labels is None else class_labels(generator, 64))
    for i, (change, ratio) in enumerate(zip(changes, ratios)):
        print(f"direction {i}: a 1-sd step changes pixels by {change:.4f}, {ratio:.2f}x a random direction")
    print(f"wrote {out}/directions.npz ({len(found)} {method} direction{'s' * (len(found) > 1)} in {found.space}) "
          "and direction_00.png ... (rows: latents, columns: -3 ... +3 sd)")
    return found


def run_edit(run, direction, out, latents=None, n=4, amounts=(-3, -1, 0, 1, 3), layers=None, label=None, seed=0):
    """Move latents (`latents`: a latents.npz from projection, else `n` random ones) along the direction
    `direction` ("directions.npz:K") by `amounts` standard deviations; write `out`: a .png grid (rows:
    latents, columns: amounts) or an .npz (uint8 images and their amounts). Returns the images.

    Example:
        >>> images = run_edit("pretrained:mnist", "outputs/mnist_directions/directions.npz:0", "outputs/edit.png")
        wrote 20 images to outputs/edit.png (4 latents x amounts -3,-1,0,1,3 along ...)
    """
    from gan_keras.files import save_png
    from gan_keras.images import image_grid
    from gan_keras.networks.build import class_labels
    from gan_keras.runs.loading import load_generator
    from gan_keras.tools.directions import load_directions
    from gan_keras.tools.latent import load_latents, random_latents
    from gan_keras.tools.sample import check_class, check_image_out, save_images_npz

    out = check_image_out(out)
    if not amounts:
        raise UsageError("--amounts needs at least one number")
    generator = load_generator(run)
    found, index = load_directions(direction, generator, one=True)
    classes = check_class(generator, label)
    if latents is not None:
        latents, space, labels = load_latents(latents, generator)
    else:
        labels = class_labels(generator, n, label) if classes else None
        latents, space = random_latents(generator, n, seed=seed, space=found.space, labels=labels), found.space
    images = edit(generator, latents, found, index, amounts, space=space, labels=labels, layers=layers)
    if out.suffix == ".npz":
        save_images_npz(out, images, amounts=np.tile(amounts, len(latents)))
    else:
        save_png(image_grid(images, cols=len(amounts)), out)
    print(f"wrote {len(images)} images to {out} ({len(latents)} latents x amounts "
          f"{','.join(f'{a:g}' for a in amounts)} along {found.names[index] if found.names else index})")
    return images
