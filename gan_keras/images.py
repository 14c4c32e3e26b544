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
    from gan_keras import backend

    a, b = to_uint8(images), to_uint8(targets)
    size = int(a.shape[1])
    if not backend.is_tensorflow():
        x, y = a.astype(np.float32) / 255.0, b.astype(np.float32) / 255.0
        mse = ((x.astype(np.float64) - y) ** 2).mean(axis=(1, 2, 3))
        import keras

        with np.errstate(divide="ignore"):
            psnr = (10.0 * np.log10(1.0 / mse)).astype(np.float32)
        return psnr, keras.ops.convert_to_numpy(ssim(x, y, 1.0, min(11, size // 2 * 2 - 1)))
    import tensorflow as tf

    a, b = tf.constant(a), tf.constant(b)
    return (tf.image.psnr(a, b, max_val=255).numpy(),
            tf.image.ssim(a, b, max_val=255, filter_size=min(11, size // 2 * 2 - 1)).numpy())


def ssim(x, y, max_val=1.0, filter_size=11, sigma=1.5, k1=0.01, k2=0.03):
    """SSIM per image (Wang et al. 2004) of float images (N, H, W, C), in `keras.ops` (differentiable on
    every backend): `tf.image.ssim`'s computation, an 11x11 Gaussian window of sigma 1.5 without padding."""
    from keras import ops

    coords = np.arange(filter_size, dtype=np.float32) - (filter_size - 1) / 2.0
    g = -0.5 * coords ** 2 / sigma ** 2
    g = np.exp(g[None, :] + g[:, None])
    window = np.tile((g / g.sum())[:, :, None, None], (1, 1, int(x.shape[-1]), 1)).astype(np.float32)
    window = ops.convert_to_tensor(window)

    def local_mean(image):
        return ops.depthwise_conv(image, window, strides=1, padding="valid")

    x, y = ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(y, "float32")
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mean_x, mean_y = local_mean(x), local_mean(y)
    num0, den0 = mean_x * mean_y * 2.0, ops.square(mean_x) + ops.square(mean_y)
    luminance = (num0 + c1) / (den0 + c1)
    num1, den1 = local_mean(x * y) * 2.0, local_mean(ops.square(x) + ops.square(y))
    structure = (num1 - num0 + c2) / (den1 - den0 + c2)
    return ops.mean(luminance * structure, axis=(1, 2, 3))
