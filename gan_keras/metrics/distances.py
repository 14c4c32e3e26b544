"""Distances between two sets of images or features, in numpy: FID, KID, precision/recall, SWD, and
the nearest training image of each sample (copy rate).

SWD (Karras et al. 2018) works on pixels and needs no network: the offline metric for faces.

Example:
    >>> import numpy as np
    >>> a = np.random.default_rng(0).normal(size=(500, 8))
    >>> abs(round(fid(a, a), 6))
    0.0
"""

import numpy as np


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) between two Gaussians.

    Tr((S1 S2)^1/2) is computed as the sum of square roots of the eigenvalues of the symmetric
    matrix S1^1/2 S2 S1^1/2, which is stable where a general matrix square root is not.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid(real_features, fake_features):
    """Fréchet distance between the Gaussians fitted to two (N, D) feature sets."""
    stats = [(f.mean(0), np.cov(f, rowvar=False)) for f in (np.asarray(real_features, np.float64),
                                                            np.asarray(fake_features, np.float64))]
    return frechet_distance(*stats[0], *stats[1])


def kid(real_features, fake_features, subsets=10, subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, mean over subsets."""
    x, y = np.asarray(real_features, np.float64), np.asarray(fake_features, np.float64)
    m = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    dim = x.shape[1]
    values = []
    for _ in range(subsets):
        a, b = x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = ((p @ q.T / dim + 1) ** 3 for p, q in ((a, a), (b, b), (a, b)))
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                      - 2 * kxy.mean())
    return float(np.mean(values))


def _pairwise_sq(a, b):
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0)


def precision_recall(real_features, fake_features, k=3, max_samples=5000, seed=0):
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

    Precision: share of generated samples inside the real manifold (quality).
    Recall: share of real samples inside the generated manifold (coverage; low when modes collapse).
    """
    rng = np.random.default_rng(seed)

    def subset(f):
        f = np.asarray(f, np.float32)
        return f[rng.choice(len(f), max_samples, replace=False)] if len(f) > max_samples else f

    real, fake = subset(real_features), subset(fake_features)

    def radii(f):
        d = _pairwise_sq(f, f)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def coverage(manifold, radius, queries):
        inside = np.zeros(len(queries), bool)
        for i in range(0, len(queries), 1000):
            inside[i:i + 1000] = (_pairwise_sq(queries[i:i + 1000], manifold) <= radius[None, :]).any(1)
        return float(inside.mean())

    return coverage(real, radii(real), fake), coverage(fake, radii(fake), real)


def _laplacian_pyramid(images, levels):
    from keras import ops

    kernel = np.outer(*[np.array([1, 4, 6, 4, 1], np.float32) / 16] * 2)
    channels = images.shape[-1]
    kernel = ops.convert_to_tensor(np.tile(kernel[:, :, None, None], (1, 1, channels, 1)))
    x = ops.convert_to_tensor(np.asarray(images, np.float32))
    pyramid = []
    for _ in range(levels - 1):
        blurred = ops.depthwise_conv(x, kernel, strides=1, padding="same")
        small = blurred[:, ::2, ::2, :]
        up = ops.image.resize(small, tuple(x.shape[1:3]), interpolation="bilinear")
        pyramid.append(ops.convert_to_numpy(x - up))
        x = small
    pyramid.append(ops.convert_to_numpy(x))
    return pyramid


def _patches(level, per_image, size, rng):
    n, h, w, c = level.shape
    ys = rng.integers(0, h - size + 1, (n, per_image))
    xs = rng.integers(0, w - size + 1, (n, per_image))
    offsets = np.arange(size)
    rows = ys[..., None, None] + offsets[:, None]
    cols = xs[..., None, None] + offsets[None, :]
    batch = np.arange(n)[:, None, None, None]
    return level[batch, rows, cols].reshape(n * per_image, size * size * c)


def swd(real_images, fake_images, levels=None, patches_per_image=64, patch_size=7, projections=256, seed=0):
    """Multi-scale sliced Wasserstein distance (x1000), one value per pyramid level and their mean.

    Images are uint8 (N, H, W, C). Each level's 7x7 patches are normalised per channel, projected
    on random directions, and the sorted projections compared.
    """
    real, fake = (np.asarray(x, np.float32) / 127.5 - 1 for x in (real_images, fake_images))
    if levels is None:
        levels = max(1, int(np.log2(real.shape[1] / 16)) + 1)
    rng = np.random.default_rng(seed)
    results = []
    for real_level, fake_level in zip(_laplacian_pyramid(real, levels), _laplacian_pyramid(fake, levels)):
        size = min(patch_size, real_level.shape[1])
        a, b = (_patches(level, patches_per_image, size, rng) for level in (real_level, fake_level))
        count = min(len(a), len(b))
        a, b = a[:count], b[:count]
        mean, std = a.mean(0), a.std(0) + 1e-8
        a, b = (a - mean) / std, (b - mean) / std
        directions = rng.normal(size=(a.shape[1], projections)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        pa, pb = np.sort(a @ directions, axis=0), np.sort(b @ directions, axis=0)
        results.append(float(np.abs(pa - pb).mean() * 1000))
    return {"swd": float(np.mean(results)), "swd_levels": results}



def pixel_vectors(images, size=32):
    """uint8 images (N, H, W, C) as float vectors in [0, 1] at most `size` pixels a side (area mean),
    the space where a copied training image is a near-zero distance."""
    x = np.asarray(images, np.float32) / 255.0
    factor = max(1, x.shape[1] // size)
    if factor > 1:
        n, h, w, c = x.shape
        x = x[:, :h // factor * factor, :w // factor * factor]
        x = x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
    return x.reshape(len(x), -1)


def nearest(queries, references, batch=512):
    """(distance, index) of each query's nearest reference, Euclidean, in blocks of `batch` queries."""
    references = np.asarray(references, np.float64)
    distances, indices = [], []
    for start in range(0, len(queries), batch):
        d2 = _pairwise_sq(np.asarray(queries[start:start + batch], np.float64), references)
        index = d2.argmin(axis=1)
        distances.append(np.sqrt(np.maximum(d2[np.arange(len(index)), index], 0.0)))
        indices.append(index)
    return np.concatenate(distances), np.concatenate(indices)


def copy_scores(train, heldout, fake, quantile=0.01):
    """How close samples come to the training set, measured against how close new real images come.

    `train`, `heldout` and `fake` are feature vectors (rows). Returns {"copy_rate": the share of samples
    nearer to a training image than all but `quantile` of the held-out images are (about `quantile` for a
    generator of new images, 1 for one that returns training images), "copy_ratio": the median
    sample-to-train distance over the median held-out-to-train distance (below 1: closer to the training
    set than new real images are), "distance", "nearest": each sample's distance and training index,
    "heldout_median": the median held-out-to-train distance}.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train, heldout = rng.normal(size=(500, 16)), rng.normal(size=(200, 16))
        >>> copies = copy_scores(train, heldout, train[:100])           # returns training images
        >>> copies["copy_rate"], round(copies["copy_ratio"], 6)
        (1.0, 0.0)
        >>> new = copy_scores(train, heldout, rng.normal(size=(100, 16)))
        >>> new["copy_rate"] < 0.1 and 0.8 < new["copy_ratio"] < 1.2
        True
    """
    distance, index = nearest(fake, train)
    heldout_distance, _ = nearest(heldout, train)
    threshold = np.quantile(heldout_distance, quantile)
    return {"copy_rate": float(np.mean(distance < threshold)),
            "copy_ratio": float(np.median(distance) / np.median(heldout_distance)),
            "distance": distance, "nearest": index, "heldout_median": float(np.median(heldout_distance))}
