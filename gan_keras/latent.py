"""Walking a generator's latent space: interpolation, vector arithmetic, attribute directions, and
for a style-based generator its intermediate space w: mapping, style mixing, truncation.

Example:
    >>> z = latent_noise(0, 0, 2, 100).numpy()
    >>> path = interpolate(z[0], z[1], steps=8, method="slerp")     # (8, 100)
    >>> faces = generator(path, training=False)

    >>> w = to_w(G, z)                                               # a --model stylegan run
    >>> faces = synthesize(G, interpolate(w[0], w[1], steps=8, method="lerp"))
    >>> mixed = synthesize(G, mix_styles(broadcast(w[:1], num_ws(G)), broadcast(w[1:], num_ws(G)), "fine"))
    >>> tame = synthesize(G, truncate(w, mean_w(G), psi=0.7))
"""

import numpy as np


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
    import tensorflow as tf

    z = tf.convert_to_tensor(np.asarray(z, np.float32))
    if labels is not None:
        labels = np.broadcast_to(np.asarray(labels, np.int32), (len(z),))
        z = tf.concat([z, generator.get_layer("class_embedding")(tf.constant(labels))], axis=-1)
    return np.asarray(_part(generator, "mapping")(z, training=False))


def num_ws(generator):
    """How many style inputs (one w each) the synthesis network takes."""
    return int(_part(generator, "synthesis").inputs[0].shape[1])


def broadcast(w, count):
    """(N, w_dim) -> (N, count, w_dim): the same w for every layer."""
    return np.repeat(np.asarray(w, np.float32)[:, None], count, axis=1)


def synthesize(generator, ws):
    """Images in [-1, 1] from per-layer styles `ws` (N, num_ws, w_dim), or one w per image (N, w_dim)."""
    ws = np.asarray(ws, np.float32)
    if ws.ndim == 2:
        ws = broadcast(ws, num_ws(generator))
    return np.asarray(_part(generator, "synthesis")(ws, training=False))


def mean_w(generator, n=10000, seed=0, labels=None):
    """The average w over `n` random z (the centre the truncation trick pulls towards)."""
    from gan_keras.noise import latent_noise

    latent_dim = int(generator.inputs[0].shape[-1])
    return to_w(generator, latent_noise(seed, 0, n, latent_dim, stream=3000).numpy(),
                None if labels is None else np.broadcast_to(labels, (n,))).mean(0)


def truncate(w, w_avg, psi=0.7):
    """The truncation trick: w pulled towards the mean, w_avg + psi (w - w_avg). psi 1: unchanged; 0: the mean."""
    return w_avg + psi * (np.asarray(w, np.float32) - w_avg)


def style_groups(count):
    """The style inputs split in three by resolution: coarse (pose, shape), middle, fine (colour, texture)."""
    third = max(1, round(count / 3))
    return {"coarse": range(0, third), "middle": range(third, count - third), "fine": range(count - third, count)}


def mix_styles(ws_a, ws_b, layers):
    """Styles of `ws_a` with those of `layers` (indices, or a name of `style_groups`) taken from `ws_b`."""
    ws_a, ws_b = np.asarray(ws_a, np.float32), np.asarray(ws_b, np.float32)
    if isinstance(layers, str):
        layers = style_groups(ws_a.shape[1])[layers]
    mixed = ws_a.copy()
    mixed[:, list(layers)] = ws_b[:, list(layers)]
    return mixed
