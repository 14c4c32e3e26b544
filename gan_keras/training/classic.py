"""The classic Keras GAN loop: a frozen discriminator inside a combined model, made correct on Keras 3.

Example:
    >>> from gan_keras import Build_Disc, Build_Gen
    >>> G, D = Build_Gen("mlp"), Build_Disc("mlp")
    >>> gan = ClassicGAN(G, D)
    >>> real_images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    >>> sorted(gan.train_on_batch(real_images))
    ['d_acc_fake', 'd_acc_real', 'd_loss', 'g_loss']

Why the flag is toggled around every step: in Keras 3 a model's `trainable` flag is read when its
train function is traced, and traced again on a new batch shape. Set `D.trainable = False` once,
as the Keras 2 scripts did, and `D.train_on_batch` silently updates nothing ("The model does not
have any trainable weights"), for full and partial batches alike. `ClassicGAN` sets the flag to
True before each discriminator step and to False before each combined step, so every trace, the
first and any later one, sees the flag its step needs.
"""

import keras
import numpy as np

from gan_keras import registry
from gan_keras.training.fused import default_optimizer
from gan_keras.training.noise import Stream, latent_noise


def build_combined(generator, discriminator, optimizer=None):
    """The model z -> D(G(z)) with D frozen, compiled with binary cross-entropy.

    Training it updates only G. Compile D on its own *before* calling this: D is left frozen.

    BatchNormalization in a frozen D runs in inference mode (Keras sets `training=False` for a
    non-trainable BatchNormalization layer): the combined step normalises with D's moving mean and
    variance, not with the statistics of the generated batch, and does not update them.
    """
    discriminator.trainable = False
    z = keras.Input(generator.inputs[0].shape[1:], name="z")
    combined = keras.Model(z, discriminator(generator(z)), name="combined")
    combined.compile(optimizer=optimizer or default_optimizer(), loss="binary_crossentropy")
    return combined


def _half_accuracy(name, first_half):
    """Accuracy on one half of a [real; fake] batch, judged by source, not by (noisy) label."""

    def accuracy(y_true, y_pred):
        half = keras.ops.shape(y_pred)[0] // 2
        if first_half:
            return keras.ops.mean(keras.ops.cast(y_pred[:half] > 0.5, "float32"))
        return keras.ops.mean(keras.ops.cast(y_pred[half:] < 0.5, "float32"))

    accuracy.__name__ = name
    return accuracy


@registry.register("trainer", "classic", reference=True)
class ClassicGAN:
    """The classic loop: D.train_on_batch on real + generated images, then combined.train_on_batch.

    Args:
        generator, discriminator: models from `Build_Gen` / `Build_Disc`.
        d_optimizer, g_optimizer: default Adam(2e-4, beta_1=0.5).
        real_label: target for real images; 0.9 is the classic anime script's label smoothing.
        label_noise: fraction of the discriminator's labels flipped at random.
        seed: seed of the latent noise and label flips.
        walk_data: walk the data by a moving start index, unshuffled, as the classic anime script did.
    """

    def __init__(self, generator, discriminator, d_optimizer=None, g_optimizer=None, real_label=1.0,
                 label_noise=0.0, seed=0, walk_data=False):
        if len(generator.inputs) > 1:
            raise ValueError("ClassicGAN is the unconditional Keras 2 reference; train a conditional pair with GAN")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.real_label = float(real_label)
        self.label_noise = float(label_noise)
        self.seed = int(seed)
        self.walk_data = bool(walk_data)
        self.stop_training = False
        discriminator.trainable = True
        discriminator.compile(optimizer=d_optimizer or default_optimizer(), loss="binary_crossentropy",
                              metrics=[_half_accuracy("acc_real", True), _half_accuracy("acc_fake", False)])
        self.combined = build_combined(generator, discriminator, g_optimizer)

    fit_options = {}

    @classmethod
    def for_run(cls, generator, discriminator, d_optimizer, g_optimizer, config, strategy):
        """The trainer of a run's settings (`gan_keras.training.trainer.Trainer`); one device only."""
        from gan_keras.errors import UsageError

        if strategy.num_replicas_in_sync > 1:
            raise UsageError("the classic trainer runs on one device; use --trainer fused to distribute")
        return cls(generator, discriminator, d_optimizer, g_optimizer, real_label=config.real_label,
                   label_noise=config.label_noise, seed=config.seed, walk_data=config.walk_data)

    @property
    def sampler(self):
        """The generator that draws every image outside training (the classic loop keeps no average)."""
        return self.generator

    def training_batches(self, images, labels, image_shape, global_batch, seed, consumed):
        """The shuffled `tf.data` pipeline, or with `walk_data` the classic anime script's walk by a
        moving start index, unshuffled; either starts after the `consumed` images."""
        from gan_keras.data.pipeline import to_model_range, training_batches, walk_batches

        if self.walk_data:
            return (keras.ops.convert_to_numpy(to_model_range(b, image_shape))
                    for b in walk_batches(images, global_batch, consumed % len(images)))
        return training_batches(images, global_batch, image_shape, seed=seed, start=consumed, labels=labels)

    def checkpoint_items(self):
        """What a checkpoint must hold to resume this trainer exactly."""
        return {"generator": self.generator, "discriminator": self.discriminator,
                "d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer}

    def log_columns(self):
        return ()

    @property
    def d_optimizer(self):
        return self.discriminator.optimizer

    @property
    def g_optimizer(self):
        return self.combined.optimizer

    def train_on_batch(self, real_images):
        """One D update on real + generated images, then one G update through `combined`."""
        if isinstance(real_images, tuple):  # (images,), as the NumPy batches come
            (real_images,) = real_images
        real_images = np.asarray(real_images, dtype="float32")
        n = len(real_images)
        step = int(keras.ops.convert_to_numpy(self.g_optimizer.iterations.value))
        # `predict`, as the classic scripts do (inference-mode BatchNormalization in G, and Keras's
        # per-call overhead, which the benchmark measures as part of the classic loop).
        fake_images = self.generator.predict(latent_noise(self.seed, step, n, self.latent_dim, Stream.D_NOISE),
                                             batch_size=n, verbose=0)
        labels = np.concatenate([np.full((n, 1), self.real_label), np.zeros((n, 1))]).astype("float32")
        if self.label_noise > 0:
            flip = np.random.default_rng([self.seed, step, Stream.FLIP_REAL]).random((2 * n, 1)) < self.label_noise
            labels = np.where(flip, np.where(labels > 0, 0.0, self.real_label), labels).astype("float32")

        self.discriminator.trainable = True
        d = self.discriminator.train_on_batch(np.concatenate([real_images, fake_images]), labels,
                                              return_dict=True)
        self.discriminator.trainable = False
        z = latent_noise(self.seed, step, n, self.latent_dim, Stream.G_NOISE)
        g = self.combined.train_on_batch(z, np.ones((n, 1), "float32"), return_dict=True)
        return {"d_loss": d["loss"], "g_loss": g["loss"], "d_acc_real": d["acc_real"], "d_acc_fake": d["acc_fake"]}

    def fit(self, data, epochs=1, steps_per_epoch=None, initial_epoch=0, callbacks=None, verbose=1):
        """Run `train_on_batch` over `data` with Keras callbacks and a progress bar, like `Model.fit`.

        `data` is an iterable of batches (a repeating `tf.data.Dataset`, or `walk_batches(...)`).
        Returns the `keras.callbacks.History`.
        """
        if steps_per_epoch is None:
            steps_per_epoch = len(data)
        callback_list = keras.callbacks.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            epochs=epochs, steps=steps_per_epoch, verbose=verbose)
        batches = iter(data)
        self.stop_training = False
        logs = {}
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            sums = {}
            for step in range(steps_per_epoch):
                callback_list.on_train_batch_begin(step)
                logs = self.train_on_batch(next(batches))
                for key, value in logs.items():
                    sums[key] = sums.get(key, 0.0) + value
                logs = {key: value / (step + 1) for key, value in sums.items()}  # running epoch means
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callback_list.on_train_end(logs)
        return next(c for c in callback_list.callbacks if isinstance(c, keras.callbacks.History))
