"""What every network family shares: the `Network` declaration, this package's fused BatchNorm,
the way back to Keras's own layers for saving (`with_keras_layers`), the DCGAN initialiser and the
minibatch standard deviation of the discriminators that see their batch."""

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers, ops

from gan_keras import backend, registry
from gan_keras.networks import grouped, subpixel

if backend.is_tensorflow():  # the fused batch norm is TensorFlow's kernel; other backends take Keras's own
    import tensorflow as tf


@dataclass(frozen=True)
class Network:
    """A declared family: its two bodies and the image shapes it accepts."""

    generator: Callable
    discriminator: Callable
    check_shape: Callable = lambda image_shape: None  # raises ValueError for shapes it cannot build
    head_initializer: Callable = lambda: "glorot_uniform"  # kernel initializer of D's score and projection


def get(name):
    """The declared `Network` of this name (a ValueError line naming the choices if there is none)."""
    return registry.get("network", name)


FUSED_BATCH_NORM_DTYPES = ("float32", "bfloat16")  # maps the fused kernel takes as they are


@keras.saving.register_keras_serializable(package="gan_keras")
class BatchNorm(layers.BatchNormalization):
    """Keras's BatchNormalization, whose training pass on one device runs TensorFlow's fused kernel.

    Keras 3 normalises with a dozen element-wise ops forward and as many backward; the fused
    `FusedBatchNormV3` kernel (oneDNN on a CPU) does the same arithmetic in one op each way, 2.2x
    faster for a 64x32x32x16 batch here. Same weights, same float32 statistics, same moving-average
    update (with the biased batch variance, as Keras uses). Only feature maps (rank 4) take it: on
    the (batch, units) activations of dense layers the kernel was slower than Keras's ops. Inference,
    several replicas (whose synchronized statistics need Keras's all-reduce), masks, renorm and axes
    other than the last take Keras's own path too.
    """

    def _fused_applies(self, inputs, training, mask):
        if not backend.is_tensorflow():
            return False
        context = tf.distribute.get_replica_context()
        return (training and self.trainable and mask is None and not self.renorm and self.scale and self.center
                and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and (context is None or context.num_replicas_in_sync == 1))

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        # The statistics in float32 under mixed precision, as Keras: the kernel takes bfloat16 maps
        # as they are and computes in float32 inside (the same numbers without two casts each way).
        fused_dtype = keras.backend.standardize_dtype(inputs.dtype) in FUSED_BATCH_NORM_DTYPES
        x = inputs if fused_dtype else tf.cast(inputs, tf.float32)
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=tf.cast(self.gamma, tf.float32), offset=tf.cast(self.beta, tf.float32),
            mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon, data_format="NHWC", is_training=True)
        count = tf.cast(tf.size(x) // x.shape[-1], tf.float32)
        variance = unbiased_variance * (count - 1.0) / count  # the kernel applies Bessel's correction
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)


def with_keras_layers(model):
    """The same network and weights with Keras's own layers in place of this package's faster twins
    (`BatchNorm`, `subpixel.Conv2D`, `subpixel.Conv2DTranspose`).

    They differ only in how they compute, so a saved generator (`generator.keras`) holds Keras's
    layers and loads with plain `keras.saving.load_model`, without this package.
    """
    if not any(type(layer) in KERAS_TWINS or getattr(layer, "synchronized", False) for layer in model.layers):
        return model

    def clone(layer):
        config = layer.get_config()
        if type(layer) in KERAS_TWINS:
            config.pop("implementation", None)  # how GroupedConv2D computes; Conv2D has one way
        if "synchronized" in config:
            config["synchronized"] = False  # the same inference; JAX and PyTorch cannot build a synchronized one
        return KERAS_TWINS.get(type(layer), type(layer)).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def batch_norm(**kwargs):
    """BatchNormalization, synchronized on TensorFlow: under tf.distribute the statistics are those of
    the global batch, so N replicas train like one device; on one device it runs the fused kernel
    (`BatchNorm`). JAX and PyTorch build no synchronized one (one device each here)."""
    return BatchNorm(synchronized=backend.is_tensorflow(), **kwargs)


def dcgan_init():
    """N(0, 0.02), the DCGAN paper's weight initialisation."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


# this package's faster layer -> Keras's
KERAS_TWINS = {BatchNorm: layers.BatchNormalization, subpixel.Conv2D: layers.Conv2D,
               subpixel.Conv2DTranspose: layers.Conv2DTranspose, grouped.GroupedConv2D: layers.Conv2D}


# registered under the package of the style-based networks, where it was first declared
@keras.saving.register_keras_serializable(package="gan_keras.stylegan")
class MinibatchStdDev(layers.Layer):
    """Appends the mean standard deviation over groups of `group_size` samples as one more channel
    (Karras et al. 2018): D sees how varied the batch is, which counters mode collapse."""

    def __init__(self, group_size=4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)

    def call(self, x):
        if not backend.is_tensorflow():
            return self._call_ops(x)
        batch = tf.shape(x)[0]
        group = tf.minimum(self.group_size, batch)
        group = tf.where(batch % group == 0, group, 1)
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        y = tf.reshape(tf.cast(x, tf.float32), [group, -1, h, w, c])
        std = tf.sqrt(tf.reduce_mean(tf.square(y - tf.reduce_mean(y, axis=0)), axis=0) + 1e-8)
        std = tf.reduce_mean(std, axis=[1, 2, 3])  # (batch / group,)
        std = tf.tile(std, [group])[:, None, None, None] * tf.ones([1, h, w, 1])
        return tf.concat([x, tf.cast(std, x.dtype)], axis=-1)

    def _call_ops(self, x):
        """The same in `keras.ops`, for a batch size known when the step is traced (JAX, PyTorch)."""
        batch, h, w, c = x.shape
        group = min(self.group_size, batch)
        group = group if batch % group == 0 else 1
        y = ops.reshape(ops.cast(x, "float32"), [group, -1, h, w, c])
        std = ops.sqrt(ops.mean(ops.square(y - ops.mean(y, axis=0)), axis=0) + 1e-8)
        std = ops.mean(std, axis=[1, 2, 3])  # (batch / group,)
        std = ops.tile(std, [group])[:, None, None, None] * ops.ones([1, h, w, 1])
        return ops.concatenate([x, ops.cast(std, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}
