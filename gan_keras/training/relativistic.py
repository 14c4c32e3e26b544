"""The relativistic average GAN loss (Jolicoeur-Martineau 2019, "RaGAN"): D judges whether a real
image looks more real than the generated ones do on average, and G the other way round, so G's loss
reads D's logits on the real batch too (declared `g_sees_real`, which the fused step honours).

    D: BCE(real - mean(fake), 1) + BCE(fake - mean(real), 0)
    G: BCE(fake - mean(real), 1) + BCE(real - mean(fake), 0)

Each term is a mean over the batch; the loss has no targets to smooth (`uses_targets=False`).

Example:
    python -m gan_keras train mnist --loss relativistic

    >>> import tensorflow as tf
    >>> from gan_keras.training.losses import get_loss
    >>> loss = get_loss("relativistic")
    >>> real_logits, fake_logits = tf.constant([[3.0], [2.0]]), tf.constant([[-2.0], [-3.0]])
    >>> float(loss.g_loss(fake_logits, real_logits)) > float(loss.d_loss(real_logits, fake_logits))   # D is winning
    True
"""

import tensorflow as tf

from gan_keras.registry import register
from gan_keras.training.losses import GANLoss


def _bce(logits, target):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target),
                                                                  logits=logits))


@register("loss", "relativistic", uses_targets=False, g_sees_real=True)
class RelativisticAverage(GANLoss):
    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        return (_bce(real_logits - tf.reduce_mean(fake_logits), 1.0)
                + _bce(fake_logits - tf.reduce_mean(real_logits), 0.0))

    def g_loss(self, fake_logits, real_logits=None):
        if real_logits is None:
            raise ValueError("the relativistic loss needs D's logits on the real batch in the G step")
        return (_bce(fake_logits - tf.reduce_mean(real_logits), 1.0)
                + _bce(real_logits - tf.reduce_mean(fake_logits), 0.0))
