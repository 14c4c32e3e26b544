"""The TensorFlow DCGAN tutorial's 28x28x1 model, kept as the reference to beat. `width` is not used."""

from keras import layers

from gan_keras.networks.layers import Network, batch_norm
from gan_keras.registry import declare


def check_shape(image_shape):
    if tuple(image_shape) != (28, 28, 1):
        raise ValueError("the 'tutorial' model is for 28x28x1 images only")


def generator(z, image_shape, width):
    x = layers.Dense(7 * 7 * 256, use_bias=False)(z)
    x = layers.LeakyReLU()(batch_norm()(x))
    x = layers.Reshape((7, 7, 256))(x)
    for filters, strides in ((128, 1), (64, 2)):
        x = layers.Conv2DTranspose(filters, 5, strides=strides, padding="same", use_bias=False)(x)
        x = layers.LeakyReLU()(batch_norm()(x))
    return layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh")(x)


def discriminator(images, image_shape, width):
    x = images
    for filters in (64, 128):
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.Dropout(0.3)(layers.LeakyReLU()(x))
    return layers.Flatten()(x)


declare("network", "tutorial", Network(generator, discriminator, check_shape))
