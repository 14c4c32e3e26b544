"""The distances projection minimises, one number per image: pixels (mean squared error) plus a
perceptual term, each a registered "distance": "vgg" (VGG16 features, LPIPS-style: unit-normalised
channels, squared differences, averaged per layer; ImageNet weights downloaded once by Keras),
"discriminator" (the same on the run's own discriminator's activations), "ssim" (1 - SSIM), "pixel"
alone. "auto" takes VGG16 where its weights can be had and otherwise warns once and takes
`OFFLINE_DISTANCE`, chosen by measurement (docs/benchmarks/2026-12-02-editing.md).

Example:
    >>> from gan_keras.tools.sample import generate
    >>> from gan_keras.runs.loading import load_generator
    >>> generator = load_generator("pretrained:mnist")
    >>> name, distance = make_distance("ssim", generator)
    >>> images, targets = generate(generator, 4, seed=0), generate(generator, 4, seed=1)
    >>> distance(images, targets).shape      # one loss per image
    TensorShape([4])
"""

import warnings

from gan_keras import registry
from gan_keras.errors import UsageError

registry.declare("distance", "auto", help="vgg where its weights can be had, else OFFLINE_DISTANCE with one warning")

# Measured on 100 held-out faces and 100 test digits (docs/benchmarks/2026-12-02-editing.md): pixels + (1 - SSIM) drew
# the best structure (SSIM 0.403 vs 0.321 pixels alone and 0.323 with D's features on faces; 0.899 vs
# 0.873 and 0.858 on digits) for 0.3-0.6 dB of PSNR less than pixels alone.
OFFLINE_DISTANCE = "ssim"


# ---------------------------------------------------------------------------------------------
# Distances: (generator-range images, targets) -> one number per image


def _normalised(features):
    from keras import ops

    return features * ops.rsqrt(ops.sum(ops.square(features), axis=-1, keepdims=True) + 1e-10)


def _pixel(x, y):
    from keras import ops

    return ops.mean(ops.square(x - y), axis=tuple(range(1, len(x.shape))))


def _feature_distance(feature_model, prepare):
    """LPIPS-style: per layer, the mean squared difference of unit-normalised features, summed over layers."""
    from keras import ops

    def distance(x, y):
        total = _pixel(x, y)
        for fx, fy in zip(feature_model(prepare(x), training=False), feature_model(prepare(y), training=False)):
            d = ops.square(_normalised(fx) - _normalised(fy))
            total += ops.mean(d, axis=tuple(range(1, len(d.shape)))) * float(d.shape[-1])
        return total

    return distance


_VGG = {}


def vgg_features():
    """VGG16 (ImageNet weights, downloaded once by Keras) cut at four conv layers; None when the weights
    cannot be had (offline)."""
    if "model" not in _VGG:
        import keras

        try:
            vgg = keras.applications.VGG16(include_top=False, weights="imagenet")
            names = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"]
            _VGG["model"] = keras.Model(vgg.inputs, [vgg.get_layer(n).output for n in names], name="vgg_features")
        except Exception:  # no network, a firewall: the caller falls back
            _VGG["model"] = None
    return _VGG["model"]


@registry.register("distance", "vgg", help="pixels + VGG16 features (ImageNet weights, downloaded once)")
def _vgg_distance(generator, discriminator):
    from keras import ops

    model = vgg_features()
    if model is None:
        return None
    size = max(64, int(generator.outputs[0].shape[1]))
    mean = ops.convert_to_tensor([123.68, 116.779, 103.939])

    def prepare(x):  # [-1, 1] -> VGG's BGR, mean-subtracted, at least 64x64, 3 channels
        x = ops.image.resize(x, (size, size)) if x.shape[1] < size else x
        x = ops.tile(x, (1, 1, 1, 3)) if x.shape[-1] == 1 else x
        return ((x + 1.0) * 127.5 - mean)[..., ::-1]

    return _feature_distance(model, prepare)


def discriminator_features(discriminator):
    """The activations of a discriminator's LeakyReLU layers, as one model (inference mode)."""
    import keras

    outputs = [layer.output for layer in discriminator.layers if isinstance(layer, keras.layers.LeakyReLU)]
    if not outputs:
        raise UsageError(f"{discriminator.name} has no LeakyReLU activations to compare")
    images = discriminator.inputs[0]
    return keras.Model(images, outputs, name="discriminator_features")


@registry.register("distance", "discriminator", needs_discriminator=True,
                   help="pixels + the run's own discriminator features")
def _discriminator_distance(generator, discriminator):
    if discriminator is None:
        return None  # a projection D's activations come before its class term: its images input suffices
    return _feature_distance(discriminator_features(discriminator), lambda x: x)


@registry.register("distance", "ssim", help="pixels + 1 - SSIM")
def _ssim_distance(generator, discriminator):
    from gan_keras import backend
    from gan_keras.images import ssim

    size = int(generator.outputs[0].shape[1])
    window = min(11, size // 2 * 2 - 1)

    def distance(x, y):
        if backend.is_tensorflow():  # TensorFlow's own kernel; the same function (tests/test_tune.py)
            import tensorflow as tf

            similarity = tf.image.ssim((x + 1) / 2, (y + 1) / 2, max_val=1.0, filter_size=window)
        else:
            similarity = ssim((x + 1) / 2, (y + 1) / 2, 1.0, window)
        return _pixel(x, y) + (1.0 - similarity)

    return distance


@registry.register("distance", "pixel", help="pixels alone")
def _pixel_distance(generator, discriminator):
    return _pixel


def make_distance(name, generator, discriminator=None):
    """(name actually used, distance function). "auto": VGG16 where its weights can be had, else one
    warning and `OFFLINE_DISTANCE` (ssim when no discriminator is given)."""
    registry.check("distance", name)
    if name == "auto":
        fn = _vgg_distance(generator, discriminator)
        if fn is not None:
            return "vgg", fn
        fallback = OFFLINE_DISTANCE if discriminator is not None or OFFLINE_DISTANCE != "discriminator" else "ssim"
        warnings.warn(f"VGG16's ImageNet weights could not be downloaded (offline?): projecting with the "
                      f"{fallback} distance instead", stacklevel=3)
        return fallback, registry.get("distance", fallback)(generator, discriminator)
    fn = registry.get("distance", name)(generator, discriminator)
    if fn is None:
        need = "the run's discriminator" if name == "discriminator" else "VGG16's ImageNet weights (a download)"
        raise UsageError(f"the {name} distance needs {need}")
    return name, fn
