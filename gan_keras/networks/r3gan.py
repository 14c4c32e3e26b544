"""R3GAN's networks (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline";
brownvc/R3GAN `R3GAN/Networks.py`), in Keras layers and `keras.ops`, sized by `width` for a CPU.

No normalisation anywhere. Each stage is residual blocks of 1x1 expand, a grouped 3x3 and 1x1 back,
with a biased LeakyReLU(0.2) after the first two; the fix-up initialisation scales the first two by
the depth and sets the last to zero, so that at initialisation every block is the identity. Between
stages, [1, 2, 1] resampling and a 1x1 convolution where the width changes. G starts from a learned
4x4 basis scaled per channel by a linear map of z and ends in a 1x1 convolution to RGB; D starts
with a 1x1 convolution from RGB and ends in a depthwise 4x4 basis whose output the score reads.

Widths: `width` channels at 64x64, doubling as the resolution halves, up to 8 x width; each block
expands by 2 and its 3x3 convolution has groups of `GROUP_CHANNELS` channels. One block a stage.

Example:
    >>> from gan_keras.networks.build import Build_Disc, Build_Gen
    >>> G = Build_Gen("r3gan", 64, (64, 64, 3), width=8)
    >>> tuple(G.outputs[0].shape)
    (None, 64, 64, 3)
    >>> D = Build_Disc("r3gan", (64, 64, 3), width=8)
    >>> tuple(D.outputs[0].shape)
    (None, 1)
"""

import math

import keras
import numpy as np
from keras import layers

from gan_keras.networks.grouped import GroupedConv2D
from gan_keras.networks.layers import Network
from gan_keras.registry import declare

GROUP_CHANNELS = 16  # channels per group of the 3x3 convolution, as R3GAN's configurations
EXPANSION = 2
BLOCKS_PER_STAGE = 1
LEAKY_GAIN = math.sqrt(2 / (1 + 0.2 ** 2))  # what keeps a LeakyReLU(0.2)'s output variance


def msr(gain=1.0):
    """R3GAN's (He's) initialisation: N(0, gain^2 / fan_in); gain 0 gives zeros."""
    if gain == 0:
        return "zeros"
    return keras.initializers.VarianceScaling(gain ** 2, mode="fan_in", distribution="untruncated_normal")


@keras.saving.register_keras_serializable(package="gan_keras")
class BiasedLeakyReLU(layers.Layer):
    """LeakyReLU(0.2) of the input plus a learned per-channel bias (the convolutions have none)."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return keras.ops.leaky_relu(x + keras.ops.cast(self.bias, x.dtype), negative_slope=0.2)


def _fir_kernel(channels, gain):
    taps = np.array([1.0, 2.0, 1.0])
    kernel = np.outer(taps, taps) / taps.sum() ** 2 * gain
    return np.tile(kernel[:, :, None, None], (1, 1, channels, 1)).astype("float32")


@keras.saving.register_keras_serializable(package="gan_keras")
class Resample(layers.Layer):
    """x2 up (`factor` 2) or down (`factor` 0.5) with the [1, 2, 1] filter: zeros inserted then the filter
    (linear interpolation), or the filter then every second pixel; a fixed depthwise kernel, no weights."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        if factor not in (2, 0.5):
            raise ValueError(f"Resample takes factor 2 or 0.5, got {factor}")
        self.factor = factor

    def call(self, x):
        channels = x.shape[-1]
        if self.factor == 2:
            zeros = keras.ops.zeros_like(x)
            batch, height, width = keras.ops.shape(x)[0], x.shape[1], x.shape[2]
            x = keras.ops.reshape(keras.ops.stack([x, zeros], axis=3), (batch, height, 2 * width, channels))
            x = keras.ops.reshape(keras.ops.stack([x, keras.ops.zeros_like(x)], axis=2),
                                  (batch, 2 * height, 2 * width, channels))
        kernel = keras.ops.cast(_fir_kernel(channels, 4.0 if self.factor == 2 else 1.0), x.dtype)
        x = keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        return keras.ops.depthwise_conv(x, kernel, strides=1 if self.factor == 2 else 2, padding="valid")

    def compute_output_shape(self, input_shape):
        scale = lambda d: None if d is None else int(d * self.factor)  # noqa: E731
        return (input_shape[0], scale(input_shape[1]), scale(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def residual_block(x, total_blocks, name):
    """x + conv1x1(act(grouped3x3(act(conv1x1(x))))), the last 1x1 zero at initialisation."""
    channels = int(x.shape[-1])
    expanded = channels * EXPANSION
    gain = LEAKY_GAIN * total_blocks ** (-1 / (2 * 3 - 2))  # fix-up: three linear layers a block
    y = layers.Conv2D(expanded, 1, use_bias=False, kernel_initializer=msr(gain), name=f"{name}_expand")(x)
    y = BiasedLeakyReLU(name=f"{name}_act1")(y)
    y = GroupedConv2D(expanded, 3, groups=max(1, expanded // GROUP_CHANNELS), kernel_initializer=msr(gain),
                      name=f"{name}_grouped")(y)
    y = BiasedLeakyReLU(name=f"{name}_act2")(y)
    y = layers.Conv2D(channels, 1, use_bias=False, kernel_initializer="zeros", name=f"{name}_project")(y)
    return layers.Add(name=name)([x, y])


def stage_channels(image_shape, width):
    """{resolution: channels} from 4x4 up to the image: `width` at 64x64, doubling as it halves, at
    most 8 x width (and never below width at sizes above 64)."""
    size, resolutions = image_shape[0], []
    while size >= 4:
        resolutions.append(size)
        size //= 2
    return {r: int(min(8, max(1, 64 // r)) * width) if r <= 64 else int(width) for r in resolutions}


def check_shape(image_shape):
    height, width_px = image_shape[0], image_shape[1]
    if height != width_px or height < 8 or height & (height - 1):
        raise ValueError("r3gan builds square images whose side is a power of 2 from 8, "
                         f"got {height}x{width_px}")


def generator(x, image_shape, width):
    check_shape(image_shape)
    channels = stage_channels(image_shape, width)
    resolutions = sorted(channels)
    total = BLOCKS_PER_STAGE * len(resolutions)
    c = channels[4]
    scale = layers.Dense(c, use_bias=False, kernel_initializer=msr(), name="g_basis_scale")(x)
    x = GenerativeBasis(name="g_basis")(scale)
    for i, r in enumerate(resolutions):
        if i:
            if channels[r] != int(x.shape[-1]):
                x = layers.Conv2D(channels[r], 1, use_bias=False, kernel_initializer=msr(), name=f"g_{r}_width")(x)
            x = Resample(2, name=f"g_{r}_up")(x)
        for b in range(BLOCKS_PER_STAGE):
            x = residual_block(x, total, name=f"g_{r}_block{b}")
    return layers.Conv2D(image_shape[2], 1, use_bias=False, kernel_initializer=msr(), name="g_to_rgb")(x)


def discriminator(images, image_shape, width):
    check_shape(image_shape)
    channels = stage_channels(image_shape, width)
    resolutions = sorted(channels, reverse=True)
    total = BLOCKS_PER_STAGE * len(resolutions)
    x = layers.Conv2D(channels[resolutions[0]], 1, use_bias=False, kernel_initializer=msr(), name="d_from_rgb")(images)
    for r in resolutions:
        for b in range(BLOCKS_PER_STAGE):
            x = residual_block(x, total, name=f"d_{r}_block{b}")
        if r > 4:
            x = Resample(0.5, name=f"d_{r}_down")(x)
            if channels[r // 2] != int(x.shape[-1]):
                x = layers.Conv2D(channels[r // 2], 1, use_bias=False, kernel_initializer=msr(),
                                  name=f"d_{r // 2}_width")(x)
    x = layers.DepthwiseConv2D(4, padding="valid", use_bias=False, depthwise_initializer=msr(), name="d_basis")(x)
    return layers.Flatten(name="d_features")(x)


@keras.saving.register_keras_serializable(package="gan_keras")
class GenerativeBasis(layers.Layer):
    """A learned 4x4 basis per channel, each scaled by one number of the input: (batch, C) -> (batch, 4, 4, C)."""

    def build(self, input_shape):
        self.basis = self.add_weight(shape=(4, 4, input_shape[-1]), initializer="random_normal", name="basis")

    def call(self, scale):
        return keras.ops.cast(self.basis, scale.dtype)[None] * scale[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 4, 4, input_shape[-1])


def head_initializer():
    return msr()


declare("network", "r3gan", Network(generator, discriminator, check_shape, head_initializer=head_initializer),
        convolutional=True, loss="rpgan", augment="diffaug", cpu_width=8,
        loss_why="R3GAN's: the relativistic pairing loss with R1 and R2 (gamma, --gamma)",
        cpu_width_why="R3GAN on a CPU at 64x64: width 8 (64 channels at 8x8 and below, grouped 3x3 convolutions "
                      "of 16-channel groups)")
