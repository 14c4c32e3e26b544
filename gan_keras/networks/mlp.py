"""The classic fully connected MNIST GAN (Goodfellow et al. 2014, as in the classic Keras scripts):
generator Dense 256-512-1024 with LeakyReLU 0.2 and BatchNormalization momentum 0.8; discriminator
Dense 512-256 with LeakyReLU 0.2. `width` is not used."""

import math

from keras import layers

from gan_keras.networks.layers import Network, batch_norm
from gan_keras.registry import declare


def generator(z, image_shape, width):
    x = z
    for units in (256, 512, 1024):
        x = layers.Dense(units)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = batch_norm(momentum=0.8)(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh")(x)
    return layers.Reshape(image_shape)(x)


def discriminator(images, image_shape, width):
    x = layers.Flatten()(images)
    for units in (512, 256):
        x = layers.LeakyReLU(0.2)(layers.Dense(units)(x))
    return x


declare("network", "mlp", Network(generator, discriminator),
        cpu_bfloat16="1.2x the MLP steps and a lower domain FID in 5 minutes of MNIST, three pairs of runs",
        ema_why="0.999 with StyleGAN's ramp-up: 5 minutes of MNIST side by side, one core each, domain FID "
                "4.85 ± 0.18 with it against 6.37 ± 0.10 without; 30 minutes: 3.89 against 5.88 "
                "(docs/benchmarks/2026-12-04-mnist-shipped-generator.md)")
