"""Generator and discriminator networks.

`Build_Gen` / `Build_Disc` keep the names of the classic Keras GAN scripts. Every model is a plain
functional `keras.Model` built from stock layers, so it saves to and loads from `.keras` as is.

Example:
    >>> G = Build_Gen("dcgan", latent_dim=100, image_shape=(28, 28, 1))
    >>> D = Build_Disc("dcgan", image_shape=(28, 28, 1))
    >>> D(G(keras.random.normal((2, 100)))).shape
    TensorShape([2, 1])

Kinds:
    "mlp":      the classic fully connected MNIST GAN (Dense 256-512-1024, LeakyReLU 0.2,
                BatchNormalization momentum 0.8; discriminator Dense 512-256).
    "dcgan":    DCGAN (Radford et al. 2016) sized from the image shape: a Dense projection to a
                small map, Conv2DTranspose stride-2 upsampling with BatchNormalization, N(0, 0.02)
                weights; a mirrored strided-convolution discriminator without pooling.
    "tutorial": the TensorFlow DCGAN tutorial's 28x28 model, kept as the reference to beat.

Discriminators end in a float32 sigmoid, so they stay correct under mixed precision.
"""

import math

import keras
from keras import layers

KINDS = ("mlp", "dcgan", "tutorial")
MAX_FILTERS = 512


def _check(kind, image_shape):
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape}")
    if kind == "tutorial" and tuple(image_shape) != (28, 28, 1):
        raise ValueError("the 'tutorial' model is for 28x28x1 images only")


def upsampling_plan(image_shape):
    """Start size and number of stride-2 upsamplings for a DCGAN of this image shape.

    28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5).
    """
    height, width, _ = image_shape
    if height != width:
        raise ValueError(f"dcgan needs square images, got {height}x{width}")
    size, steps = height, 0
    while size % 2 == 0 and size > 4:
        size //= 2
        steps += 1
    if steps < 2 or size > 7:
        raise ValueError(f"dcgan supports sizes like 28, 32, 64, 128 (a power of two times 4 to 7), got {height}")
    return size, steps


def _batch_norm(**kwargs):
    # Synchronized: under tf.distribute the statistics are those of the global batch, so N replicas
    # train like one device. Without a strategy this is a plain BatchNormalization.
    return layers.BatchNormalization(synchronized=True, **kwargs)


def _init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def Build_Gen(kind="dcgan", latent_dim=100, image_shape=(28, 28, 1), width=64):
    """Build a generator mapping `latent_dim` noise to images in [-1, 1] (tanh).

    Args:
        kind: "mlp", "dcgan" or "tutorial".
        latent_dim: size of the noise vector.
        image_shape: (height, width, channels) of the generated images.
        width: filters of the last hidden DCGAN layer; they double towards the input, up to 512.
    """
    _check(kind, image_shape)
    image_shape = tuple(int(d) for d in image_shape)
    z = keras.Input((latent_dim,), name="z")
    if kind == "mlp":
        x = z
        for units in (256, 512, 1024):
            x = layers.Dense(units)(x)
            x = layers.LeakyReLU(0.2)(x)
            x = _batch_norm(momentum=0.8)(x)
        x = layers.Dense(math.prod(image_shape), activation="tanh")(x)
        x = layers.Reshape(image_shape)(x)
    elif kind == "tutorial":
        x = layers.Dense(7 * 7 * 256, use_bias=False)(z)
        x = layers.LeakyReLU()(_batch_norm()(x))
        x = layers.Reshape((7, 7, 256))(x)
        for filters, strides in ((128, 1), (64, 2)):
            x = layers.Conv2DTranspose(filters, 5, strides=strides, padding="same", use_bias=False)(x)
            x = layers.LeakyReLU()(_batch_norm()(x))
        x = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh")(x)
    else:
        start, steps = upsampling_plan(image_shape)
        filters = min(width * 2 ** (steps - 1), MAX_FILTERS)
        x = layers.Dense(start * start * filters, use_bias=False, kernel_initializer=_init())(z)
        x = layers.ReLU()(_batch_norm()(x))
        x = layers.Reshape((start, start, filters))(x)
        for i in range(steps - 1, 0, -1):
            filters = min(width * 2 ** (i - 1), MAX_FILTERS)
            x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                       kernel_initializer=_init())(x)
            x = layers.ReLU()(_batch_norm()(x))
        x = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same",
                                   kernel_initializer=_init())(x)
        x = layers.Activation("tanh")(x)
    # The image leaves the generator in float32 even under a mixed-precision policy.
    images = layers.Activation("linear", dtype="float32", name="images")(x)
    return keras.Model(z, images, name=f"generator_{kind}")


def Build_Disc(kind="dcgan", image_shape=(28, 28, 1), width=64):
    """Build a discriminator mapping images in [-1, 1] to P(real), shape (batch, 1).

    Args:
        kind: "mlp", "dcgan" or "tutorial".
        image_shape: (height, width, channels) of the input images.
        width: filters of the first DCGAN convolution; they double with depth, up to 512.
    """
    _check(kind, image_shape)
    image_shape = tuple(int(d) for d in image_shape)
    images = keras.Input(image_shape, name="images")
    if kind == "mlp":
        x = layers.Flatten()(images)
        for units in (512, 256):
            x = layers.LeakyReLU(0.2)(layers.Dense(units)(x))
    elif kind == "tutorial":
        x = images
        for filters in (64, 128):
            x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
            x = layers.Dropout(0.3)(layers.LeakyReLU()(x))
        x = layers.Flatten()(x)
    else:
        _, steps = upsampling_plan(image_shape)
        x = images
        for i in range(steps):
            x = layers.Conv2D(min(width * 2**i, MAX_FILTERS), 4, strides=2, padding="same",
                              use_bias=i == 0, kernel_initializer=_init())(x)
            if i > 0:  # DCGAN: no batch norm on the discriminator's input layer
                x = _batch_norm()(x)
            x = layers.LeakyReLU(0.2)(x)
        x = layers.Flatten()(x)
    x = layers.Dense(1, kernel_initializer=_init() if kind == "dcgan" else "glorot_uniform")(x)
    p_real = layers.Activation("sigmoid", dtype="float32", name="p_real")(x)
    return keras.Model(images, p_real, name=f"discriminator_{kind}")
