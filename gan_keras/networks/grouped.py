"""A grouped convolution that is fast on every backend: Keras's `Conv2D(groups=G)`, computed the way
that runs fastest where it runs.

On a CPU, TensorFlow's and JAX's own grouped convolution ran a 3x3 convolution of 256 channels in 16
groups at 0.6 GFLOP/s, PyTorch's at 129, and a dense one at 244-366 on all three. The same function
computed as one dense convolution of the block-diagonal kernel (G times the arithmetic on the fast
kernel), or as G dense convolutions of one group each, can beat the grouped kernel many times over:
`python -m gan_keras.bench.grouped` measures the three, and `IMPLEMENTATION` holds the choice per
backend. The weights are Conv2D's, in its layout `(kh, kw, in / G, out)`, so the layer saves as a
plain `keras.layers.Conv2D` (`networks.layers.with_keras_layers`).

Example:
    >>> x = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype("float32")
    >>> grouped = GroupedConv2D(32, 3, groups=4, implementation="split")
    >>> y = grouped(x)
    >>> native = keras.layers.Conv2D(32, 3, groups=4, padding="same", use_bias=False)
    >>> _ = native(x)
    >>> native.set_weights(grouped.get_weights())
    >>> bool(np.allclose(y, native(x), atol=1e-4))
    True
"""

import keras
import numpy as np  # noqa: F401  (the example's)
from keras import layers

IMPLEMENTATIONS = ("native", "split", "dense")
# The fastest of IMPLEMENTATIONS per backend on a CPU: `python -m gan_keras.bench.grouped` on a 2-core AMD
# EPYC (AVX-512), 2026-12-06, forward + backward, GFLOP/s of the grouped arithmetic for the four shapes
# of bench.grouped.SHAPES: TensorFlow native 0.7-4.8, split 67-140, dense 14-98; JAX native 0.7-3.9,
# split 74-83, dense 11-45; PyTorch native 102-129, split 58-110, dense 14-73 (docs/results.md#speed).
IMPLEMENTATION = {"tensorflow": "split", "jax": "split", "torch": "native"}


@keras.saving.register_keras_serializable(package="gan_keras")
class GroupedConv2D(layers.Conv2D):
    """`keras.layers.Conv2D(filters, kernel_size, groups=groups, padding="same", use_bias=False)` computed
    by `implementation`: "native" (the backend's grouped kernel), "split" (one dense convolution per
    group, concatenated) or "dense" (one dense convolution of the block-diagonal kernel); None: the
    backend's entry of `IMPLEMENTATION`."""

    def __init__(self, filters, kernel_size, groups=1, implementation=None, **kwargs):
        kwargs.setdefault("padding", "same")
        kwargs.setdefault("use_bias", False)
        super().__init__(filters, kernel_size, groups=groups, **kwargs)
        if implementation not in (None, *IMPLEMENTATIONS):
            raise ValueError(f"implementation is one of {IMPLEMENTATIONS}, got {implementation!r}")
        self.implementation = implementation

    def convolution_op(self, inputs, kernel):
        how = self.implementation or IMPLEMENTATION.get(keras.backend.backend(), "native")
        if self.groups == 1 or how == "native":
            return super().convolution_op(inputs, kernel)
        if how == "split":
            parts = keras.ops.split(inputs, self.groups, axis=-1)
            kernels = keras.ops.split(kernel, self.groups, axis=-1)
            return keras.ops.concatenate([keras.ops.conv(x, k, strides=self.strides, padding=self.padding)
                                          for x, k in zip(parts, kernels)], axis=-1)
        return keras.ops.conv(inputs, block_diagonal(kernel, self.groups), strides=self.strides,
                              padding=self.padding)

    def get_config(self):
        return {**super().get_config(), "implementation": self.implementation}


def block_diagonal(kernel, groups):
    """A grouped kernel (kh, kw, in / G, out) as the dense kernel (kh, kw, in, out) that computes the same
    function: group g's block on the diagonal, zeros elsewhere."""
    kh, kw, per_group_in, out = kernel.shape
    per_group_out = out // groups
    blocks = keras.ops.reshape(kernel, (kh, kw, per_group_in, groups, per_group_out))
    eye = keras.ops.cast(keras.ops.eye(groups), kernel.dtype)
    # dense[:, :, g * in_g + i, h * out_g + o] = blocks[:, :, i, g, o] * (g == h)
    dense = keras.ops.einsum("abigo,gh->abgiho", blocks, eye)
    return keras.ops.reshape(dense, (kh, kw, groups * per_group_in, out))
