"""FastGAN's self-supervised discriminator (Liu et al. 2021): small decoders reconstruct the real image
from D's 8x8 map and a random quarter of it from D's 16x16 map, and D's loss adds their error, so D must
keep features that describe the whole image rather than the few cues that tell real from generated.

`--loss fastgan` is the hinge loss with this regularizer; it needs a discriminator with those maps
(`--model fastgan`, `gan_keras.networks.fastgan.FEATURES`). The decoders are D's to train (the GAN
adds their weights to D's update and to the checkpoint) and are dropped after training. The error is
the mean squared one, as lucidrains/lightweight-gan does (FastGAN's paper uses LPIPS, whose network
weights cannot be had offline); it is logged as `d_penalty`.

Example:
    >>> from gan_keras import GAN, Build_Disc, Build_Gen
    >>> gan = GAN(Build_Gen("fastgan", 100, (64, 64, 3), 8), Build_Disc("fastgan", (64, 64, 3), 8), loss="fastgan")
    >>> gan.compile()
    >>> sorted(gan.checkpoint_items())
    ['d_decoders', 'd_optimizer', 'discriminator', 'g_optimizer', 'generator']
"""

import keras

from gan_keras import backend

if backend.is_tensorflow():  # TensorFlow only, for now (declared tensorflow_only)
    import tensorflow as tf

from gan_keras import registry
from gan_keras.networks.fastgan import FEATURES, channels, up_block
from gan_keras.training.losses import Hinge
from gan_keras.training.noise import Stream, replica_uniform

DECODED = 32  # the decoders draw 32x32: the whole image area-averaged, or one 32x32 quarter of a 64x64 image


def decoder(in_channels, out_channels, width, name):
    """8x8 features -> a 32x32 image in [-1, 1]: two FastGAN up-blocks and a 3x3 convolution."""
    c = channels(width)
    x = inputs = keras.Input((8, 8, in_channels))
    x = up_block(up_block(x, c[16]), c[32])
    return keras.Model(inputs, keras.layers.Conv2D(out_channels, 3, padding="same", activation="tanh")(x), name=name)


class SelfSupervision:
    """The reconstruction error of real images from D's own features, added to D's loss."""

    def __init__(self, weight=1.0):
        self.weight = float(weight)
        self.features = self.whole = self.part = self.augment = None

    def attach(self, discriminator, augment):
        """Build the decoders for this D; `augment(images, step, shift)` is what D's real batch goes through."""
        names = {layer.name for layer in discriminator.layers}
        if not set(FEATURES) <= names:
            raise ValueError("--loss fastgan reconstructs images from D's 16x16 and 8x8 maps, which only --model "
                             "fastgan's discriminator names")
        maps = [discriminator.get_layer(name).output for name in FEATURES]
        self.features = keras.Model(discriminator.inputs[0], maps, name="d_features")
        channels_16, channels_8 = (int(m.shape[-1]) for m in maps)
        width, image_channels = channels_16 // 2, int(discriminator.inputs[0].shape[-1])
        self.whole = decoder(channels_8, image_channels, width, "decode_whole")
        self.part = decoder(channels_16, image_channels, width, "decode_part")
        self.augment = augment
        self.checkpointed = _Decoders(self)

    @property
    def trainable_weights(self):
        return self.whole.trainable_weights + self.part.trainable_weights

    def checkpoint_items(self):
        return {"d_decoders": self.checkpointed}

    def __call__(self, run_d, real, fake, step, seed, shift=0):
        images = tf.cast(self.augment(real, step, shift), tf.float32)
        feat_16, feat_8 = self.features(images, training=True)
        whole_target = tf.image.resize(images, (DECODED, DECODED), method="area")
        # one quarter per step: the same for the whole batch, as FastGAN crops
        quarter = tf.cast(replica_uniform(seed, step, 1, Stream.SELF_SUPERVISION + shift)[0, 0] * 4, tf.int32)
        quarter = tf.minimum(quarter, 3)
        row, col = quarter // 2, quarter % 2
        part_features = tf.slice(feat_16, [0, row * 8, col * 8, 0], [-1, 8, 8, -1])
        part_target = tf.slice(images, [0, row * DECODED, col * DECODED, 0], [-1, DECODED, DECODED, -1])
        error = (tf.reduce_mean(tf.square(tf.cast(self.whole(feat_8, training=True), tf.float32) - whole_target))
                 + tf.reduce_mean(tf.square(tf.cast(self.part(part_features, training=True), tf.float32)
                                            - part_target)))
        return self.weight * error


class _Decoders(tf.Module):
    """The two decoders as one checkpointable item."""

    def __init__(self, supervision):
        super().__init__(name="d_decoders")
        self.whole, self.part = supervision.whole, supervision.part


@registry.register("loss", "fastgan", uses_targets=False, tensorflow_only=True)
class FastGANLoss(Hinge):
    """FastGAN's losses: hinge, and D's self-supervised reconstruction (`SelfSupervision`)."""

    def __init__(self):
        self.penalty = SelfSupervision()
