"""Walking a generator's latent space: interpolation, vector arithmetic, attribute directions, and
for a style-based generator its intermediate space w: mapping, style mixing, truncation.

Example:
    >>> from gan_keras import Build_Gen, load_generator
    >>> from gan_keras.training.noise import latent_noise
    >>> generator = load_generator("pretrained:anime64")
    >>> z = to_numpy(latent_noise(0, 0, 2, 100))
    >>> path = interpolate(z[0], z[1], steps=8, method="slerp")     # (8, 100)
    >>> faces = generator(path, training=False)

    >>> G = Build_Gen("stylegan", 64, (32, 32, 3), width=8)         # what a --model stylegan run trains
    >>> w = to_w(G, to_numpy(latent_noise(0, 0, 2, 64)))
    >>> faces = synthesize(G, interpolate(w[0], w[1], steps=8, method="lerp"))
    >>> mixed = synthesize(G, mix_styles(broadcast(w[:1], num_ws(G)), broadcast(w[1:], num_ws(G)), "fine"))
    >>> tame = synthesize(G, truncate(w, mean_w(G, n=100), psi=0.7))
    >>> tame.shape
    (2, 32, 32, 3)
"""

import numpy as np

from gan_keras import registry
from gan_keras.backend import to_numpy


def lerp(z0, z1, t):
    """Straight line between two latent vectors at fractions `t` (array of shape (T,))."""
    t = np.asarray(t, np.float32)[:, None]
    return (1 - t) * z0[None] + t * z1[None]


def slerp(z0, z1, t):
    """Spherical interpolation: follows the shell where Gaussian latents live (White 2016)."""
    t = np.asarray(t, np.float32)[:, None]
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return lerp(z0, z1, t[:, 0])
    return (np.sin((1 - t) * omega) * z0[None] + np.sin(t * omega) * z1[None]) / np.sin(omega)


def interpolate(z0, z1, steps=8, method="slerp"):
    """`steps` latent vectors from z0 to z1 inclusive, by "lerp" or "slerp"."""
    t = np.linspace(0.0, 1.0, steps)
    return (slerp if method == "slerp" else lerp)(np.asarray(z0, np.float32), np.asarray(z1, np.float32), t)


def attribute_groups(scores, fraction=0.1):
    """Indices of the lowest and highest `fraction` of `scores` (e.g. brightness of generated faces)."""
    order = np.argsort(scores)
    k = max(1, int(len(scores) * fraction))
    return order[:k], order[-k:]


def attribute_direction(latents, scores, fraction=0.1):
    """Mean latent of the high-scoring group minus that of the low-scoring group."""
    low, high = attribute_groups(scores, fraction)
    return latents[high].mean(0) - latents[low].mean(0)


def walk(z, direction, amounts):
    """z moved by each of `amounts` times `direction` (a unit direction, or a one-hot element)."""
    direction = np.asarray(direction, np.float32)
    return np.stack([z + a * direction for a in amounts]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The intermediate latent space w of a style-based generator (`--model stylegan`)


def _part(generator, name):
    names = [layer.name for layer in generator.layers]
    if name not in names:
        raise ValueError(f"{generator.name} is not style-based (no '{name}' sub-model); train with --model stylegan")
    return generator.get_layer(name)


def to_w(generator, z, labels=None):
    """The mapping network's w for noise `z` (and the `labels` of a conditional generator): (N, w_dim)."""
    from keras import ops

    from gan_keras.networks.build import CLASS_EMBEDDING
    from gan_keras.networks.stylegan import MAPPING

    z = ops.convert_to_tensor(np.asarray(z, np.float32))
    if labels is not None:
        labels = np.broadcast_to(np.asarray(labels, np.int32), (len(z),))
        z = ops.concatenate([z, generator.get_layer(CLASS_EMBEDDING)(ops.convert_to_tensor(labels))], axis=-1)
    return ops.convert_to_numpy(_part(generator, MAPPING)(z, training=False))


def _synthesis(generator):
    """The synthesis sub-model (styles -> images) of a style-based generator."""
    from gan_keras.networks.stylegan import (
        SYNTHESIS,  # keras and the layers load only when asked
    )

    return _part(generator, SYNTHESIS)


def num_ws(generator):
    """How many style inputs (one w each) the synthesis network takes."""
    return int(_synthesis(generator).inputs[0].shape[1])


def broadcast(w, count):
    """(N, w_dim) -> (N, count, w_dim): the same w for every layer."""
    return np.repeat(np.asarray(w, np.float32)[:, None], count, axis=1)


def synthesize(generator, ws):
    """Images in [-1, 1] from per-layer styles `ws` (N, num_ws, w_dim), or one w per image (N, w_dim)."""
    ws = np.asarray(ws, np.float32)
    if ws.ndim == 2:
        ws = broadcast(ws, num_ws(generator))
    return np.asarray(_synthesis(generator)(ws, training=False))


def mean_w(generator, n=10000, seed=0, labels=None):
    """The average w over `n` random z (the centre the truncation trick pulls towards)."""
    from gan_keras.training.noise import Stream, latent_noise

    latent_dim = int(generator.inputs[0].shape[-1])
    return to_w(generator, to_numpy(latent_noise(seed, 0, n, latent_dim, stream=Stream.MEAN_W)),
                None if labels is None else np.broadcast_to(labels, (n,))).mean(0)


def truncate(w, w_avg, psi=0.7):
    """The truncation trick: w pulled towards the mean, w_avg + psi (w - w_avg). psi 1: unchanged; 0: the mean."""
    return w_avg + psi * (np.asarray(w, np.float32) - w_avg)


registry.declare("layers", "coarse", help="the low resolutions: pose, shape")
registry.declare("layers", "middle", help="the middle resolutions")
registry.declare("layers", "fine", help="the high resolutions: colour, texture")


def style_groups(count):
    """The style inputs split in three by resolution, one range per declared group ("layers"):
    coarse (pose, shape), middle, fine (colour, texture)."""
    third = max(1, round(count / 3))
    coarse, middle, fine = registry.names("layers")
    return {coarse: range(0, third), middle: range(third, count - third), fine: range(count - third, count)}


def mix_styles(ws_a, ws_b, layers):
    """Styles of `ws_a` with those of `layers` (indices, or a name of `style_groups`) taken from `ws_b`."""
    ws_a, ws_b = np.asarray(ws_a, np.float32), np.asarray(ws_b, np.float32)
    if isinstance(layers, str):
        layers = style_groups(ws_a.shape[1])[layers]
    mixed = ws_a.copy()
    mixed[:, list(layers)] = ws_b[:, list(layers)]
    return mixed


# ---------------------------------------------------------------------------------------------
# Latents as the editing tools pass them around: a space ("z", "w" or "w+") and an array


registry.declare("space", "z", help="the generator's Gaussian input")
registry.declare("space", "w", style=True, help="a style-based generator's intermediate latent, one w for all layers")
registry.declare("space", "w+", style=True, help="one w per style layer")


def is_style_based(generator):
    """Whether `generator` has the style-based `mapping` and `synthesis` sub-models."""
    try:
        _synthesis(generator)
    except ValueError:
        return False
    return True


def latent_size(generator, space):
    """The length of one latent vector in `space`: the noise size for z, the mapping's output for w/w+."""
    if space == "z":
        return int(generator.inputs[0].shape[-1])
    return int(_synthesis(generator).inputs[0].shape[-1])


def default_space(generator):
    """Where the editing tools work: w for a style-based generator, z otherwise."""
    return "w" if is_style_based(generator) else "z"


def describe(space, size, style_based):
    """Words for a kind of latent, for error messages: "512-d w of a style-based run"."""
    return f"{size}-d {space} of a {'style-based' if style_based else 'DCGAN/MLP'} run"


def check_space(generator, space, shape=None):
    """One UsageError line when latents of `space` (and array `shape`) cannot drive this generator."""
    from gan_keras.errors import UsageError

    style = is_style_based(generator)
    registry.check("space", space)
    takes = f"{describe(default_space(generator), latent_size(generator, default_space(generator)), style)}"
    if shape is None:
        if space != "z" and not style:
            raise UsageError(f"--space {space} needs a style-based generator (a --model stylegan run); this run "
                             f"takes {takes}")
        return
    fits = space == "z" or style
    if fits:
        want = latent_size(generator, space)
        fits = (len(shape) == 3 and tuple(shape[1:]) == (num_ws(generator), want)) if space == "w+" else (
            len(shape) == 2 and shape[1] == want)
    if not fits:
        raise UsageError(f"these are {describe(space, shape[-1], space != 'z')}, but this run takes {takes}")


def random_latents(generator, n, seed=0, space=None, labels=None, truncation=None):
    """`n` seeded latents of `space` (default: `default_space`): z, or z mapped to w (truncated by psi
    towards the mean w when `truncation` < 1); a conditional generator's w of `labels` (default: the
    classes in turn)."""
    from gan_keras.training.noise import Stream, latent_noise

    space = space or default_space(generator)
    z = to_numpy(latent_noise(seed, 0, n, latent_size(generator, "z"), stream=Stream.RANDOM_LATENTS))
    if space == "z":
        return z
    from gan_keras.networks.build import num_classes

    if labels is None and num_classes(generator):
        from gan_keras.networks.build import class_labels

        labels = class_labels(generator, n)
    w = to_w(generator, z, labels)
    if truncation is not None and truncation != 1:
        w = truncate(w, mean_w(generator, labels=None if labels is None else np.unique(labels)[0]), truncation)
    return broadcast(w, num_ws(generator)) if space == "w+" else w


def drawer(generator, space, labels=None):
    """A differentiable function latents -> images of `generator` in `space` (z with `labels`, w or w+)."""
    from keras import ops

    from gan_keras.networks.stylegan import SYNTHESIS

    label_tensor = None if labels is None else ops.convert_to_tensor(np.asarray(labels, np.int32))
    if space == "z":
        return lambda z: generator(z if label_tensor is None else [z, label_tensor], training=False)
    synthesis, count = generator.get_layer(SYNTHESIS), num_ws(generator)
    return lambda w: synthesis(w if space == "w+" else ops.repeat(w[:, None], count, axis=1), training=False)


def render(generator, latents, space, labels=None, batch_size=64):
    """Images in [-1, 1] drawn from `latents` of `space` (with `labels` for a conditional z)."""
    from gan_keras.networks.build import draw

    latents = np.asarray(latents, np.float32)
    parts = []
    for i in range(0, len(latents), batch_size):
        part = latents[i:i + batch_size]
        if space == "z":
            part_labels = None if labels is None else np.broadcast_to(labels, (len(latents),))[i:i + batch_size]
            parts.append(np.asarray(draw(generator, part, part_labels)))
        else:
            parts.append(synthesize(generator, part))
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def fingerprint(generator):
    """A short hash of a generator's weights: latents and directions name the generator they belong to."""
    import hashlib

    digest = hashlib.sha1()
    for weight in generator.weights:
        digest.update(np.asarray(weight, np.float32).tobytes())
    return digest.hexdigest()[:16]


def check_fingerprint(generator, saved, what, run):
    """One UsageError line when `saved` (a fingerprint, or "") is not this generator's."""
    from gan_keras.errors import UsageError

    if saved and saved != fingerprint(generator):
        raise UsageError(f"{what} belong to another generator (run {run or 'unknown'}), not this one")


def save_latents(path, latents, space, run, generator=None, labels=None, **extra):
    """Write latents as `latents.npz`: the array, its space, the run (and `generator`'s fingerprint)
    they belong to, and `extra` arrays (e.g. psnr, ssim)."""
    arrays = {"latents": np.asarray(latents, np.float32), "space": np.array(space), "run": np.array(str(run)),
              "generator": np.array(fingerprint(generator) if generator is not None else ""),
              **{k: np.asarray(v) for k, v in extra.items()}}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, np.int32)
    from gan_keras.files import atomic_write

    with atomic_write(path) as tmp:
        np.savez(tmp, **arrays)


def load_latents(path, generator=None):
    """(latents, space, labels or None) of a `latents.npz`; with `generator`, checked to fit it."""
    from gan_keras.errors import UsageError
    from gan_keras.files import load_npz

    f = load_npz(path, "the latents")
    if "latents" not in f or "space" not in f:
        raise UsageError(f"{path} is not a latents file (from `project`): it holds no latents and space")
    latents, space = f["latents"].astype(np.float32), str(f["space"])
    labels = f.get("labels")
    run, owner = str(f.get("run", "")), str(f.get("generator", ""))
    if generator is not None:
        check_space(generator, space, latents.shape)
        check_fingerprint(generator, owner, f"the latents in {path}", run)
    return latents, space, labels
