"""The relativistic average GAN loss (Jolicoeur-Martineau 2019, "RaGAN"): D judges whether a real
image looks more real than the generated ones do on average, and G the other way round, so G's loss
reads D's logits on the real batch too (declared `g_sees_real`, which the fused step honours).

    D: BCE(real - mean(fake), 1) + BCE(fake - mean(real), 0)
    G: BCE(fake - mean(real), 1) + BCE(real - mean(fake), 0)

Each term is a mean over the batch; the loss has no targets to smooth (`uses_targets=False`).

Example:
    python -m gan_keras train mnist --loss relativistic

    >>> from gan_keras.training.losses import get_loss
    >>> loss = get_loss("relativistic")
    >>> real_logits, fake_logits = np.array([[3.0], [2.0]], "float32"), np.array([[-2.0], [-3.0]], "float32")
    >>> float(loss.g_loss(fake_logits, real_logits)) > float(loss.d_loss(real_logits, fake_logits))   # D is winning
    True
"""

from keras import ops

from gan_keras.registry import register
from gan_keras.training.losses import GANLoss, sigmoid_cross_entropy


def _bce(logits, target):
    return ops.mean(sigmoid_cross_entropy(target, logits))


@register("loss", "relativistic", uses_targets=False, g_sees_real=True)
class RelativisticAverage(GANLoss):
    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        return (_bce(real_logits - ops.mean(fake_logits), 1.0)
                + _bce(fake_logits - ops.mean(real_logits), 0.0))

    def g_loss(self, fake_logits, real_logits=None):
        if real_logits is None:
            raise ValueError("the relativistic loss needs D's logits on the real batch in the G step")
        return (_bce(fake_logits - ops.mean(real_logits), 1.0)
                + _bce(real_logits - ops.mean(fake_logits), 0.0))
