"""An exponential moving average of the generator's weights (Karras et al. 2018; StyleGAN).

The averaged generator draws smoother, steadier images than the raw one: it draws every grid,
`sample`, the metrics and `generator.keras` (see `GAN.sampler`), while the raw G and D train and
both stay in the checkpoint.

With StyleGAN's ramp-up the decay after `step` updates is min(decay, 0.5 ** (1 / (0.05 * step))):
0.5 at step 20, 0.93 at 200, 0.993 at 2,000, so a short run is never held back by the random
weights it started from.

Example:
    >>> from gan_keras import Build_Gen
    >>> G = Build_Gen("mlp")
    >>> ema = GeneratorEMA(G, decay=0.999)
    >>> ema.update(step=1)            # after each G step
    >>> ema.average(np.zeros((2, 100), "float32")).shape    # the averaged generator, a keras.Model like G
    TensorShape([2, 28, 28, 1])
"""

import keras
from keras import ops

from gan_keras import backend


class GeneratorEMA:
    """Keeps `average`, a clone of `generator` whose trainable weights follow it by
    `w_avg <- beta * w_avg + (1 - beta) * w` and whose other weights (BatchNorm statistics) are copied."""

    def __init__(self, generator, decay=0.999, rampup=0.05):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.generator, self.rampup = generator, rampup
        self.decay = backend.state_variable(decay, "ema_decay")  # a schedule may set it
        self.average = keras.models.clone_model(generator)
        self.average.set_weights(generator.get_weights())

    @property
    def variables(self):
        """The average's weights and the decay: what a step on JAX threads through (`GAN.train_step`)."""
        return list(self.average.weights) + ([self.decay] if isinstance(self.decay, keras.Variable) else [])

    def beta(self, step):
        """The decay used at (1-based) G update `step`."""
        step = ops.maximum(ops.cast(step, "float32"), 1.0)
        decay = ops.convert_to_tensor(self.decay.value if isinstance(self.decay, keras.Variable) else self.decay)
        if not self.rampup:
            return decay
        return ops.minimum(decay, ops.power(0.5, 1.0 / (self.rampup * step)))

    def update(self, step):
        """Move the average towards G; call after G's optimizer step, in or outside a replica context."""
        beta = self.beta(step)
        if not backend.is_tensorflow():
            trainable = {id(w) for w in self.generator.trainable_weights}
            for average, weight in zip(self.average.weights, self.generator.weights):
                moved = beta * average.value + (1.0 - beta) * weight.value if id(weight) in trainable else weight.value
                average.assign(ops.cast(moved, average.dtype))
            return
        import tensorflow as tf

        # the tf.Variables under Keras's (the distributed ones under a strategy, as Keras's optimizer uses)
        pairs = [(a.value, w.value) for a, w in zip(self.average.weights, self.generator.weights)]
        trainable = {id(w.value) for w in self.generator.trainable_weights}

        def move(strategy, beta):
            for average, weight in pairs:
                if id(weight) in trainable:
                    strategy.extended.update(average, lambda a, w, b: a.assign(b * a + (1.0 - b) * w),
                                             args=(weight, beta))
                else:
                    strategy.extended.update(average, lambda a, w: a.assign(w), args=(weight,))

        context = tf.distribute.get_replica_context()
        with tf.name_scope("ema"):
            if context is None:  # cross-replica context: already where the update happens
                move(tf.distribute.get_strategy(), beta)
            else:  # inside a train step: the variables are updated once, in the cross-replica context
                context.merge_call(move, args=(beta,))
