"""FastGAN (Liu et al. 2021, "Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image
Synthesis"), sized for a CPU: a generator of nearest-neighbour upsampling blocks with gated linear units
and skip-layer excitation (the 4x4 and 8x8 maps gate the channels of the 32x32 and 64x64 ones), and a
discriminator of two-branch downsampling blocks whose 16x16 and 8x8 maps (layers `FEATURES`) are what
its self-supervision reconstructs images from (`--loss fastgan`, `gan_keras.training.selfsup`).

As odegeasslbc/FastGAN-pytorch's `models.py`, less the noise injection, with the channels of
`width` (16 on a CPU: 128 at 4x4, halving to 8 at 64x64) instead of its 64 x {16, 8, 4, 2, 1}.

Example:
    >>> from gan_keras.networks.build import Build_Disc, Build_Gen
    >>> G = Build_Gen("fastgan", 100, (64, 64, 3), width=8)
    >>> tuple(G.outputs[0].shape)
    (None, 64, 64, 3)
    >>> D = Build_Disc("fastgan", (64, 64, 3), width=8)
    >>> [tuple(D.get_layer(name).output.shape) for name in FEATURES]
    [(None, 16, 16, 16), (None, 8, 8, 32)]
"""

import keras
from keras import layers

from gan_keras.networks.layers import Network, batch_norm
from gan_keras.registry import declare

FEATURES = ("fastgan_features_16", "fastgan_features_8")  # D's maps that the self-supervision decodes


@keras.saving.register_keras_serializable(package="gan_keras")
class GLU(layers.Layer):
    """Gated linear unit over channels: the first half times the sigmoid of the second."""

    def call(self, x):
        a, b = keras.ops.split(x, 2, axis=-1)
        return a * keras.ops.sigmoid(b)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)


def check_shape(image_shape):
    if tuple(image_shape[:2]) != (64, 64):
        raise ValueError(f"fastgan is built for 64x64 images here, got {image_shape[0]}x{image_shape[1]}")


def channels(width):
    """Channels per resolution of both networks."""
    return {4: 8 * width, 8: 4 * width, 16: 2 * width, 32: width, 64: max(width // 2, 4)}


def up_block(x, filters, double=False):
    """FastGAN's UpBlock (double=False) or UpBlockComp: nearest x2, 3x3 convolution, BN, GLU (twice)."""
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    for _ in range(2 if double else 1):
        x = layers.Conv2D(2 * filters, 3, padding="same", use_bias=False)(x)
        x = GLU()(batch_norm()(x))
    return x


def excitation(small, big):
    """Skip-layer excitation: a channel gate for `big` computed from the low-resolution `small`."""
    gate = layers.AveragePooling2D(small.shape[1] // 4)(small) if small.shape[1] > 4 else small
    gate = layers.Conv2D(big.shape[-1], 4, padding="valid", use_bias=False)(gate)
    gate = layers.Activation("swish")(gate)
    gate = layers.Conv2D(big.shape[-1], 1, use_bias=False, activation="sigmoid")(gate)
    return layers.Multiply()([big, layers.UpSampling2D(big.shape[1])(gate)])


def generator(z, image_shape, width):
    check_shape(image_shape)
    c = channels(width)
    x = layers.Dense(4 * 4 * 2 * c[4], use_bias=False)(z)
    feat_4 = GLU()(batch_norm()(layers.Reshape((4, 4, 2 * c[4]))(x)))
    feat_8 = up_block(feat_4, c[8], double=True)
    feat_16 = up_block(feat_8, c[16])
    feat_32 = excitation(feat_4, up_block(feat_16, c[32], double=True))
    feat_64 = excitation(feat_8, up_block(feat_32, c[64]))
    return layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh")(feat_64)


def down_block(x, filters, name=None):
    """FastGAN's DownBlockComp: a strided 4x4 + 3x3 branch and an average-pool + 1x1 branch, averaged."""
    main = layers.LeakyReLU(0.2)(batch_norm()(layers.Conv2D(filters, 4, strides=2, padding="same",
                                                             use_bias=False)(x)))
    main = layers.LeakyReLU(0.2)(batch_norm()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(main)))
    direct = layers.AveragePooling2D(2)(x)
    direct = layers.LeakyReLU(0.2)(batch_norm()(layers.Conv2D(filters, 1, use_bias=False)(direct)))
    return layers.Average(name=name)([main, direct])


def discriminator(images, image_shape, width):
    check_shape(image_shape)
    c = channels(width)
    x = layers.LeakyReLU(0.2)(layers.Conv2D(c[32], 4, strides=2, padding="same")(images))  # 32x32
    feat_16 = down_block(x, c[16], name=FEATURES[0])
    feat_8 = down_block(feat_16, c[8], name=FEATURES[1])
    x = down_block(feat_8, c[4])  # 4x4
    x = layers.LeakyReLU(0.2)(batch_norm()(layers.Conv2D(c[4], 1, use_bias=False)(x)))
    return layers.Flatten()(x)


declare("network", "fastgan", Network(generator, discriminator, check_shape), convolutional=True, augment="diffaug",
        loss="fastgan", loss_why="FastGAN's: hinge, and D reconstructs real images from its own 8x8 and 16x16 maps",
        cpu_width=8,
        cpu_width_why="FastGAN on a CPU at 64x64: width 8 trained 62-75 images/s on one core of the AMD EPYC, width "
                      "16 36, the DCGAN default 170-186 (docs/benchmarks/2026-12-04-faces-5min-30min-3h.md)")
