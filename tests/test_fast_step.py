"""The faster step computes what the stock Keras step computed: the fused BatchNorm and Adam kernels,
the sub-pixel image-side convolutions and the compiled DiffAugment against Keras's BatchNormalization,
Adam, Conv2D and Conv2DTranspose and DiffAugment written op by op (the implementation they
replaced), to float32 rounding."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.networks import subpixel
from gan_keras.networks.build import Build_Disc, Build_Gen
from gan_keras.networks.layers import KERAS_TWINS, BatchNorm, with_keras_layers
from gan_keras.training.augment import DiffAugment, shift
from gan_keras.training.fused import GAN
from gan_keras.training.noise import replica_uniform
from gan_keras.training.optimizers import FusedAdam


class ReferenceDiffAugment(DiffAugment):
    """DiffAugment as it was written before: colour step by step, translation as two products with
    shift matrices, cutout as its own mask."""

    def __call__(self, images, step, stream, seed=0):
        batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
        u = replica_uniform(seed, step, batch, stream, 7)
        x = images + (u[:, 0, None, None, None] - 0.5)
        grey = tf.reduce_mean(x, axis=3, keepdims=True)
        x = (x - grey) * (2.0 * u[:, 1, None, None, None]) + grey
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * (u[:, 2, None, None, None] + 0.5) + mean

        def to_int(uniform, low, high):
            return tf.cast(tf.floor(uniform * (high - low + 1)), tf.int32) + low

        def matrix(size, offset):
            index = tf.range(size)
            return tf.cast(tf.equal(index[None, None, :], index[None, :, None] - offset[:, None, None]), x.dtype)

        max_dy, max_dx = int(height * self.translation + 0.5), int(width * self.translation + 0.5)
        x = tf.einsum("bij,bjwc->biwc", matrix(height, to_int(u[:, 3], -max_dy, max_dy)), x)
        x = tf.einsum("bkl,bhlc->bhkc", matrix(width, to_int(u[:, 4], -max_dx, max_dx)), x)
        cut_h, cut_w = int(height * self.cutout + 0.5), int(width * self.cutout + 0.5)
        top = to_int(u[:, 5], 0, height + (1 - cut_h % 2) - 1) - cut_h // 2
        left = to_int(u[:, 6], 0, width + (1 - cut_w % 2) - 1) - cut_w // 2
        rows, cols = tf.range(height)[None, :], tf.range(width)[None, :]
        inside_rows = (rows >= top[:, None]) & (rows < top[:, None] + cut_h)
        inside_cols = (cols >= left[:, None]) & (cols < left[:, None] + cut_w)
        keep = 1.0 - tf.cast(inside_rows[:, :, None] & inside_cols[:, None, :], x.dtype)
        return x * keep[..., None]


def _assert_close(actual, expected, rtol=1e-5, what=""):
    """Equal to float32 rounding: the largest difference within rtol of the largest value."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(np.abs(expected).max(), 1e-12)
    assert np.abs(actual - expected).max() <= rtol * scale, (what, np.abs(actual - expected).max(), scale)


def _output_and_input_gradient(augment, images, step):
    weights = tf.constant(np.random.default_rng(1).normal(size=images.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = augment(images, tf.constant(step, tf.int64), 10, 0)
        loss = tf.reduce_sum(out * weights)
    return out, tape.gradient(loss, images)


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(16, 64, 64, 3), (8, 28, 28, 1)])
def test_diffaugment_equals_the_op_by_op_reference_forward_and_backward(shape):
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, shape).astype("float32"))
    for step in (0, 7, 123):
        out, grad = _output_and_input_gradient(DiffAugment(), images, step)
        ref_out, ref_grad = _output_and_input_gradient(ReferenceDiffAugment(), images, step)
        _assert_close(out, ref_out, what="images")
        _assert_close(grad, ref_grad, what="gradient")
        assert float(tf.reduce_mean(tf.cast(out == 0, tf.float32))) > 0.1  # the cutout square is there


def _penalty_gradient(augment, images, scale):
    """d/d(scale) of R1's |grad_x D(augment(x))|^2 for a toy D(x) = sum(tanh(scale * x)): the second
    order R1 and WGAN-GP take through the augmentation's gradient."""
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(images)
            logits = tf.reduce_sum(tf.tanh(scale * augment(images, tf.constant(5, tf.int64), 10, 0)))
        penalty = tf.reduce_sum(tf.square(inner.gradient(logits, images)))
    return outer.gradient(penalty, scale)


@pytest.mark.slow
def test_diffaugment_second_order_gradient_equals_the_reference():
    images = tf.constant(np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 3)).astype("float32"))
    scale = tf.Variable(tf.constant(np.linspace(0.5, 1.5, 3).astype("float32")))
    fast = _penalty_gradient(DiffAugment(), images, scale)
    reference = _penalty_gradient(ReferenceDiffAugment(), images, scale)
    assert float(tf.reduce_max(tf.abs(reference))) > 0
    _assert_close(fast, reference, what="second-order gradient")


def test_shift_moves_pixels_and_fills_zeros_and_its_gradient_is_the_opposite_shift():
    images = tf.reshape(tf.range(2 * 4 * 5, dtype=tf.float32), (2, 4, 5, 1)) + 1.0
    dy, dx = tf.constant([1, -2]), tf.constant([0, 3])
    moved = shift(images, dy, dx).numpy()[..., 0]
    expected = np.zeros((2, 4, 5))
    expected[0, 1:, :] = images.numpy()[0, :-1, :, 0]  # down by one
    expected[1, :2, 3:] = images.numpy()[1, 2:, :2, 0]  # up by two, right by three
    np.testing.assert_array_equal(moved, expected)
    upstream = tf.ones_like(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(shift(images, dy, dx) * upstream)
    grad = tape.gradient(loss, images).numpy()[..., 0]
    np.testing.assert_array_equal(grad, shift(upstream, -dy, -dx).numpy()[..., 0])  # the pixels that land inside


def _batch_norm_training_pass(layer, x, upstream):
    """Output, gradients (x, gamma, beta) and moving statistics of one training pass of `layer`."""
    layer.build(x.shape)
    layer.gamma.assign(np.linspace(0.5, 2.0, x.shape[-1]))
    layer.beta.assign(np.linspace(-1.0, 1.0, x.shape[-1]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y * upstream, tf.float32))
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [y, *grads, layer.moving_mean, layer.moving_variance]


@pytest.mark.parametrize("shape", [(64, 2048), (32, 16, 16, 8), (8, 5, 7)])
def test_fused_batch_norm_equals_keras_batch_normalization(shape):
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, shape).astype("float32"))
    upstream = tf.constant(np.random.default_rng(1).normal(size=shape).astype("float32"))
    results = []
    for cls in (keras.layers.BatchNormalization, BatchNorm):
        layer = cls(synchronized=True, momentum=0.8)
        results.append(_batch_norm_training_pass(layer, x, upstream) + [layer(x, training=False)])
    names = ["output", "d/dx", "d/dgamma", "d/dbeta", "moving mean", "moving variance", "inference output"]
    for name, fused, stock in zip(names, results[1], results[0]):
        _assert_close(fused, stock, rtol=1e-5, what=name)
    assert float(tf.reduce_max(tf.abs(results[1][4]))) > 0.1  # the moving statistics did move


def test_fused_batch_norm_takes_keras_path_where_it_does_not_apply():
    layer = BatchNorm(synchronized=True)
    maps = tf.zeros((4, 2, 2, 3))
    layer.build(maps.shape)
    assert layer._fused_applies(maps, training=True, mask=None)
    assert not layer._fused_applies(maps, training=False, mask=None)
    assert not layer._fused_applies(maps, training=True, mask=tf.ones((4, 2, 2)))
    assert not layer._fused_applies(tf.zeros((4, 3)), training=True, mask=None)  # dense activations: Keras's ops
    layer.trainable = False  # a frozen D normalises with its moving statistics, as Keras does
    assert not layer._fused_applies(maps, training=True, mask=None)


def _apply_function(optimizer, variable):
    @tf.function
    def apply(gradient):
        optimizer.apply_gradients([(gradient, variable)])

    return apply


def test_fused_adam_equals_keras_adam_over_many_steps():
    start = np.random.default_rng(0).normal(size=(30, 20)).astype("float32")
    states = []
    for optimizer in (keras.optimizers.Adam(2e-4, beta_1=0.5), FusedAdam(2e-4, beta_1=0.5)):
        variable = keras.Variable(start)
        optimizer.build([variable])
        apply = _apply_function(optimizer, variable)
        for i in range(30):
            apply(tf.constant(np.random.default_rng(i).normal(size=start.shape).astype("float32")))
        states.append([np.array(variable), np.array(optimizer._momentums[0]), np.array(optimizer._velocities[0])])
    # v differs by 1.3e-5 relative: the fused kernel forms 1 - beta_2 in float32 (1 - float32(0.999) =
    # 9.99987e-4), Keras in Python floats; the weights agree to float32 rounding all the same.
    for name, fused, stock, rtol in zip(("weights", "m", "v"), states[1], states[0], (1e-5, 1e-5, 2e-5)):
        _assert_close(fused, stock, rtol=rtol, what=name)
    assert np.abs(states[1][0] - start).max() > 1e-3  # 30 steps of 2e-4 moved the weights


def _stock_copy(model):
    """The same network and weights with Keras's own layers in place of the faster twins."""
    copy = with_keras_layers(model)
    assert copy is not model and not any(type(layer) in KERAS_TWINS for layer in copy.layers)
    return copy


def _conv_results(layer, x):
    """Output, gradients of sum(sin(y)) for the input and weights, and the R1-style second-order
    gradient of |d/dx|^2 for the weights (what R1 and WGAN-GP take through D's input layer)."""
    with tf.GradientTape() as outer:
        with tf.GradientTape(persistent=True) as inner:
            inner.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.sin(y))
        dx = inner.gradient(loss, x)
        penalty = tf.reduce_sum(dx**2)
    return [y, dx, *inner.gradient(loss, layer.trainable_weights), *outer.gradient(penalty, layer.trainable_weights)]


@pytest.mark.slow
@pytest.mark.parametrize("kind, shape, channels", [
    ("Conv2DTranspose", (4, 32, 32, 16), 3),  # the 64x64 generator's image layer
    ("Conv2DTranspose", (4, 14, 14, 64), 1),  # the 28x28 generator's
    ("Conv2D", (4, 64, 64, 3), 16),  # the 64x64 discriminator's input layer
    ("Conv2D", (4, 28, 28, 1), 64),
    ("Conv2D", (4, 7, 7, 3), 8),  # odd size: Keras's path
    ("Conv2DTranspose", (4, 8, 8, 16), 8),  # 8 channels: Keras's path
    ("Conv2D", (4, 8, 8, 64), 128),  # the 64x64 discriminator's last layer: the kernel gradient as a product
    ("Conv2DTranspose", (4, 4, 4, 128), 64),  # the 64x64 generator's first
    ("Conv2D", (4, 16, 16, 32), 64),  # 8x8 maps: Keras's path
])
def test_subpixel_layers_compute_what_keras_layers_compute(kind, shape, channels):
    """Same output, gradients for the input, kernel and bias, and second-order gradient, as Keras's
    layer with the same weights; the sub-pixel path (its 3x3 convolution in the graph) only where it applies."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape), tf.float32)
    theirs, ours = (cls(channels, 4, strides=2, padding="same") for cls in (getattr(keras.layers, kind),
                                                                               getattr(subpixel, kind)))
    for layer in (theirs, ours):
        layer.build(shape)
    theirs.set_weights([rng.normal(size=w.shape) for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    for name, a, b in zip(["output", "d/dx", "d/dkernel", "d/dbias", "d2/dkernel", "d2/dbias"],
                          _conv_results(ours, x), _conv_results(theirs, x)):
        # Second order: one bias gradient sums every pixel's term; on an AVX2-only EPYC (2026-12-04) oneDNN's
        # summation order moved the 28x28 generator's d2/dbias by 3.2e-5 of its value (AVX-512: under 2e-5).
        _assert_close(np.asarray(a), np.asarray(b), rtol=5e-5 if name.startswith("d2") else 2e-5, what=name)
    graph = tf.function(lambda x: tf.gradients(tf.reduce_sum(ours(x)), [x, ours.kernel])).get_concrete_function(x).graph
    image_channels = channels if kind == "Conv2DTranspose" else shape[-1]
    image_side = image_channels <= subpixel.MAX_CHANNELS and shape[1] % 2 == 0
    strided_side = shape[1] if kind == "Conv2DTranspose" else shape[1] // 2
    small_map = not image_side and shape[1] % 2 == 0 and strided_side <= subpixel.SMALL_MAP
    sizes = {tuple(op.inputs[1].shape[:2]) for op in graph.get_operations() if op.type == "Conv2D"}
    assert ((3, 3) in sizes) == image_side
    op_types = {op.type for op in graph.get_operations()}
    assert ("MatMul" in op_types) == small_map and ("Conv2DBackpropFilter" in op_types) != small_map


def _gradients(gan, real, step):
    """D's and G's losses and gradients of one step on a fixed batch (the D step's, then the G step's)."""
    z = tf.random.stateless_normal((len(real), gan.latent_dim), seed=[step, 1])
    with tf.GradientTape() as tape:
        fake = gan.generator(z, training=True)
        d_loss = gan.gan_loss.d_loss(gan.run_discriminator(real, step, 10), gan.run_discriminator(fake, step, 11),
                                     tf.ones((len(real), 1)), tf.zeros((len(real), 1)))
    d_grads = tape.gradient(d_loss, gan.discriminator.trainable_weights)
    with tf.GradientTape() as tape:
        g_loss = gan.gan_loss.g_loss(gan.run_discriminator(gan.generator(z, training=True), step, 12))
    g_grads = tape.gradient(g_loss, gan.generator.trainable_weights)
    return d_loss, g_loss, d_grads, g_grads


@pytest.mark.slow
def test_the_faster_step_computes_the_losses_and_gradients_of_the_stock_keras_step():
    """A 64x64 DCGAN with DiffAugment (the anime default's parts): same losses and gradients, then the
    same weights after three whole train steps, as G, D and Adam built from stock Keras pieces."""
    keras.utils.set_random_seed(0)
    shape = (64, 64, 3)
    G, D = Build_Gen("dcgan", 100, shape, 8), Build_Disc("dcgan", shape, 8)
    fast = GAN(G, D, augment="diffaug", ema=0.999)
    fast.compile(d_optimizer=FusedAdam(2e-4, beta_1=0.5), g_optimizer=FusedAdam(2e-4, beta_1=0.5))
    stock = GAN(_stock_copy(G), _stock_copy(D), augment="diffaug", ema=0.999)
    stock.augmenter = ReferenceDiffAugment()
    stock.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    real = tf.constant(np.random.default_rng(0).uniform(-1, 1, (16, *shape)).astype("float32"))

    # 5e-4: G's image bias gradient sums 16x64x64 terms that cancel to a small total, so float32
    # rounding alone moves it by up to 1.7e-4 between one thread and two (measured, on this code
    # and on the code before it); a wrong gradient is off by far more.
    for ours, theirs in zip(_gradients(fast, real, 3), _gradients(stock, real, 3)):
        for a, b in zip(ours if isinstance(ours, list) else [ours], theirs if isinstance(theirs, list) else [theirs]):
            _assert_close(a, b, rtol=5e-4, what="loss or gradient")

    images = np.random.default_rng(1).uniform(-1, 1, (48, *shape)).astype("float32")
    logs = [gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(16), epochs=1, verbose=0).history
            for gan in (fast, stock)]
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        assert math.isclose(logs[0][key][0], logs[1][key][0], rel_tol=1e-4), key
    for model_fast, model_stock in ((fast.generator, stock.generator), (fast.discriminator, stock.discriminator),
                                    (fast.sampler, stock.sampler)):
        for a, b in zip(model_fast.weights, model_stock.weights):
            np.testing.assert_allclose(np.array(a), np.array(b), atol=2e-5, err_msg=a.path)


def test_fused_batch_norm_takes_bfloat16_maps_without_casts_and_computes_the_same(monkeypatch):
    """Under mixed bfloat16 the kernel reads the maps as they are (statistics in float32 inside): the
    same output, gradients and moving statistics as casting them to float32 and back, as before."""
    import gan_keras.networks.layers as networks

    shape = (16, 8, 8, 12)
    x = tf.cast(np.random.default_rng(0).normal(2.0, 3.0, shape), tf.bfloat16)
    upstream = tf.cast(np.random.default_rng(1).normal(size=shape), tf.bfloat16)
    results = []
    for dtypes in ((tf.float32,), (tf.float32, tf.bfloat16)):
        monkeypatch.setattr(networks, "FUSED_BATCH_NORM_DTYPES", dtypes)
        layer = BatchNorm(synchronized=True, momentum=0.8, dtype="mixed_bfloat16")
        results.append(_batch_norm_training_pass(layer, x, upstream))
        assert results[-1][0].dtype == tf.bfloat16
    names = ["output", "d/dx", "d/dgamma", "d/dbeta", "moving mean", "moving variance"]
    for name, direct, cast, rtol in zip(names, results[1], results[0], (0, 0, 1e-5, 1e-5, 1e-6, 1e-6)):
        _assert_close(np.asarray(tf.cast(direct, tf.float32)), np.asarray(tf.cast(cast, tf.float32)), rtol, name)


def test_per_sample_discriminators_are_told_from_batch_dependent_ones():
    from gan_keras.networks.build import discriminator_logits, per_sample

    assert per_sample(discriminator_logits(Build_Disc("mlp")))
    assert per_sample(discriminator_logits(Build_Disc("mlp", num_classes=10)))  # projection: Embedding, Dot
    assert not per_sample(discriminator_logits(Build_Disc("dcgan")))  # batch norm
    assert not per_sample(discriminator_logits(Build_Disc("stylegan", (32, 32, 3), 8)))  # minibatch stddev
    assert not per_sample(discriminator_logits(Build_Disc("tutorial")))  # dropout draws per call


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [0, 10])
def test_one_discriminator_call_on_real_and_fake_trains_as_two(num_classes):
    """The MLP's D step scores the real and the generated batch in one call: three whole train steps
    give the losses and weights of two calls, to float32 rounding."""
    images = np.random.default_rng(1).uniform(-1, 1, (48, 28, 28, 1)).astype("float32")
    labels = np.arange(48) % 10
    data = tf.data.Dataset.from_tensor_slices((images, labels) if num_classes else images).batch(16)
    runs = []
    for one_call in (True, False):
        keras.utils.set_random_seed(0)
        gan = GAN(Build_Gen("mlp", num_classes=num_classes), Build_Disc("mlp", num_classes=num_classes))
        assert gan._d_per_sample
        gan._d_per_sample = one_call
        gan.compile()
        initial = np.array(gan.discriminator.weights[0])
        runs.append((gan.fit(data, epochs=1, verbose=0).history, gan))
    (logs_one, one), (logs_two, two) = runs
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        assert math.isclose(logs_one[key][0], logs_two[key][0], rel_tol=1e-5), key
    for model_one, model_two in ((one.generator, two.generator), (one.discriminator, two.discriminator)):
        for a, b in zip(model_one.weights, model_two.weights):
            np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-5, err_msg=a.path)
    assert np.abs(np.array(two.discriminator.weights[0]) - initial).max() > 1e-4  # three steps moved D


def test_subpixel_depth_to_space_equals_tensorflows_and_keeps_known_sizes():
    y = np.random.default_rng(0).normal(size=(2, 4, 5, 12)).astype("float32")
    np.testing.assert_array_equal(subpixel.depth_to_space(y), tf.nn.depth_to_space(y, 2))
    traced = tf.function(subpixel.depth_to_space).get_concrete_function(tf.TensorSpec([None, 32, 32, 12]))
    assert traced.output_shapes.as_list() == [None, 64, 64, 3]
