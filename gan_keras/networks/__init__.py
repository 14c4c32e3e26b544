"""Network families, one module each, in a small registry that `Build_Gen` / `Build_Disc` read.

A family is registered with a generator body and a discriminator body:

    generator(z, image_shape, width) -> images tensor in [-1, 1] (batch, H, W, C)
    discriminator(images, image_shape, width) -> features, (batch, F), before the score

`gan_keras.models` adds what every family shares: the inputs, the class embedding of a
conditional generator, the discriminator's score (a Dense(1) head, plus the class projection of a
conditional one), the float32 output layers and the optional sigmoid. A new family is a new
module that calls `register`.

Example:
    >>> from gan_keras.networks import NETWORKS
    >>> sorted(NETWORKS)
    ['dcgan', 'mlp', 'stylegan', 'tutorial']
"""

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers


@dataclass(frozen=True)
class Network:
    """A registered family: its two bodies and the image shapes it accepts."""

    name: str
    generator: Callable
    discriminator: Callable
    check_shape: Callable = lambda image_shape: None  # raises ValueError for shapes it cannot build
    head_initializer: Callable = lambda: "glorot_uniform"  # kernel initializer of D's score and projection


NETWORKS = {}


def register(name, generator, discriminator, check_shape=None, head_initializer=None):
    NETWORKS[name] = Network(name, generator, discriminator, check_shape or (lambda image_shape: None),
                             head_initializer or (lambda: "glorot_uniform"))


def get(name):
    if name not in NETWORKS:
        raise ValueError(f"unknown model kind {name!r}; choose one of {', '.join(NETWORKS)}")
    return NETWORKS[name]


def batch_norm(**kwargs):
    """Synchronized BatchNormalization: under tf.distribute the statistics are those of the global
    batch, so N replicas train like one device. Without a strategy it is a plain BatchNormalization."""
    return layers.BatchNormalization(synchronized=True, **kwargs)


def dcgan_init():
    """N(0, 0.02), the DCGAN paper's weight initialisation."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


from gan_keras.networks import dcgan, mlp, stylegan, tutorial  # noqa: E402  (each registers itself)

__all__ = ["NETWORKS", "Network", "register", "get", "batch_norm", "dcgan_init", "dcgan", "mlp", "stylegan",
           "tutorial"]
