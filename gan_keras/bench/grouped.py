"""`python -m gan_keras.bench.grouped`: the three ways `networks.grouped.GroupedConv2D` can compute a
grouped 3x3 convolution, timed forward and backward on this backend (`KERAS_BACKEND`), in GFLOP/s of
the grouped convolution's own arithmetic. `networks.grouped.IMPLEMENTATION` holds the winners.

Example:
    >>> rows = measure([(2, 8, 8, 32, 2)], seconds=0.05)
    >>> sorted(rows[0]["gflops"])
    ['dense', 'native', 'split']
"""

import time

import numpy as np

# (batch, height, width, channels, groups): the 3x3 layers of R3GAN's blocks at CPU widths, and the
# 256-channel, 16-group one of the original measurement
SHAPES = [(32, 16, 16, 256, 16), (32, 8, 8, 128, 8), (32, 16, 16, 64, 4), (32, 32, 32, 32, 2)]


def _step(layer, x):
    """A function that runs the layer forward and backward (input and kernel gradients) once."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.square(layer(x)))
            return tape.gradient(loss, [x, layer.kernel])

        return step
    if backend == "jax":
        import jax

        gradient = jax.jit(jax.grad(lambda k, v: (layer.convolution_op(v, k) ** 2).sum(), argnums=(0, 1)))
        return lambda: jax.block_until_ready(gradient(layer.kernel.value, x))
    import torch

    x = torch.tensor(x, requires_grad=True)
    return lambda: (layer(x) ** 2).sum().backward()


def measure(shapes=SHAPES, seconds=2.0):
    """One row per shape: its shape and {implementation: GFLOP/s}."""
    from gan_keras.networks.grouped import IMPLEMENTATIONS, GroupedConv2D

    rows = []
    for batch, height, width, channels, groups in shapes:
        x = np.random.default_rng(0).normal(size=(batch, height, width, channels)).astype("float32")
        flops = 3 * 2 * batch * height * width * channels * (channels // groups) * 9  # forward + 2 backward
        gflops = {}
        for how in IMPLEMENTATIONS:
            layer = GroupedConv2D(channels, 3, groups=groups, implementation=how)
            layer.build(x.shape)
            step = _step(layer, x)
            step()
            count, start = 0, time.perf_counter()
            while count < 2 or time.perf_counter() - start < seconds:
                step()
                count += 1
            gflops[how] = flops * count / (time.perf_counter() - start) / 1e9
        rows.append({"shape": (batch, height, width, channels, groups), "gflops": gflops})
    return rows


def main():
    import keras

    for row in measure():
        b, h, w, c, g = row["shape"]
        cells = " | ".join(f"{how} {value:6.1f}" for how, value in row["gflops"].items())
        print(f"{keras.backend.backend():10s} {b}x{h}x{w}x{c}, {g} groups: {cells} GFLOP/s", flush=True)


if __name__ == "__main__":
    main()
