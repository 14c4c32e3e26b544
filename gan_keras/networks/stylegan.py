"""A style-based generator (Karras et al. 2019, 2020: StyleGAN2's skip generator) scaled for 28-128 px,
and a residual discriminator with minibatch standard deviation.

Generator: z -> `mapping` (PixelNorm, `depth` equalized Dense layers, LeakyReLU) -> w, repeated once
per style input -> `synthesis`: a learned constant at the start size, then per resolution two
modulated-demodulated 3x3 convolutions (the first upsamples), per-pixel noise, and a toRGB output
added to the upsampled image so far. During training, style mixing feeds the styles after a random
layer from another sample's w (90% of batches).

The two halves are named sub-models, `mapping` (z -> w) and `synthesis` (ws (batch, num_ws, w_dim)
-> images), which `gan_keras.tools.latent` uses for interpolation in w, style mixing and truncation.

Randomness without state: the per-pixel noise and the mixing draws of a training step are stateless
draws keyed by the bits of that step's own tensors, so a resumed run redraws them exactly; outside
training the noise is each layer's fixed buffer (StyleGAN's "const" noise) and there is no mixing.

Example:
    >>> from gan_keras.networks.build import Build_Gen
    >>> G = Build_Gen("stylegan", 128, (64, 64, 3), width=32)
    >>> G.get_layer("mapping").name, G.get_layer("synthesis").name
    ('mapping', 'synthesis')
"""

import math

import keras

from gan_keras import backend

if backend.is_tensorflow():  # TensorFlow only, for now (declared tensorflow_only)
    import tensorflow as tf
from keras import layers

from gan_keras.networks.dcgan import filters, upsampling_plan
from gan_keras.networks.layers import MinibatchStdDev, Network
from gan_keras.registry import declare

W_DIM = 128
MAPPING_DEPTH = 4
MIXING_PROBABILITY = 0.9
SERIAL = "gan_keras.stylegan"

MAPPING, SYNTHESIS = "mapping", "synthesis"  # the two sub-models, by name (gan_keras.tools.latent reads them)


def _key(tensor, salt):
    """A stateless-RNG seed from the bits of a tensor's first values: the same tensor, the same draw."""
    bits = tf.bitcast(tf.cast(tf.reshape(tensor, [-1])[:2], tf.float32), tf.int32)
    return tf.stack([bits[0] + salt, bits[1] ^ salt])


@keras.saving.register_keras_serializable(package=SERIAL)
class PixelNorm(layers.Layer):
    """x / sqrt(mean(x^2) + eps) over the last axis: z (and class codes) on the unit sphere's scale."""

    def call(self, x):
        return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + 1e-8)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=SERIAL)
class EqualizedDense(layers.Layer):
    """Dense with equalized learning rate: weights N(0, 1) scaled at run time by lr_multiplier /
    sqrt(fan_in) (StyleGAN; the mapping network uses lr_multiplier 0.01)."""

    def __init__(self, units, lr_multiplier=1.0, bias_init=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.lr_multiplier, self.bias_init = int(units), float(lr_multiplier), float(bias_init)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(fan_in, self.units), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier))
        self.scale = self.lr_multiplier / math.sqrt(fan_in)

    def call(self, x):
        return tf.matmul(x, tf.cast(self.kernel, x.dtype) * self.scale) + tf.cast(self.bias, x.dtype) * \
            self.lr_multiplier

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "lr_multiplier": self.lr_multiplier,
                "bias_init": self.bias_init}


@keras.saving.register_keras_serializable(package=SERIAL)
class ModulatedConv2D(layers.Layer):
    """StyleGAN2's modulated convolution: call([x, w]).

    The style s = A(w) (an affine map, bias 1) scales the input channels, and with `demodulate`
    each output channel is divided by its expected norm, sqrt(sum (s * W)^2), so unit-variance inputs
    give unit-variance outputs whatever the style. Computed as scale -> conv -> rescale (the
    "non-fused" form, the same result as per-sample weights). `upsample` doubles the size first.
    """

    def __init__(self, filters, kernel_size=3, demodulate=True, upsample=False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        self.demodulate, self.upsample = bool(demodulate), bool(upsample)

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        channels = int(x_shape[-1])
        self.affine = EqualizedDense(channels, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, channels, self.filters),
                                      name="kernel", initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
        self.scale = 1.0 / math.sqrt(channels * self.kernel_size**2)

    def call(self, inputs):
        x, w = inputs
        styles = self.affine(tf.cast(w, x.dtype))  # (batch, in)
        kernel = tf.cast(self.kernel, x.dtype) * self.scale
        if self.upsample:
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
        x = tf.nn.conv2d(x * styles[:, None, None, :], kernel, 1, "SAME")
        if self.demodulate:
            # sum over kernel and input of (s_i * W_kio)^2, per sample and output channel
            power = tf.einsum("bi,io->bo", tf.square(styles), tf.reduce_sum(tf.square(kernel), axis=[0, 1]))
            x = x * tf.math.rsqrt(power + 1e-8)[:, None, None, :]
        return x + tf.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape[0]
        factor = 2 if self.upsample else 1
        return (batch, None if height is None else height * factor, None if width is None else width * factor,
                self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "demodulate": self.demodulate, "upsample": self.upsample}


@keras.saving.register_keras_serializable(package=SERIAL)
class NoiseInjection(layers.Layer):
    """Adds per-pixel noise times a learned per-layer strength (0 at first). Training draws fresh
    noise (stateless, keyed by the input's bits); inference uses the layer's fixed noise buffer."""

    def __init__(self, salt=0, **kwargs):
        super().__init__(**kwargs)
        self.salt = int(salt)

    def build(self, input_shape):
        self.strength = self.add_weight(shape=(), name="strength", initializer="zeros")
        self.fixed_noise = self.add_weight(shape=(1, int(input_shape[1]), int(input_shape[2]), 1),
                                           name="fixed_noise", trainable=False,
                                           initializer=keras.initializers.RandomNormal(stddev=1.0))

    def call(self, x, training=False):
        shape = tf.concat([tf.shape(x)[:3], [1]], axis=0)
        if training:
            noise = tf.random.stateless_normal(shape, _key(x, self.salt), dtype=x.dtype)
        else:
            noise = tf.broadcast_to(tf.cast(self.fixed_noise, x.dtype), shape)
        return x + noise * tf.cast(self.strength, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "salt": self.salt}


@keras.saving.register_keras_serializable(package=SERIAL)
class ConstantInput(layers.Layer):
    """The synthesis network's learned start, (size, size, channels), repeated for the batch of `ws`."""

    def __init__(self, size, channels, **kwargs):
        super().__init__(**kwargs)
        self.size, self.channels = int(size), int(channels)

    def build(self, input_shape):
        self.constant = self.add_weight(shape=(1, self.size, self.size, self.channels), name="constant",
                                        initializer=keras.initializers.RandomNormal(stddev=1.0))

    def call(self, ws):
        return tf.tile(tf.cast(self.constant, ws.dtype), [tf.shape(ws)[0], 1, 1, 1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "channels": self.channels}


@keras.saving.register_keras_serializable(package=SERIAL)
class StyleMixing(layers.Layer):
    """Style-mixing regularization (StyleGAN): in training, with `probability`, the styles from a
    random layer on come from another sample's w (the batch rolled by one). Identity otherwise."""

    def __init__(self, probability=MIXING_PROBABILITY, **kwargs):
        super().__init__(**kwargs)
        self.probability = float(probability)

    def call(self, ws, training=False):
        if not training or self.probability <= 0:
            return ws
        num_ws = ws.shape[1]
        draw = tf.random.stateless_uniform([2], _key(ws, 7))
        cutoff = 1 + tf.cast(draw[0] * (num_ws - 1), tf.int32)
        cutoff = tf.where(draw[1] < self.probability, cutoff, num_ws)
        other = tf.roll(ws, shift=1, axis=0)
        keep = tf.range(num_ws)[None, :, None] < cutoff
        return tf.where(keep, ws, other)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "probability": self.probability}


def _lrelu(x):
    return layers.LeakyReLU(0.2)(x) * math.sqrt(2)  # StyleGAN's gain keeps the variance at 1


def mapping_network(z_dim, w_dim=W_DIM, depth=MAPPING_DEPTH):
    """z (or z with a class code) -> w: PixelNorm, then `depth` equalized Dense layers at lr x 0.01."""
    z = keras.Input((z_dim,), name="z")
    x = PixelNorm()(z)
    for i in range(depth):
        x = layers.LeakyReLU(0.2)(EqualizedDense(w_dim, lr_multiplier=0.01, name=f"fc{i}")(x))
    return keras.Model(z, x, name=MAPPING)


def num_ws(image_shape):
    """Style inputs of the synthesis network: one per convolution and one for the last toRGB."""
    _, steps = upsampling_plan(image_shape)
    return 2 * steps + 2


def synthesis_network(image_shape, width, w_dim=W_DIM):
    """ws (batch, num_ws, w_dim) -> images: a constant, then per resolution two modulated convolutions
    (the first upsamples), noise, LeakyReLU, and a toRGB skip output."""
    start, steps = upsampling_plan(image_shape)
    ws = keras.Input((num_ws(image_shape), w_dim), name="ws")
    x = ConstantInput(start, filters(width, steps))(ws)
    rgb, index = None, 0
    for level in range(steps, -1, -1):  # from the start size up to the image size
        for conv in range(1 if level == steps else 2):
            upsample = level < steps and conv == 0
            x = ModulatedConv2D(filters(width, level), 3, upsample=upsample)([x, ws[:, index]])
            x = _lrelu(NoiseInjection(salt=index)(x))
            index += 1
        out = ModulatedConv2D(image_shape[-1], 1, demodulate=False)([x, ws[:, index]])
        rgb = out if rgb is None else layers.UpSampling2D(interpolation="bilinear")(rgb) + out
    return keras.Model(ws, layers.Activation("tanh")(rgb), name=SYNTHESIS)


def generator(z, image_shape, width):
    mapping = mapping_network(int(z.shape[-1]))
    synthesis = synthesis_network(image_shape, width)
    w = mapping(z)
    ws = layers.RepeatVector(num_ws(image_shape), name="broadcast_w")(w)
    return synthesis(StyleMixing(name="style_mixing")(ws))


def _residual_block(x, out_filters):
    skip = layers.Conv2D(out_filters, 1, use_bias=False)(layers.AveragePooling2D(2)(x))
    y = _lrelu(layers.Conv2D(int(x.shape[-1]), 3, padding="same")(x))
    y = _lrelu(layers.Conv2D(out_filters, 3, padding="same")(layers.AveragePooling2D(2)(y)))
    return (skip + y) * (1 / math.sqrt(2))


def discriminator(images, image_shape, width):
    _, steps = upsampling_plan(image_shape)
    x = _lrelu(layers.Conv2D(filters(width, 0), 1)(images))  # fromRGB
    for level in range(steps):
        x = _residual_block(x, filters(width, level + 1))
    x = MinibatchStdDev()(x)
    x = _lrelu(layers.Conv2D(filters(width, steps), 3, padding="same")(x))
    return _lrelu(layers.Dense(filters(width, steps))(layers.Flatten()(x)))


declare("network", "stylegan", Network(generator, discriminator, upsampling_plan), convolutional=True, style_based=True,
        tensorflow_only=True)
