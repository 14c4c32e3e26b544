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

from gan_keras import backend


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
        if not backend.is_tensorflow():
            return self._keras_update_step(gradient, variable, learning_rate)
        import tensorflow as tf

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

    def _keras_update_step(self, gradient, variable, learning_rate):
        """Keras's Adam update in `keras.ops` (JAX, PyTorch), reading a scheduled beta_2 when there is one."""
        if getattr(self, "_scheduled_beta_2", None) is None or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_2 = ops.cast(self._beta_2().value, variable.dtype)
        beta_1 = ops.cast(self.beta_1, variable.dtype)
        alpha = lr * ops.sqrt(1 - ops.power(beta_2, step)) / (1 - ops.power(beta_1, step))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))
