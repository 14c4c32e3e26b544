"""Walking a generator's latent space: interpolation, vector arithmetic, attribute directions.

Example:
    >>> z = latent_noise(0, 0, 2, 100).numpy()
    >>> path = interpolate(z[0], z[1], steps=8, method="slerp")     # (8, 100)
    >>> faces = generator(path, training=False)
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
