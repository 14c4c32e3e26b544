"""Network families, one module each, declared to `gan_keras.registry` (kind "network"), which
`Build_Gen` / `Build_Disc`, the command line and the recipe read.

A family is declared with a generator body and a discriminator body:

    generator(z, image_shape, width) -> images tensor in [-1, 1] (batch, H, W, C)
    discriminator(images, image_shape, width) -> features, (batch, F), before the score

`gan_keras.networks.build` adds what every family shares: the inputs, the class embedding of a
conditional generator, the discriminator's score (a Dense(1) head, plus the class projection of a
conditional one), the float32 output layers and the optional sigmoid. A new family is a new
module that declares itself:

    declare("network", "myfamily", Network(generator, discriminator))   # networks.layers.Network

Example:
    >>> from gan_keras import registry
    >>> registry.names("network")
    ('dcgan', 'dcgan_mbstd', 'fastgan', 'mlp', 'r3gan', 'stylegan', 'tutorial')
    >>> from gan_keras.networks.layers import get
    >>> get("dcgan").generator          # the body
    <function generator at ...>
"""

# Importing the package registers every family and its Keras layers (what a saved generator may hold).
from gan_keras.networks import dcgan, fastgan, mlp, r3gan, stylegan, tutorial  # noqa: E402,F401
