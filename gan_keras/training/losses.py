"""GAN losses on D's logits, and the gradient penalties the fused trainer adds to D's loss.

A loss object has `d_loss(real_logits, fake_logits, real_target, fake_target)` and
`g_loss(fake_logits, real_logits)`, both means over the batch in float32; the G step computes
D's logits on the real batch for `g_loss` only for a loss declared with `g_sees_real=True`
(relativistic losses), and passes None otherwise. Targets (label smoothing, label
noise) only mean something for losses that regress on labels; `uses_targets` says which.

    "nonsaturating": D: binary cross-entropy, G: -log D(G(z)) (Goodfellow et al. 2014; DCGAN)
    "hinge":         D: relu(1 - real) + relu(1 + fake), G: -fake (Miyato et al. 2018; BigGAN)
    "lsgan":         least squares towards the targets (Mao et al. 2017)
    "wgan-gp":       D: fake - real, G: -fake, with a gradient penalty of 10 (Gulrajani et al. 2017)
    "relativistic":  RaGAN (`gan_keras.training.relativistic`)
    "rpgan":         R3GAN's pairing loss with R1 and R2 (`gan_keras.training.rpgan`)

Regularizers (`R1`, `GradientPenalty`) are called inside D's tape with the function that runs D
on images (augmentation included, so the penalty sees what D sees).

Each loss is declared to `gan_keras.registry` (kind "loss") with `uses_targets`, which the
command line and `config.validate` read before TensorFlow loads.

Example:
    >>> loss = get_loss("hinge")
    >>> float(loss.d_loss(np.array([[2.0]], "float32"), np.array([[-2.0]], "float32")))   # beyond the margin: 0
    0.0
"""

from keras import ops

from gan_keras import backend, registry
from gan_keras.training.engine import input_gradient
from gan_keras.training.noise import Stream, replica_uniform


def sigmoid_cross_entropy(labels, logits):
    """Binary cross-entropy of logits, element-wise, in the stable form TensorFlow's
    `sigmoid_cross_entropy_with_logits` computes: max(x, 0) - x * z + log(1 + exp(-|x|))."""
    labels = ops.broadcast_to(ops.cast(labels, logits.dtype), ops.shape(logits))
    return ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


class GANLoss:
    """Base class: the pair of losses a trainer minimises, D's and G's."""

    registry_name = None  # set by registry.register
    penalty = None  # a regularizer the loss needs (WGAN-GP's gradient penalty)

    @property
    def uses_targets(self):
        """True when label smoothing and label noise apply (declared once, to the registry)."""
        return registry.info("loss", self.registry_name)["uses_targets"]

    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        raise NotImplementedError

    def g_loss(self, fake_logits, real_logits=None):
        raise NotImplementedError


@registry.register("loss", "nonsaturating", uses_targets=True)
class NonSaturating(GANLoss):
    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        real = sigmoid_cross_entropy(real_target, ops.convert_to_tensor(real_logits))
        fake = sigmoid_cross_entropy(fake_target, ops.convert_to_tensor(fake_logits))
        return 0.5 * (ops.mean(real) + ops.mean(fake))

    def g_loss(self, fake_logits, real_logits=None):
        return ops.mean(ops.softplus(-fake_logits))  # -log sigmoid(fake)


@registry.register("loss", "hinge", uses_targets=False)
class Hinge(GANLoss):
    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))

    def g_loss(self, fake_logits, real_logits=None):
        return -ops.mean(fake_logits)


@registry.register("loss", "lsgan", uses_targets=True)
class LeastSquares(GANLoss):
    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        return 0.5 * (ops.mean(ops.square(real_logits - real_target))
                      + ops.mean(ops.square(fake_logits - fake_target)))

    def g_loss(self, fake_logits, real_logits=None):
        return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


@registry.register("loss", "wgan-gp", uses_targets=False)
class Wasserstein(GANLoss):
    def __init__(self, gp_weight=10.0):
        self.penalty = GradientPenalty(gp_weight)

    def d_loss(self, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
        return ops.mean(fake_logits) - ops.mean(real_logits)

    def g_loss(self, fake_logits, real_logits=None):
        return -ops.mean(fake_logits)


def get_loss(name, gamma=None):
    """A new loss object of this registered name; `gamma` goes to a loss declared `takes_gamma` (rpgan)."""
    if registry.info("loss", name).get("tensorflow_only"):
        backend.require_tensorflow(f"--loss {name}")
    cls = registry.get("loss", name)
    takes_gamma = registry.info("loss", name).get("takes_gamma") and gamma is not None
    return cls(gamma=gamma) if takes_gamma else cls()


def squared_gradient_norm(run_d, images):
    """Per image ||d sum(D(x)) / dx||^2, kept differentiable for D's weights."""
    grads = input_gradient(run_d, images)
    return ops.sum(ops.square(grads), axis=list(range(1, len(grads.shape))))


class R1:
    """R1 (Mescheder et al. 2018): gamma / 2 * E ||grad_x D(x)||^2 on real images, lazily every
    `every` steps and then multiplied by `every`, as StyleGAN2 does (about 1/every of the cost).

    With several replicas it runs every step at weight gamma / 2 (the same expected penalty): the
    lazy branch is a `tf.cond`, and a synchronized BatchNorm in D, a cross-replica sync point,
    cannot run inside one under `tf.distribute`.
    """

    def __init__(self, gamma, every=16):
        self.gamma, self.every = float(gamma), int(every)

    def _every(self):
        return self.every if backend.replicas_in_sync() == 1 else 1

    def separate(self):
        """Whether D's step takes this penalty's gradient on its own, inside a `tf.cond` on the steps it
        is due (`due`, `weighted`), and adds it to the loss's: TensorFlow cannot differentiate through a
        cond a gradient taken inside it of an augmented D ("Could not find external tensor capture")."""
        return backend.name() == "tensorflow" and self._every() > 1

    def due(self, step):
        return ops.equal(step % self._every(), 0)

    def weighted(self, run_d, real):
        """The penalty at the weight of a step where it is due."""
        return 0.5 * self.gamma * self._every() * ops.mean(squared_gradient_norm(run_d, real))

    def __call__(self, run_d, real, fake, step, seed, shift=0):
        if self._every() == 1:
            return self.weighted(run_d, real)
        due = self.due(step)
        if backend.name() == "jax":
            # a lax.cond branch cannot hand D's batch-norm updates out of it: weigh instead (16x the work)
            return ops.where(due, self.weighted(run_d, real), 0.0)
        return ops.cond(due, lambda: self.weighted(run_d, real), lambda: ops.convert_to_tensor(0.0))


class GradientPenalty:
    """WGAN-GP: weight * E (||grad D(x_hat)|| - 1)^2 at random points between real and generated
    images (one uniform draw per image, keyed by seed and step like all of training's noise; each
    of `--n-critic` D steps draws its own, from its `shift` of the stream)."""

    def __init__(self, weight=10.0):
        self.weight = float(weight)

    def __call__(self, run_d, real, fake, step, seed, shift=0):
        eps = replica_uniform(seed, step, ops.shape(real)[0], Stream.GRADIENT_PENALTY + shift)
        eps = ops.reshape(ops.cast(eps, real.dtype), [-1] + [1] * (len(real.shape) - 1))
        between = eps * real + (1.0 - eps) * ops.cast(fake, real.dtype)
        norm = ops.sqrt(squared_gradient_norm(run_d, between) + 1e-12)
        return self.weight * ops.mean(ops.square(norm - 1.0))
