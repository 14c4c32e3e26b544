"""The fast trainer: one `keras.Model` whose `train_step` updates D, then G, in one traced step.

Example:
    >>> from gan_keras import Build_Disc, Build_Gen, load_dataset
    >>> gan = GAN(Build_Gen("dcgan"), Build_Disc("dcgan"), loss="hinge", augment="diffaug", ema=0.999)
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> history = gan.fit(load_dataset("mnist", repeat=True), epochs=1, steps_per_epoch=2, verbose=0)
    >>> tuple(gan.sampler(np.zeros((2, 100), "float32")).shape)   # the averaged generator (raw without `ema`)
    (2, 28, 28, 1)

A class-conditional pair (`Build_Gen`/`Build_Disc` with `num_classes`) trains on (images, labels)
batches: each generated image is drawn for the label of a real image of the batch, so D's real and
generated halves hold the same classes, and G is scored by D for the class it was asked for.

The step works on D's logits (float32, see `models.discriminator_logits`). D sees every image,
real or generated, through the augmenter (`gan_keras.training.augment`); its loss and G's come from a loss
object (`gan_keras.training.losses`), to which the regularizers (R1, WGAN-GP's penalty) add.

The step is written once, in `keras.ops`; only its gradients are each backend's
(`gan_keras.training.engine`). On JAX, `train_step` is stateless, as Keras's JAX trainer calls it:
every variable the step reads (both optimizers', the moving average's, ADA's) is in the state it
threads, through `non_trainable_variables`, since Keras's own JAX state holds one optimizer only.

Read `d_acc_fake`, the discriminator's accuracy on generated images (logits < 0): near 1.0 the
discriminator wins outright and G learns little; near 0.5 it cannot tell real from generated, the
balance training aims for.
"""

import keras
from keras import ops

from gan_keras import backend, registry
from gan_keras.networks.build import discriminator_logits, num_classes, per_sample
from gan_keras.training import engine
from gan_keras.training.augment import get_augment
from gan_keras.training.ema import GeneratorEMA
from gan_keras.training.losses import R1, get_loss
from gan_keras.training.noise import Stream, replica_noise, replica_uniform
from gan_keras.training.optimizers import FusedAdam


def _loss_scaled_if_float16(optimizer):
    """Wrap an optimizer in a LossScaleOptimizer when the global policy computes in float16."""
    if keras.mixed_precision.global_policy().compute_dtype == "float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def default_optimizer(learning_rate=2e-4, beta_1=0.5):
    """Adam(lr, beta_1=0.5): the DCGAN paper's setting, measured best here (see README); Keras's
    Adam update in TensorFlow's fused kernel (`gan_keras.training.optimizers.FusedAdam`)."""
    return FusedAdam(learning_rate, beta_1=beta_1)


@registry.register("trainer", "fused")
@keras.saving.register_keras_serializable(package="gan_keras")
class GAN(keras.Model):
    """Generator + discriminator trained with explicit gradients: `n_critic` D steps, then one G step.

    Args:
        generator: maps (batch, latent_dim) noise to images in [-1, 1]; a conditional one maps
            [noise, label] (then `fit` reads (images, labels) batches).
        discriminator: maps images to logits, or to P(real) through a layer named `logits` (as
            `Build_Disc` builds it); the step trains on the logits either way. Conditional when
            the generator is: it takes [images, label].
        loss: a registered loss name (`registry.names("loss")`; see `gan_keras.training.losses`).
        real_label: target for real images in the D step; 0.9 is one-sided label smoothing.
        label_noise: fraction of D's labels flipped at random in each step.
        augment: a registered augmentation (`registry.names("augment")`: none, diffaug, ada; see
            `gan_keras.training.augment`); `ada_target` steers ADA (None: its p is set by a schedule).
        r1: R1 penalty weight gamma on real images, lazily every 16 steps (0: off).
        n_critic: D steps per G step (5 is WGAN-GP's choice), all on the same real batch.
        ema: decay of the generator's moving average (e.g. 0.999), which then draws every image
            (`sampler`); None or 0: off.
        share_fakes: G's step scores the generated batch D's (last) step trained on, by the updated
            D, as PyTorch's DCGAN example does: one pass of G fewer per step. False: each step
            draws its own batch.
        seed: seed of the latent noise, label flips and augmentation (see `gan_keras.training.noise`).
        gamma: the weight of the R1 and R2 penalties of a loss that has them (`rpgan`).

    Losses are divided by the number of replicas before the gradients, which `tf.distribute` sums;
    the reported losses are per batch, so they read the same on any number of devices.
    """

    def __init__(self, generator, discriminator, loss="nonsaturating", real_label=1.0, label_noise=0.0,
                 augment="none", ada_target=0.6, r1=0.0, n_critic=1, ema=None, share_fakes=False, seed=0,
                 gamma=2.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.num_classes = num_classes(generator)
        if num_classes(discriminator) != self.num_classes:
            raise ValueError(f"the generator has {self.num_classes} classes and the discriminator "
                             f"{num_classes(discriminator)}; build both with the same num_classes")
        self.loss_name, self.augment_name = loss, augment
        self.real_label, self.label_noise = float(real_label), float(label_noise)
        self.ada_target = None if ada_target is None else float(ada_target)  # None: p follows a schedule
        self.r1, self.n_critic = float(r1), int(n_critic)
        self.ema_decay = float(ema) if ema else None
        self.share_fakes, self.seed = bool(share_fakes), int(seed)
        self.gamma = float(gamma)
        self.gan_loss = get_loss(loss, gamma=self.gamma)
        self.g_sees_real = bool(registry.info("loss", loss).get("g_sees_real", False))
        if not self.gan_loss.uses_targets and (self.real_label != 1.0 or self.label_noise > 0):
            raise ValueError(f"label smoothing and label noise need a loss with targets "
                             f"({', '.join(registry.where('loss', uses_targets=True))}), not {loss}")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be at least 1, got {n_critic}")
        self.regularizers = [r for r in (self.gan_loss.penalty, R1(self.r1) if self.r1 > 0 else None) if r]
        self.augmenter = get_augment(augment, self.ada_target)
        for regularizer in self.regularizers:  # one with weights of its own (FastGAN's decoders) trains with D
            if hasattr(regularizer, "attach"):
                regularizer.attach(discriminator, lambda x, step, shift: self._augmented(
                    x, step, Stream.AUGMENT_REAL + shift, None))
        self.ema = GeneratorEMA(generator, self.ema_decay) if self.ema_decay else None
        self._d_logits = discriminator_logits(discriminator)
        self._d_per_sample = per_sample(self._d_logits)
        names = ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"] + (["d_penalty"] if self.regularizers else [])
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        # G and D are built; without this, fit() under a distribution strategy would build the GAN by
        # calling it on a batch of images, which `call` (noise -> images) cannot take.
        self.built = True

    fit_options = {"shuffle": False}  # the data is shuffled by its pipeline

    @classmethod
    def for_run(cls, generator, discriminator, d_optimizer, g_optimizer, config, strategy):
        """The trainer of a run's settings (`gan_keras.training.trainer.Trainer`), compiled."""
        from gan_keras.training.config import default_loss

        gan = cls(generator, discriminator, loss=config.loss or default_loss(config.model), augment=config.augment,
                  ada_target=None if config.augment_p_end is not None else config.ada_target,
                  r1=config.r1, n_critic=config.n_critic, ema=config.ema, real_label=config.real_label,
                  label_noise=config.label_noise, share_fakes=config.share_fakes, seed=config.seed,
                  gamma=config.gamma)
        gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, jit_compile=config.jit_compile,
                    steps_per_execution=config.steps_per_execution)
        return gan

    @property
    def sampler(self):
        """The generator that draws every image outside training: the moving average, or G itself."""
        return self.ema.average if self.ema else self.generator

    def training_batches(self, images, labels, image_shape, global_batch, seed, consumed):
        """The shuffled, repeating batches (`tf.data` on TensorFlow, else NumPy's), started after the
        `consumed` images."""
        from gan_keras.data.pipeline import training_batches

        return training_batches(images, global_batch, image_shape, seed=seed, start=consumed, labels=labels)

    def checkpoint_items(self):
        """What a checkpoint must hold to resume this trainer exactly."""
        items = {"generator": self.generator, "discriminator": self.discriminator,
                 "d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer}
        if self.ema:
            items["generator_ema"] = self.ema.average
        if self.augmenter.variables:
            items["augment"] = self.augmenter
        for regularizer in self.regularizers:
            items.update(getattr(regularizer, "checkpoint_items", dict)())
        return items

    def d_variables(self):
        """What D's step trains: D's weights, and those of a regularizer that has its own."""
        return self.discriminator.trainable_weights + [
            w for r in self.regularizers for w in getattr(r, "trainable_weights", [])]

    def log_columns(self):
        """The columns this trainer adds to the four of every run's history."""
        return tuple(k for k in self.trackers if k == "d_penalty") + tuple(self.augmenter.logs())

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Set the two optimizers (default Adam 2e-4, beta_1 0.5).

        Other keyword arguments (`jit_compile`, `steps_per_execution`) go to `keras.Model.compile`.
        Under a float16 policy each optimizer gets its own LossScaleOptimizer.
        """
        super().compile(**kwargs)
        self.d_optimizer = _loss_scaled_if_float16(d_optimizer or default_optimizer())
        self.g_optimizer = _loss_scaled_if_float16(g_optimizer or default_optimizer())
        # Create the optimizer slots now, in the strategy's scope: made lazily inside the traced
        # step they break MirroredStrategy ("You must feed a value for placeholder tensor").
        self.d_optimizer.build(self.d_variables())
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def step_state(self):
        """The variables a step reads or writes beyond G's and D's: both optimizers', the moving
        average's, ADA's and the scheduled settings'."""
        found = list(self.d_optimizer.variables) + list(self.g_optimizer.variables)
        if self.ema:
            found += self.ema.variables
        found += [v for v in self.augmenter.variables if isinstance(v, keras.Variable)]
        for regularizer in self.regularizers:
            found += [v for v in vars(regularizer).values() if isinstance(v, keras.Variable)]
        for optimizer in (self.d_optimizer, self.g_optimizer):
            scheduled = getattr(optimizer, "_scheduled_beta_2", None)
            if scheduled is not None and isinstance(scheduled.variable, keras.Variable):
                found.append(scheduled.variable)
        return found

    @property
    def non_trainable_variables(self):
        own = super().non_trainable_variables
        if backend.name() != "jax" or not hasattr(self, "d_optimizer"):
            return own
        seen = {id(v) for v in own} | {id(v) for v in self.trainable_variables}
        extra = []
        for variable in self.step_state():
            if id(variable) not in seen:
                seen.add(id(variable))
                extra.append(variable)
        return own + extra

    def call(self, inputs, training=False):
        return self.sampler(inputs, training=training)

    def _generate(self, z, labels):
        return self.generator(z if labels is None else [z, labels], training=True)

    def run_discriminator(self, images, step, stream, labels=None):
        """D's logits on `images` (for `labels`, when conditional) as D sees them: through the augmenter."""
        return self._d_logits(self._augmented(images, step, stream, labels), training=True)

    def _augmented(self, images, step, stream, labels):
        with keras.name_scope("augment"):  # one scope: a profile (bench --profile) tells these ops apart
            augmented = self.augmenter(images, step, stream, self.seed)
        return augmented if labels is None else [augmented, labels]

    def _real_and_fake_logits(self, real_images, fake_images, labels, step, shift):
        """D's logits on the real and the generated batch: one call on both when D treats each image
        on its own (`per_sample`), which computes the same logits with half the calls."""
        real = self._augmented(real_images, step, Stream.AUGMENT_REAL + shift, labels)
        fake = self._augmented(fake_images, step, Stream.AUGMENT_FAKE + shift, labels)
        if not self._d_per_sample:
            return self._d_logits(real, training=True), self._d_logits(fake, training=True)
        both = keras.tree.map_structure(lambda r, f: ops.concatenate([r, f], axis=0), real, fake)
        real_logits, fake_logits = ops.split(self._d_logits(both, training=True), 2)
        return real_logits, fake_logits

    def _targets(self, step, batch):
        real = ops.full((batch, 1), self.real_label)
        fake = ops.zeros((batch, 1))
        if self.label_noise > 0:
            flip_real = replica_uniform(self.seed, step, batch, Stream.FLIP_REAL) < self.label_noise
            flip_fake = replica_uniform(self.seed, step, batch, Stream.FLIP_FAKE) < self.label_noise
            real, fake = ops.where(flip_real, 0.0, real), ops.where(flip_fake, self.real_label, fake)
        return real, fake

    def _g_noise(self, step, batch):
        return replica_noise(self.seed, step, batch, self.latent_dim, Stream.G_NOISE)

    def _d_step(self, real_images, labels, step, shift, replicas, fake_images=None):
        batch = ops.shape(real_images)[0]
        if fake_images is None:
            with backend.no_gradient():
                fake_images = self._generate(
                    replica_noise(self.seed, step, batch, self.latent_dim, Stream.D_NOISE + shift), labels)
        target_real, target_fake = self._targets(step + shift, batch)
        separate = [r for r in self.regularizers if getattr(r, "separate", lambda: False)()]

        def run_d(x):
            return self.run_discriminator(x, step, Stream.AUGMENT_PENALTY + shift, labels)

        def loss():
            real_logits, fake_logits = self._real_and_fake_logits(real_images, fake_images, labels, step, shift)
            d_loss = self.gan_loss.d_loss(real_logits, fake_logits, target_real, target_fake)
            penalty = ops.convert_to_tensor(0.0)
            for regularizer in self.regularizers:
                if regularizer not in separate:
                    penalty += regularizer(run_d, real_images, fake_images, step, self.seed, shift)
            scaled = self.d_optimizer.scale_loss((d_loss + penalty) / replicas)
            return scaled, (d_loss, penalty, real_logits, fake_logits)

        variables = self.d_variables()
        _, (d_loss, penalty, real_logits, fake_logits), grads = engine.value_and_grad(loss, variables)
        for regularizer in separate:
            value, extra = self._separate_penalty(regularizer, run_d, real_images, step, replicas, variables)
            penalty += value
            grads = [g if g is None else engine.dense(g) + e for g, e in zip(grads, extra)]
        self.d_optimizer.apply_gradients(zip(grads, variables))
        return d_loss, penalty, real_logits, fake_logits

    def _separate_penalty(self, regularizer, run_d, real_images, step, replicas, variables):
        """A lazy penalty's value and gradient, taken inside a cond on the steps it is due (zeros on
        the others), to be added to D's loss gradient: the same update as the penalty in the loss."""
        def zeros():
            return [ops.convert_to_tensor(0.0)] + [ops.zeros(v.shape, v.dtype) for v in variables]

        def due():
            def loss():
                value = ops.cast(regularizer.weighted(run_d, real_images), "float32")
                return self.d_optimizer.scale_loss(value / replicas), value

            _, value, grads = engine.value_and_grad(loss, variables)
            return [value] + [ops.zeros(v.shape, v.dtype) if g is None else ops.cast(engine.dense(g), v.dtype)
                              for g, v in zip(grads, variables)]

        out = ops.cond(regularizer.due(step), due, zeros)
        return out[0], out[1:]

    def _g_step(self, real_images, labels, step, batch, replicas, tape=None, fake_images=None):
        """G's update; `fake_images`, when given, were generated under `tape` (`share_fakes` on
        TensorFlow; the other backends draw them again from the same noise, inside the gradient)."""
        G = self.generator

        def loss():
            fakes = self._generate(self._g_noise(step, batch), labels) if fake_images is None else fake_images
            fake_logits = self.run_discriminator(fakes, step, Stream.AUGMENT_G, labels)
            real_logits = (self.run_discriminator(real_images, step, Stream.AUGMENT_G_REAL, labels)
                           if self.g_sees_real else None)
            g_loss = self.gan_loss.g_loss(fake_logits, real_logits)
            return self.g_optimizer.scale_loss(g_loss / replicas), g_loss

        if tape is None:
            _, g_loss, grads = engine.value_and_grad(loss, G.trainable_weights)
        else:
            with tape:
                scaled, g_loss = loss()
            grads = tape.gradient(scaled, G.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, G.trainable_weights))
        return g_loss

    def train_step(self, *args):
        """(data) -> logs on TensorFlow and PyTorch; (state, data) -> (logs, state) on JAX."""
        if backend.name() == "jax":
            return self._stateless_train_step(*args)
        return self._train_step(*args)

    def _stateless_train_step(self, state, data):
        """JAX: the step run in a `StatelessScope` over the state Keras threads; returns the new state."""
        groups = (self.trainable_variables, self.non_trainable_variables, self.optimizer.variables,
                  self.metrics_variables)
        mapping = [pair for variables, values in zip(groups, state) for pair in zip(variables, values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._train_step(data)
        new_state = tuple([scope.get_current_value(v) for v in variables] for variables in groups)
        return logs, new_state

    def _train_step(self, data):
        real_images, labels = images_and_labels(data)
        if (labels is None) != (self.num_classes == 0):
            raise ValueError("a conditional GAN trains on (images, labels) batches, an unconditional one on "
                             "images alone" if self.num_classes else "this GAN is unconditional: feed images alone")
        batch = ops.shape(real_images)[0]
        step = self._step_number()  # this step's number, read before the updates
        replicas = backend.replicas_in_sync()
        g_tape, shared = None, None
        if self.share_fakes:
            if backend.is_tensorflow():
                import tensorflow as tf

                g_tape = tf.GradientTape()
                with g_tape:  # G's one forward pass; the D steps in between are not recorded on this tape
                    shared = self._generate(self._g_noise(step, batch), labels)
            else:
                with backend.no_gradient():
                    shared = self._generate(self._g_noise(step, batch), labels)
        for d_step in range(self.n_critic):
            last = d_step == self.n_critic - 1
            d_loss, penalty, real_logits, fake_logits = self._d_step(
                real_images, labels, step, d_step * Stream.D_STEP_SHIFT, replicas, shared if last else None)
        g_loss = self._g_step(real_images, labels, step, batch, replicas, g_tape, shared if g_tape else None)
        self.augmenter.update(real_logits, batch * replicas)
        if self.ema:
            self.ema.update(step + 1)

        self.trackers["d_loss"].update_state(d_loss)
        self.trackers["g_loss"].update_state(g_loss)
        self.trackers["d_acc_real"].update_state(ops.cast(real_logits > 0, "float32"))
        self.trackers["d_acc_fake"].update_state(ops.cast(fake_logits < 0, "float32"))
        if "d_penalty" in self.trackers:
            self.trackers["d_penalty"].update_state(penalty)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        results.update({name: _tensor(value) for name, value in self.augmenter.logs().items()})
        return _multiworker_logs(results)

    def _step_number(self):
        iterations = self.g_optimizer.iterations
        if backend.is_tensorflow():
            import tensorflow as tf

            return tf.cast(iterations, tf.int64)
        return ops.convert_to_tensor(iterations.value)

    def get_config(self):
        return {**super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "loss": self.loss_name, "real_label": self.real_label, "label_noise": self.label_noise,
                "augment": self.augment_name, "ada_target": self.ada_target, "r1": self.r1,
                "n_critic": self.n_critic, "ema": self.ema_decay, "share_fakes": self.share_fakes,
                "seed": self.seed, "gamma": self.gamma}

    @classmethod
    def from_config(cls, config):
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


def images_and_labels(data):
    """(images, labels or None) of a batch: images, (images,) as a Python generator yields them, or
    (images, labels)."""
    if isinstance(data, (tuple, list)):
        return (data[0], None) if len(data) == 1 else (data[0], data[1])
    return data, None


def _tensor(value):
    """A variable's value (tf.Variable or keras.Variable) as a tensor."""
    return ops.convert_to_tensor(value.value if isinstance(value, keras.Variable) else value)


def _multiworker_logs(results):
    """Keras 3.15 averages logs under MultiWorkerMirroredStrategy with reduce(..., axis=0), which a
    scalar lacks; the metrics are already reduced across workers, so a (1,) shape changes nothing."""
    if not backend.is_tensorflow():
        return results
    import tensorflow as tf

    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return {name: tf.reshape(value, [1]) for name, value in results.items()}
    return results
