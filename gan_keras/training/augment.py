"""Differentiable augmentation between the data and D, applied to real and generated images alike.

    "none":     the identity.
    "diffaug":  DiffAugment (Zhao et al. 2020), policy color, translation, cutout, on every image.
    "ada":      adaptive augmentation (Karras et al. 2020): each transform is applied to each image
                with probability p, and p is steered by the sign of D's logits on real images:
                above `target` (0.6) D is overconfident on the reals it has seen, and p rises.
                The transforms are a subset of StyleGAN2-ADA's "bgc" pipeline that needs no
                interpolation: x-flip, 90-degree rotations, integer translation, brightness,
                contrast and saturation.

Every random draw is a function of (seed, step, stream), like the rest of training's noise, so a
resumed run augments exactly as the uninterrupted one; ADA's p and its running sum are variables
the checkpoint holds. Gradients flow through every transform to G.

Example:
    >>> augment = get_augment("diffaug")
    >>> images = np.zeros((4, 32, 32, 3), "float32")
    >>> tuple(augment(images, step=7, stream=10, seed=0).shape)   # same shape, same range
    (4, 32, 32, 3)
"""

import math

import keras
from keras import ops

from gan_keras import backend, registry
from gan_keras.training.noise import replica_uniform

if backend.is_tensorflow():  # a tf.Module, so that a TensorFlow checkpoint tracks ADA's variables by name
    import tensorflow as tf

    _Base = tf.Module
else:
    _Base = object


@registry.register("augment", "none")
class Augment(_Base):
    """The identity; subclasses transform. `update` sees D's logits on real images each step."""

    def __call__(self, images, step, stream, seed=0):
        return images

    def update(self, real_logits, global_batch):
        pass

    def logs(self):
        return {}

    @property
    def variables(self):
        """The state a checkpoint holds (ADA's p and its running sum), in a fixed order."""
        return [getattr(self, name) for name in getattr(self, "state_names", ())]


def _shift_indices(size, offset):
    """For each image, the source index of every output row (or column), clipped, and whether it lies inside."""
    source = ops.arange(size)[None, :] - ops.cast(offset, "int32")[:, None]
    return ops.clip(source, 0, size - 1), (source >= 0) & (source < size)


def _gather_rows(images, rows, axis):
    """images[b, rows[b, i], ...] along `axis` (1 or 2) for each image b: one gather."""
    rows = rows[:, :, None, None] if axis == 1 else rows[:, None, :, None]
    index = ops.broadcast_to(rows, ops.shape(images))
    return ops.take_along_axis(images, index, axis=axis)


def _shifted_unmasked(images, dy, dx):
    """Each image moved by integer (dy, dx) pixels, as two gathers; pixels that came from outside are
    left as copies of the border for the caller's mask to zero (see `shift`)."""
    rows, inside_rows = _shift_indices(images.shape[1], dy)
    cols, inside_cols = _shift_indices(images.shape[2], dx)
    moved = _gather_rows(_gather_rows(images, rows, 1), cols, 2)
    return moved, inside_rows[:, :, None] & inside_cols[:, None, :]


def shift(images, dy, dx):
    """Move each image by integer (dy, dx) pixels, filling with zeros (mid grey in [-1, 1]).

    Two gathers and a mask (the gradient reaches every input pixel that lands inside); 2.4x faster
    forward and backward than the two shift-matrix products it replaced, with the same result.
    """
    moved, inside = _shifted_unmasked(images, dy, dx)
    return moved * ops.cast(inside, images.dtype)[..., None]


def _to_int(uniform, low, high):
    """Uniform [0, 1) -> integers in [low, high]."""
    return ops.cast(ops.floor(uniform * (high - low + 1)), "int32") + low


def _mean(images, axes):
    return ops.mean(images, axis=axes, keepdims=True)


@registry.register("augment", "diffaug")
class DiffAugment(Augment):
    """DiffAugment's color, translation (1/8 of the size) and cutout (half the size), on every image."""

    def __init__(self, translation=0.125, cutout=0.5):
        super().__init__()
        self.translation, self.cutout = translation, cutout

    def __call__(self, images, step, stream, seed=0):
        # The draws stay outside the compiled part: XLA's stateless random numbers are not TensorFlow's.
        u = replica_uniform(seed, step, ops.shape(images)[0], stream, 7)
        if backend.is_tensorflow():
            return _diffaugment_tensorflow(images, u, self.translation, self.cutout)
        return _diffaugment_forward(images, u, self.translation, self.cutout)  # differentiated by the backend


def _diffaugment_parts(shape, u, translation, cutout):
    """The per-image draws of DiffAugment for the uniform numbers `u` (batch, 7): the colour factors
    (brightness b, saturation s, contrast c), the translation (dy, dx) and the mask of the pixels
    kept (those that came from inside the image and lie outside the cutout square)."""
    height, width = shape[1], shape[2]
    b, s, c = (u[:, 0] - 0.5), 2.0 * u[:, 1], u[:, 2] + 0.5
    # translation by up to 1/8 of the size
    max_dy, max_dx = int(height * translation + 0.5), int(width * translation + 0.5)
    dy, dx = _to_int(u[:, 3], -max_dy, max_dy), _to_int(u[:, 4], -max_dx, max_dx)
    _, inside_rows = _shift_indices(height, dy)
    _, inside_cols = _shift_indices(width, dx)
    # cutout: a (height/2, width/2) square of zeros at a random place, partly outside the image
    cut_h, cut_w = int(height * cutout + 0.5), int(width * cutout + 0.5)
    top = _to_int(u[:, 5], 0, height + (1 - cut_h % 2) - 1) - cut_h // 2
    left = _to_int(u[:, 6], 0, width + (1 - cut_w % 2) - 1) - cut_w // 2
    rows, cols = ops.arange(height)[None, :], ops.arange(width)[None, :]
    cut_rows = (rows >= top[:, None]) & (rows < top[:, None] + cut_h)
    cut_cols = (cols >= left[:, None]) & (cols < left[:, None] + cut_w)
    keep = (inside_rows[:, :, None] & inside_cols[:, None, :]) & ~(cut_rows[:, :, None] & cut_cols[:, None, :])
    return (b, s, c), (dy, dx), keep


def _per_image(values, dtype):
    return [ops.cast(v, dtype)[:, None, None, None] for v in values]


def _diffaugment_forward(images, u, translation, cutout):
    """DiffAugment's three transforms for the uniform draws `u` (batch, 7).

    color, in closed form: brightness b, then saturation s about the per-pixel grey, then contrast c
    about the image mean, is c*s*x + c*(1-s)*grey + (1-c)*mean + b (the grey and mean of the input:
    the first two steps leave the image mean at mean + b).
    """
    (b, s, c), (dy, dx), keep = _diffaugment_parts(images.shape, u, translation, cutout)
    b, s, c = _per_image((b, s, c), images.dtype)
    grey = _mean(images, [3])
    x = (c * s) * images + (c * (1.0 - s)) * grey + ((1.0 - c) * _mean(grey, [1, 2]) + b)
    x, _ = _shifted_unmasked(x, dy, dx)
    return x * ops.cast(keep, x.dtype)[..., None]


def _diffaugment_backward(upstream, u, translation, cutout):
    """The gradient of `_diffaugment_forward` for its images: DiffAugment is affine in them, so this
    is the transpose of its linear part. The masked translation's transpose is the opposite
    translation (`shift`), one gather again, where automatic differentiation scatters (4x slower on
    a CPU, the step's slowest part)."""
    (_, s, c), (dy, dx), keep = _diffaugment_parts(upstream.shape, u, translation, cutout)
    g = shift(upstream * ops.cast(keep, upstream.dtype)[..., None], -dy, -dx)
    channels, pixels = g.shape[3], g.shape[1] * g.shape[2]
    sums = ops.cast(g, "float32")  # the colour's transpose sums over channels and pixels: in float32
    per_pixel = ops.sum(sums, axis=3, keepdims=True) / channels
    per_image = ops.sum(per_pixel, axis=[1, 2], keepdims=True) / pixels
    s, c = _per_image((s, c), "float32")
    return ops.cast((c * s) * sums + (c * (1.0 - s)) * per_pixel + (1.0 - c) * per_image, upstream.dtype)


_COMPILED = {}


def _diffaugment_tensorflow(images, u, translation, cutout):
    """On TensorFlow: forward and backward each compiled by XLA into a few fused loops (2.4x faster
    than the ops one by one on a CPU), with the closed-form transpose as the gradient."""
    import tensorflow as tf

    if not _COMPILED:
        _COMPILED["forward"] = tf.function(_diffaugment_forward, jit_compile=True)
        _COMPILED["backward"] = tf.function(_diffaugment_backward, jit_compile=True)
    forward, backward = _COMPILED["forward"], _COMPILED["backward"]

    @tf.custom_gradient
    def augment(images):
        return (forward(images, u, translation, cutout),
                lambda upstream: backward(upstream, u, translation, cutout))

    return augment(images)


def _rot90(x, quarters):
    """Each image turned by `quarters` (a Python int) quarter turns counter-clockwise, as tf.image.rot90."""
    for _ in range(quarters):
        x = ops.flip(ops.transpose(x, [0, 2, 1, 3]), axis=1)
    return x


@registry.register("augment", "ada", takes_target=True)
class ADA(Augment):
    """Adaptive augmentation: every transform with probability `p`, steered towards `target`.

    Every `interval` steps p moves by sign(E[sign(D(real))] - target) * images seen / (kimg * 1000):
    it can go from 0 to 1 in `kimg` thousand images (StyleGAN2-ADA's rule; 100k here, for the short
    runs of a single machine, where StyleGAN2-ADA used 500k).
    """

    state_names = ("p", "sign_sum", "sign_count")

    def __init__(self, target=0.6, interval=4, kimg=100, p=0.0):
        super().__init__()
        self.target = None if target is None else float(target)  # None: p is set from outside (a schedule)
        self.interval, self.kimg = int(interval), float(kimg)
        # every replica computes the same value (backend.state_variable)
        self.p = backend.state_variable(p, "ada_p")
        self.sign_sum = backend.state_variable(0.0, "ada_sign_sum")
        self.sign_count = backend.state_variable(0.0, "ada_sign_count")

    def __call__(self, images, step, stream, seed=0):
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        u = replica_uniform(seed, step, batch, stream, 12)
        p = ops.cast(_read(self.p), images.dtype)

        def maybe(index, transformed, current):
            chosen = u[:, index] < p
            return ops.where(ops.reshape(chosen, [-1, 1, 1, 1]), transformed, current)

        x = maybe(0, ops.flip(images, axis=2), images)  # x-flip
        if height == width:  # 90-degree rotations by 1, 2 or 3 quarters
            quarters = _to_int(u[:, 1], 1, 3)
            rotated = [_rot90(x, k) for k in (1, 2, 3)]
            turned = ops.where(ops.reshape(quarters == 1, [-1, 1, 1, 1]), rotated[0],
                               ops.where(ops.reshape(quarters == 2, [-1, 1, 1, 1]), rotated[1], rotated[2]))
            x = maybe(2, turned, x)
        max_dy, max_dx = int(height * 0.125 + 0.5), int(width * 0.125 + 0.5)
        x = maybe(3, shift(x, _to_int(u[:, 4], -max_dy, max_dy), _to_int(u[:, 5], -max_dx, max_dx)), x)
        normal = ops.cast(self._normal(u[:, 6:9]), x.dtype)
        x = maybe(9, x + 0.2 * normal[:, 0, None, None, None], x)  # brightness
        mean = _mean(x, [1, 2, 3])
        x = maybe(10, (x - mean) * ops.exp(0.5 * math.log(2) * normal[:, 1, None, None, None]) + mean, x)  # contrast
        grey = _mean(x, [3])
        return maybe(11, (x - grey) * ops.exp(math.log(2) * normal[:, 2, None, None, None]) + grey, x)  # saturation

    @staticmethod
    def _normal(uniform):
        return math.sqrt(2.0) * ops.erfinv(2.0 * ops.clip(uniform, 1e-6, 1 - 1e-6) - 1.0)

    def update(self, real_logits, global_batch):
        if self.target is None:
            return
        sign = ops.mean(ops.sign(ops.cast(real_logits, "float32")))
        if backend.is_tensorflow():
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                sign = context.all_reduce(tf.distribute.ReduceOp.MEAN, sign)
        # Branch-free (no cond): assigning a variable is a cross-replica sync point under
        # tf.distribute, which cannot sit inside a control-flow branch.
        total, count = _read(self.sign_sum) + sign, _read(self.sign_count) + 1.0
        due = ops.cast(count >= self.interval, "float32")
        speed = ops.cast(global_batch * self.interval, "float32") / (self.kimg * 1000.0)
        self.p.assign(ops.clip(_read(self.p) + due * ops.sign(total / count - self.target) * speed, 0.0, 1.0))
        self.sign_sum.assign(total * (1.0 - due))
        self.sign_count.assign(count * (1.0 - due))

    def logs(self):
        return {"ada_p": self.p}


def _read(variable):
    """A variable's value as a tensor (a tf.Variable or a keras.Variable)."""
    return variable.value if isinstance(variable, keras.Variable) else ops.convert_to_tensor(variable)


def get_augment(name, ada_target=0.6):
    """A new augmenter of this registered name; `ada_target` goes to those declared `takes_target` (ADA)."""
    cls = registry.get("augment", name)
    return cls(target=ada_target) if registry.info("augment", name).get("takes_target") else cls()
