"""Images as arrays: model outputs in [-1, 1] to uint8, and many images to one grid.

Example:
    >>> import numpy as np
    >>> grid = image_grid(np.zeros((64, 28, 28, 1)))   # (64, H, W, C) in [-1, 1] -> one uint8 image
    >>> grid.shape
    (242, 242, 1)
"""

import math

import numpy as np


def to_uint8(images):
    """float images in [-1, 1] -> uint8 in [0, 255]."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def image_grid(images, cols=None, pad=2):
    """(N, H, W, C) images in [-1, 1] -> one uint8 grid image (rows x cols, `pad` pixels apart)."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = image
    return grid


def psnr_ssim(images, targets):
    """PSNR (dB) and SSIM per image, on the 8-bit images a person sees."""
    import tensorflow as tf

    a, b = tf.constant(to_uint8(images)), tf.constant(to_uint8(targets))
    size = int(a.shape[1])
    return (tf.image.psnr(a, b, max_val=255).numpy(),
            tf.image.ssim(a, b, max_val=255, filter_size=min(11, size // 2 * 2 - 1)).numpy())
