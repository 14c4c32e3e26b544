"""Keras's Conv2DTranspose and Conv2D for the 4x4 stride-2 layers at an image's ends and at the
4x4 maps, on faster paths.

TensorFlow's CPU kernel for a transposed convolution (oneDNN's backward-data convolution) runs at a
tenth of its usual rate when it writes only a few channels: a DCGAN generator's output layer
(16 -> 3 channels, 64x64) took 7.2 ms where a 3x3 convolution to 12 channels took 3.7, and a
discriminator's input layer pays the same in its gradient for the image (G's step). A 4x4 stride-2
transposed convolution is exactly a 3x3 convolution to 4x the channels, one group per output pixel
phase, followed by a depth-to-space (the "sub-pixel" form), so these layers compute that instead,
with the usual kernels for their other gradients (`tf.custom_gradient`). Same weights, same
arithmetic up to float32 summation order (`tests/test_fast_step.py`); other layers, other shapes
and GPUs keep Keras's own path.

At the other end, next to the 4x4 maps, oneDNN's gradient for the kernel of a 4x4 stride-2 layer
runs at a third of its rate elsewhere (8x8x64 <-> 4x4x128: 3.4-3.5 ms a call in the 64x64 step
for 0.27 GFLOP, one core). There the layers compute it as one matrix product of the 4x4 input
patches (gathered by a space-to-depth and four slices) with the output gradient
(`filter_gradient`): 1.4-1.6 ms for the product.

Example:
    >>> import numpy as np
    >>> layer = Conv2DTranspose(3, 4, strides=2, padding="same")   # as keras.layers.Conv2DTranspose
    >>> layer(np.zeros((1, 32, 32, 16), "float32")).shape
    TensorShape([1, 64, 64, 3])
"""

import keras
from keras import layers

from gan_keras import backend

if backend.is_tensorflow():  # these paths are TensorFlow kernels; other backends take Keras's own (`_path`)
    import tensorflow as tf

MAX_CHANNELS = 4  # image-side channels up to which the sub-pixel form was faster (3: 7.2 -> 3.7 ms)
SMALL_MAP = 4  # strided-side map size up to which the kernel gradient as one matrix product was faster
# The name scopes of the custom gradients' ops, which TensorFlow does not put under "gradient_tape/":
# a profile (`gan_keras.bench.profiling`) tells them from forward ops by these.
GRADIENT_SCOPES = {"transposed": "transposed_conv_gradient", "strided": "conv_gradient"}

# For output phase a (0: even rows, 1: odd rows), the kernel row that meets input rows i-1, i, i+1
# (4: a zero row) in TensorFlow's 'SAME' 4x4 stride-2 transposed convolution; the same for columns.
_PHASE_TAPS = [[3, 1, 4], [4, 2, 0]]


def subpixel_kernel(kernel):
    """(4, 4, out, in) transposed-convolution kernel -> (3, 3, in, 4 * out), phases (row, column, out)."""
    padded = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
    taps = tf.gather(tf.gather(padded, _PHASE_TAPS, axis=0), _PHASE_TAPS, axis=2)  # (a, row, b, col, out, in)
    taps = tf.transpose(taps, [1, 3, 5, 0, 2, 4])  # (row, col, in, a, b, out)
    return tf.reshape(taps, [3, 3, kernel.shape[3], 4 * kernel.shape[2]])


def depth_to_space(y):
    """`tf.nn.depth_to_space(y, 2)` as a reshape and transpose: the same values, 3x faster here
    (0.35 against 1.08 ms for 64x32x32x12 in bfloat16, one core)."""
    batch, height, width, channels = [static if static is not None else dynamic  # keeps known sizes static
                                      for static, dynamic in zip(y.shape, tf.unstack(tf.shape(y)))]
    phases = tf.reshape(y, [batch, height, width, 2, 2, channels // 4])
    return tf.reshape(tf.transpose(phases, [0, 1, 3, 2, 4, 5]), [batch, 2 * height, 2 * width, channels // 4])


def conv_transpose_subpixel(x, kernel, bias=None):
    """`tf.nn.conv2d_transpose(x, kernel, 2x the size, strides=2, padding="SAME")` (+ bias) for a 4x4 kernel."""
    y = tf.nn.conv2d(x, subpixel_kernel(kernel), strides=1, padding="SAME")
    if bias is not None:
        y = tf.nn.bias_add(y, tf.tile(bias, [4]))
    return depth_to_space(y)


def filter_gradient(images, out_backprop):
    """The kernel gradient of a 4x4 stride-2 'SAME' convolution from `images` (even sizes) to
    `out_backprop`: TensorFlow's kernel, or for maps up to `SMALL_MAP` one matrix product of the
    input patches with the output gradient (the same sums in another order)."""
    channels, height, width = images.shape[3], out_backprop.shape[1], out_backprop.shape[2]
    if max(height, width) > SMALL_MAP:
        return tf.raw_ops.Conv2DBackpropFilter(input=images, filter_sizes=[4, 4, channels, out_backprop.shape[3]],
                                               out_backprop=out_backprop, strides=[1, 2, 2, 1], padding="SAME")
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])  # 'SAME': one row and column on each side
    blocks = tf.reshape(padded, [-1, height + 1, 2, width + 1, 2, channels])
    blocks = tf.transpose(blocks, [0, 1, 3, 2, 4, 5])  # (batch, block row, block col, r, s, in)
    # output pixel (i, j) reads blocks (i + a, j + b), a, b in {0, 1}: kernel tap (2a + r, 2b + s)
    patches = tf.stack([blocks[:, a:a + height, b:b + width] for a in (0, 1) for b in (0, 1)], axis=3)
    patches = tf.reshape(patches, [-1, 16 * channels])  # rows: (batch, i, j); columns: (a, b, r, s, in)
    sums = tf.matmul(patches, tf.reshape(out_backprop, [-1, out_backprop.shape[3]]), transpose_a=True)
    sums = tf.transpose(tf.reshape(sums, [2, 2, 2, 2, channels, -1]), [0, 2, 1, 3, 4, 5])  # (a, r, b, s, in, out)
    return tf.reshape(sums, [4, 4, channels, out_backprop.shape[3]])


def _bias_gradient(dy, bias):
    # per image, then over the batch: 40x less float32 rounding than one sum over all three axes
    return tf.cast(tf.reduce_sum(tf.reduce_sum(tf.cast(dy, tf.float32), [1, 2]), 0), bias.dtype)


def _transposed(image_side):
    """A 4x4 stride-2 'SAME' transposed convolution + bias: the sub-pixel forward pass for an image
    side, else TensorFlow's; the kernel gradient by `filter_gradient`."""

    @tf.custom_gradient
    def transposed(x, kernel, bias):
        def grad(dy):
            with tf.name_scope(GRADIENT_SCOPES["transposed"]):
                return (tf.nn.conv2d(dy, kernel, strides=2, padding="SAME"), filter_gradient(dy, x),
                        _bias_gradient(dy, bias))

        if image_side:
            return conv_transpose_subpixel(x, kernel, bias), grad
        shape = [tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], kernel.shape[2]]
        y = tf.nn.conv2d_transpose(x, kernel, shape, strides=2, padding="SAME")
        return tf.nn.bias_add(y, bias), grad

    return transposed


def _strided(image_side):
    """A 4x4 stride-2 'SAME' convolution: its gradient for the input in the sub-pixel form for an
    image side, else TensorFlow's; the kernel gradient by `filter_gradient`."""

    @tf.custom_gradient
    def strided(x, kernel):
        def grad(dy):
            with tf.name_scope(GRADIENT_SCOPES["strided"]):
                dx = (conv_transpose_subpixel(dy, kernel) if image_side else
                      tf.nn.conv2d_transpose(dy, kernel, tf.shape(x), strides=2, padding="SAME"))
                return dx, filter_gradient(x, dy)

        return tf.nn.conv2d(x, kernel, strides=2, padding="SAME"), grad

    return strided


def _path(layer, image_channels, image_size, small_size):
    """Which faster path a 4x4 stride-2 'same' layer takes on a CPU ("image side", "small map") or
    None for Keras's own: few image-side channels and an even image size (a transposed
    convolution's output is always even), or a strided-side map of at most `SMALL_MAP`."""
    plain = (keras.backend.backend() == "tensorflow" and layer.kernel_size == (4, 4) and layer.strides == (2, 2)
             and layer.padding == "same" and layer.data_format == "channels_last" and layer.dilation_rate == (1, 1)
             and getattr(layer, "output_padding", None) is None and getattr(layer, "groups", 1) == 1
             and all(size is not None and size % 2 == 0 for size in image_size)
             and not tf.config.list_logical_devices("GPU"))
    if not plain:
        return None
    if image_channels <= MAX_CHANNELS:
        return "image side"
    return "small map" if all(size is not None and size <= SMALL_MAP for size in small_size) else None


@keras.saving.register_keras_serializable(package="gan_keras")
class Conv2DTranspose(layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose; a 4x4 stride-2 'same' layer writing up to 4 channels (a
    generator's image) runs its forward pass in the sub-pixel form, one reading 4x4 maps its kernel
    gradient as a matrix product (module docstring)."""

    def call(self, inputs):
        path = _path(self, self.filters, (), inputs.shape[1:3])
        if path is None:
            return super().call(inputs)
        kernel = tf.cast(self.kernel, self.compute_dtype)
        bias = tf.cast(self.bias, self.compute_dtype) if self.use_bias else tf.zeros([self.filters], self.compute_dtype)
        outputs = _transposed(path == "image side")(inputs, kernel, bias)
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package="gan_keras")
class Conv2D(layers.Conv2D):
    """keras.layers.Conv2D; a 4x4 stride-2 'same' layer reading up to 4 channels (a discriminator's
    image) computes its gradient for the image in the sub-pixel form, one writing 4x4 maps its
    kernel gradient as a matrix product (module docstring)."""

    def convolution_op(self, inputs, kernel):
        size = inputs.shape[1:3]
        path = _path(self, inputs.shape[-1], size, [None if s is None else s // 2 for s in size])
        if path is None:
            return super().convolution_op(inputs, kernel)
        return _strided(path == "image side")(inputs, tf.cast(kernel, self.compute_dtype))
