"""Adam with TensorFlow's fused kernel: the same update as `keras.optimizers.Adam`, in one op per weight.

Keras 3 writes Adam's update as six element-wise ops per weight (sub, mul, square, sqrt, div,
assign); on a CPU, where the MNIST MLP's two million weights make those passes over memory 40% of
its step, TensorFlow's `ResourceApplyAdam` does them in one. The formula is Keras's, to the letter:

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    w -= alpha * m / (sqrt(v) + epsilon)

and the optimizer's variables are Adam's own, so checkpoints of either restore into the other.

Example:
    >>> optimizer = FusedAdam(2e-4, beta_1=0.5)     # a drop-in for keras.optimizers.Adam
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="gan_keras")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose update runs as TensorFlow's fused `ResourceApplyAdam` kernel.

    AMSGrad and gradients that are not dense tensors of the weight's dtype take Keras's own path.
    """

    def scheduled_beta_2(self):
        """beta_2 as a variable a schedule sets (`training.schedule`); the update reads it from then on."""
        from gan_keras.training.schedule import Scheduled

        if getattr(self, "_scheduled_beta_2", None) is None:
            self._scheduled_beta_2 = Scheduled(self.beta_2, "beta_2")
        return self._scheduled_beta_2

    def _beta_2(self):
        scheduled = getattr(self, "_scheduled_beta_2", None)
        return self.beta_2 if scheduled is None else scheduled.variable

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices) or variable.dtype != tf.float32:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index].value, self._velocities[index].value
        step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, variable.dtype), tf.cast(self._beta_2(), variable.dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, variable.dtype), beta1=beta_1,
            beta2=beta_2, epsilon=tf.cast(self.epsilon, variable.dtype), grad=tf.cast(gradient, variable.dtype))
