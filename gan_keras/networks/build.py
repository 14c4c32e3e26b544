"""Generator and discriminator networks: `Build_Gen` / `Build_Disc`, the names of the classic Keras
GAN scripts, for every family in the `gan_keras.networks` registry.

Every model is a plain functional `keras.Model` built from stock layers, so it saves to and loads
from `.keras` as is.

Example:
    >>> G = Build_Gen("dcgan", latent_dim=100, image_shape=(28, 28, 1))
    >>> D = Build_Disc("dcgan", image_shape=(28, 28, 1))
    >>> D(G(keras.random.normal((2, 100)))).shape          # P(real), as the classic scripts use it
    TensorShape([2, 1])
    >>> discriminator_logits(D)(G(keras.random.normal((2, 100)))).shape   # the same network's logits
    TensorShape([2, 1])

Kinds: "mlp" (the classic fully connected MNIST GAN), "dcgan" (Radford et al. 2016, sized from the
image shape), "stylegan" (a style-based generator, StyleGAN2's skip architecture), "tutorial" (the
TensorFlow DCGAN tutorial's 28x28 model, the reference to beat): the `gan_keras.networks` registry.

With `num_classes`, both are class-conditional and take a second input, the integer `label`:
G reads z with a learned 10-d class embedding beside it, and D is a projection discriminator
(Miyato and Koyama 2018): score = head(features) + <embedding(label), features>.

    >>> G = Build_Gen("mlp", 100, (28, 28, 1), num_classes=10)
    >>> D = Build_Disc("mlp", (28, 28, 1), num_classes=10)
    >>> z = np.zeros((4, 100), "float32")
    >>> sevens = G([z, np.full(len(z), 7)])

Both networks end in float32 layers, so they stay correct under mixed precision: the generator's
`images`, the discriminator's `logits` and, after it, the sigmoid `p_real`.
"""

import keras
import numpy as np
from keras import layers

from gan_keras import backend, registry
from gan_keras.errors import UsageError
from gan_keras.networks.layers import get as network_family

CLASS_CODE_SIZE = 10  # a conditional G's class embedding, concatenated with z
# Layer and input names other modules rely on (the trainers, latent tools, export): one spelling each.
LABEL, IMAGES, LOGITS, P_REAL = "label", "images", "logits", "p_real"
CLASS_EMBEDDING, CLASS_PROJECTION = "class_embedding", "class_projection"


def _family(kind, image_shape):
    family = network_family(kind)
    if registry.info("network", kind).get("tensorflow_only"):
        backend.require_tensorflow(f"--model {kind}")
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape}")
    image_shape = tuple(int(d) for d in image_shape)
    family.check_shape(image_shape)
    return family, image_shape


def _label_input(num_classes):
    if int(num_classes) < 2:
        raise ValueError(f"a conditional model needs at least 2 classes, got {num_classes}")
    return keras.Input((), dtype="int32", name=LABEL)


def Build_Gen(kind="dcgan", latent_dim=100, image_shape=(28, 28, 1), width=64, num_classes=0):
    """Build a generator mapping `latent_dim` noise to images in [-1, 1] (tanh).

    Args:
        kind: a family of `gan_keras.networks` ("mlp", "dcgan", "stylegan", "tutorial").
        latent_dim: size of the noise vector.
        image_shape: (height, width, channels) of the generated images.
        width: filters of the last hidden DCGAN layer; they double towards the input, up to 512.
        num_classes: 0 for noise -> image; else the generator takes `[z, label]` and draws that class.
    """
    family, image_shape = _family(kind, image_shape)
    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        label = _label_input(num_classes)
        # A small code that starts near zero and is learned: measured on MNIST
        # (docs/benchmarks/2026-11-24-conditional-5min.md), a 100-d code on the scale of z (N(0, 1)) made G
        # ignore z, one image per class.
        embedding = layers.Embedding(num_classes, CLASS_CODE_SIZE, name=CLASS_EMBEDDING)
        inputs, x = [z, label], layers.Concatenate(name="z_and_class")([z, embedding(label)])
    x = family.generator(x, image_shape, width)
    images = layers.Activation("linear", dtype="float32", name=IMAGES)(x)
    return keras.Model(inputs, images, name=f"generator_{kind}")


def Build_Disc(kind="dcgan", image_shape=(28, 28, 1), width=64, num_classes=0):
    """Build a discriminator mapping images in [-1, 1] to P(real), shape (batch, 1).

    Its layer `logits` holds the score before the sigmoid, which the fused trainer trains on
    (`discriminator_logits`); the classic combined model and `ClassicGAN` use P(real).

    Args:
        kind: a family of `gan_keras.networks` ("mlp", "dcgan", "stylegan", "tutorial").
        image_shape: (height, width, channels) of the input images.
        width: filters of the first DCGAN convolution; they double with depth, up to 512.
        num_classes: 0 for an unconditional D; else it takes `[images, label]` and projects the
            label's embedding on its features (a projection discriminator).
    """
    family, image_shape = _family(kind, image_shape)
    images = keras.Input(image_shape, name=IMAGES)
    inputs = images
    features = family.discriminator(images, image_shape, width)
    score = layers.Dense(1, kernel_initializer=family.head_initializer(), name="score")(features)
    if num_classes:
        label = _label_input(num_classes)
        inputs = [images, label]
        projection = layers.Embedding(num_classes, int(features.shape[-1]),
                                      embeddings_initializer=family.head_initializer(),
                                      name=CLASS_PROJECTION)(label)
        score = layers.Add()([score, layers.Dot(axes=1)([features, projection])])
    logits = layers.Activation("linear", dtype="float32", name=LOGITS)(score)
    p_real = layers.Activation("sigmoid", dtype="float32", name=P_REAL)(logits)
    return keras.Model(inputs, p_real, name=f"discriminator_{kind}")


def num_classes(model):
    """The number of classes of a conditional generator or discriminator; 0 for an unconditional one."""
    for name in (CLASS_EMBEDDING, CLASS_PROJECTION):
        if any(layer.name == name for layer in model.layers):
            return int(model.get_layer(name).input_dim)
    return 0


# Layers whose output for one image depends on that image alone (BatchNormalization's statistics,
# a minibatch standard deviation or dropout's draws do not).
PER_SAMPLE_LAYERS = (layers.InputLayer, layers.Dense, layers.Conv2D, layers.Flatten, layers.Reshape,
                     layers.LeakyReLU, layers.ReLU, layers.Activation, layers.Embedding, layers.Concatenate,
                     layers.Add, layers.Dot, layers.AveragePooling2D)


def per_sample(model):
    """Whether every layer of `model` maps each image on its own, so that one call on two batches
    stacked gives the logits of two calls.

    Example:
        >>> per_sample(Build_Disc("mlp")), per_sample(Build_Disc("dcgan"))   # DCGAN's D has batch norm
        (True, False)
    """
    return all(per_sample(layer) if isinstance(layer, keras.Model) else type(layer) in PER_SAMPLE_LAYERS
               for layer in model.layers)


def discriminator_logits(discriminator):
    """The discriminator's logits: the sub-model up to its layer `logits` (same weights), or the
    discriminator itself when it has no such layer (then it must output logits already).

    Example:
        >>> D = Build_Disc("mlp")
        >>> x = np.zeros((1, 28, 28, 1), "float32")
        >>> (float(discriminator_logits(D)(x)[0, 0]) > 0) == (float(D(x)[0, 0]) > 0.5)
        True
    """
    names = [layer.name for layer in discriminator.layers]
    if LOGITS not in names or names[-1] == LOGITS:
        return discriminator
    return keras.Model(discriminator.inputs, discriminator.get_layer(LOGITS).output,
                       name=f"{discriminator.name}_logits")


# ---------------------------------------------------------------------------------------------
# Calling a generator: the one place that knows a conditional one takes [z, label]

NOT_CONDITIONAL = "this run is not class-conditional (trained without --conditional): it has no classes"


def class_labels(generator, n, labels=None):
    """The `n` labels a conditional generator draws: `labels` (one class, or one per image), else
    the classes in turn (0, 1, ..., 0, 1, ...). One UsageError line for a class the run lacks."""
    classes = num_classes(generator)
    if labels is None:
        return np.arange(n, dtype=np.int32) % classes
    labels = np.broadcast_to(np.asarray(labels, np.int32), (n,)).copy()
    bad = labels[(labels < 0) | (labels >= classes)]
    if len(bad):
        raise UsageError(f"class {bad[0]} is outside this run's classes 0-{classes - 1}")
    return labels


def draw(generator, z, labels=None):
    """A generator's images for the noise `z` (and, when conditional, `labels`), in inference mode,
    as a NumPy array.

    The one place that knows a conditional generator takes [z, label]; `labels` of an
    unconditional one is a UsageError.
    """
    if not num_classes(generator):
        if labels is not None:
            raise UsageError(NOT_CONDITIONAL)
        inputs = z
    else:
        labels = class_labels(generator, len(z), labels)
        inputs = [keras.ops.convert_to_tensor(z), keras.ops.convert_to_tensor(labels)]
    with backend.no_gradient():
        return keras.ops.convert_to_numpy(generator(inputs, training=False))


def class_grid_inputs(noise, classes, columns=10, max_rows=10):
    """Noise and labels of a class grid: one row per class (the first `max_rows`), the same
    `columns` noise vectors in every row, so a column is one "style" drawn as every class."""
    rows = min(classes, max_rows)
    z = np.tile(np.asarray(noise[:columns], np.float32), (rows, 1))
    return z, np.repeat(np.arange(rows, dtype=np.int32), columns)
