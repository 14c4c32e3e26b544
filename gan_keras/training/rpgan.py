"""R3GAN's loss (Huang et al. 2024; brownvc/R3GAN `R3GAN/Trainer.py`): the relativistic pairing GAN
loss with both zero-centred gradient penalties, R1 on real images and R2 on generated ones, every step.

    D: softplus(-(D(x_i) - D(G(z_i))))  +  gamma / 2 * (||grad D(x_i)||^2 + ||grad D(G(z_i))||^2)
    G: softplus(-(D(G(z_i)) - D(x_i)))

Each real image is paired with the generated image of the same batch position; G's loss reads D on
the real batch too (declared `g_sees_real`). The paper's point: with both penalties the pairing loss
converges locally where either alone diverges. `gamma` is `train --gamma`, scheduled by
`--gamma-end` (`gan_keras.training.schedule`).

Example:
    >>> from gan_keras.training.losses import get_loss
    >>> loss = get_loss("rpgan", gamma=2.0)
    >>> real, fake = np.array([[3.0], [2.0]], "float32"), np.array([[-2.0], [-3.0]], "float32")
    >>> float(loss.d_loss(real, fake)) < float(loss.g_loss(fake, real))    # D is winning
    True
"""

import keras

from gan_keras import backend
from gan_keras.registry import register
from gan_keras.training.losses import GANLoss, squared_gradient_norm


@register("loss", "rpgan", uses_targets=False, g_sees_real=True, takes_gamma=True)
class RelativisticPairing(GANLoss):
    def __init__(self, gamma=2.0):
        self.penalty = R1R2(gamma)

    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        real, fake = keras.ops.cast(real_logits, "float32"), keras.ops.cast(fake_logits, "float32")
        return keras.ops.mean(keras.ops.softplus(fake - real))

    def g_loss(self, fake_logits, real_logits=None):
        if real_logits is None:
            raise ValueError("the relativistic pairing loss needs D's logits on the real batch in the G step")
        real, fake = keras.ops.cast(real_logits, "float32"), keras.ops.cast(fake_logits, "float32")
        return keras.ops.mean(keras.ops.softplus(real - fake))


class R1R2:
    """gamma / 2 * (E ||grad_x D(x)||^2 on real images + the same on generated ones), every step.
    `gamma` is a variable, so that a schedule can lower it while the compiled step runs."""

    def __init__(self, gamma):
        self.gamma = backend.state_variable(gamma, "gamma")

    def __call__(self, run_d, real, fake, step, seed, shift=0):
        fake = keras.ops.cast(keras.ops.stop_gradient(fake), real.dtype)  # R2 is D's, not G's
        r1 = keras.ops.mean(squared_gradient_norm(run_d, real))
        r2 = keras.ops.mean(squared_gradient_norm(run_d, fake))
        gamma = self.gamma.value if isinstance(self.gamma, keras.Variable) else self.gamma
        return 0.5 * keras.ops.cast(gamma, "float32") * (r1 + r2)
