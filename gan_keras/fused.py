"""The fast trainer: one `keras.Model` whose `train_step` updates D, then G, in one traced step.

Example:
    >>> gan = GAN(Build_Gen("dcgan"), Build_Disc("dcgan"))
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> gan.fit(load_dataset("mnist", repeat=True), epochs=1, steps_per_epoch=100)

Read `d_acc_fake`, the discriminator's accuracy on generated images: near 1.0 the discriminator
wins outright and G learns little; near 0.5 it cannot tell real from generated, the balance
training aims for.
"""

import keras
import tensorflow as tf

from gan_keras.noise import replica_noise, replica_uniform

STREAM_D, STREAM_G, STREAM_FLIP_REAL, STREAM_FLIP_FAKE = range(4)


def _loss_scaled_if_float16(optimizer):
    """Wrap an optimizer in a LossScaleOptimizer when the global policy computes in float16."""
    if keras.mixed_precision.global_policy().compute_dtype == "float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def default_optimizer(learning_rate=2e-4):
    """Adam(lr, beta_1=0.5): the DCGAN paper's setting, measured best here (see README)."""
    return keras.optimizers.Adam(learning_rate, beta_1=0.5)


@keras.saving.register_keras_serializable(package="gan_keras")
class GAN(keras.Model):
    """Generator + discriminator trained with explicit gradients, one D step then one G step.

    Args:
        generator: maps (batch, latent_dim) noise to images in [-1, 1].
        discriminator: maps images to P(real), shape (batch, 1).
        real_label: target for real images in the D step; 0.9 is one-sided label smoothing.
        label_noise: fraction of D's labels flipped at random in each step.
        seed: seed of the latent noise and label flips (see `gan_keras.noise`).

    Losses follow Keras's reduction, which under `tf.distribute` already divides by the number of
    replicas (Keras >= 3.8); the reported losses are multiplied back, so they read the same on any
    number of devices.
    """

    def __init__(self, generator, discriminator, real_label=1.0, label_noise=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.real_label = float(real_label)
        self.label_noise = float(label_noise)
        self.seed = int(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")}
        # G and D are built; without this, fit() under a distribution strategy would build the GAN by
        # calling it on a batch of images, which `call` (noise -> images) cannot take.
        self.built = True

    def compile(self, d_optimizer=None, g_optimizer=None, loss_fn=None, **kwargs):
        """Set the two optimizers (default Adam 2e-4, beta_1 0.5) and the loss (default BCE).

        Other keyword arguments (`jit_compile`, `steps_per_execution`) go to `keras.Model.compile`.
        Under a float16 policy each optimizer gets its own LossScaleOptimizer.
        """
        super().compile(**kwargs)
        self.d_optimizer = _loss_scaled_if_float16(d_optimizer or default_optimizer())
        self.g_optimizer = _loss_scaled_if_float16(g_optimizer or default_optimizer())
        self.loss_fn = loss_fn or keras.losses.BinaryCrossentropy()
        # Create the optimizer slots now, in the strategy's scope: made lazily inside the traced
        # step they break MirroredStrategy ("You must feed a value for placeholder tensor").
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def _targets(self, step, batch):
        real = tf.fill((batch, 1), self.real_label)
        fake = tf.zeros((batch, 1))
        if self.label_noise > 0:
            flip_real = replica_uniform(self.seed, step, batch, STREAM_FLIP_REAL) < self.label_noise
            flip_fake = replica_uniform(self.seed, step, batch, STREAM_FLIP_FAKE) < self.label_noise
            real, fake = tf.where(flip_real, 0.0, real), tf.where(flip_fake, self.real_label, fake)
        return real, fake

    def train_step(self, real_images):
        batch = tf.shape(real_images)[0]
        step = self.d_optimizer.iterations
        D, G = self.discriminator, self.generator
        target_real, target_fake = self._targets(step, batch)

        fake_images = G(replica_noise(self.seed, step, batch, self.latent_dim, STREAM_D), training=True)
        with tf.GradientTape() as tape:
            p_real = D(real_images, training=True)
            p_fake = D(fake_images, training=True)
            d_loss = 0.5 * (self.loss_fn(target_real, p_real) + self.loss_fn(target_fake, p_fake))
            scaled = self.d_optimizer.scale_loss(d_loss)
        grads = tape.gradient(scaled, D.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, D.trainable_weights))

        z = replica_noise(self.seed, step, batch, self.latent_dim, STREAM_G)
        with tf.GradientTape() as tape:
            p_gen = D(G(z, training=True), training=True)
            g_loss = self.loss_fn(tf.ones_like(p_gen), p_gen)
            scaled = self.g_optimizer.scale_loss(g_loss)
        grads = tape.gradient(scaled, G.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, G.trainable_weights))

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.trackers["d_loss"].update_state(d_loss * replicas)
        self.trackers["g_loss"].update_state(g_loss * replicas)
        self.trackers["d_acc_real"].update_state(tf.cast(p_real > 0.5, "float32"))
        self.trackers["d_acc_fake"].update_state(tf.cast(p_fake < 0.5, "float32"))
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.15 averages logs under this strategy with reduce(..., axis=0), which a scalar
            # lacks; the metrics are already reduced across workers, so a (1,) shape changes nothing.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def get_config(self):
        return {**super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "real_label": self.real_label, "label_noise": self.label_noise, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)
