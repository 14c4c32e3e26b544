"""Projection: find the latent that makes a trained generator draw a given image (GAN inversion).

For a style-based generator, w (or w+, one w per layer) is optimised from the average w, as
StyleGAN2-ADA's `projector.py` does: Adam, a learning rate that ramps up and then down along a
cosine, and noise added to w early on that fades out. The per-pixel noise is the generator's fixed
inference noise here (it is one buffer per layer, shared by every image), so it is not optimised
and needs no regulariser. For the DCGAN and the MLP, z is optimised with the same schedule and a
prior term that keeps |z| on the shell where N(0, I) noise lives, from several random starts at
once, keeping the best. A conditional generator projects with a given class, or searches every
class (starts spread over the classes) and reports the class it found.

The distance is pixels (mean squared error) plus a perceptual term, a registered "distance":
"vgg" (VGG16 features, LPIPS-style: unit-normalised channels, squared differences, averaged per
layer; ImageNet weights downloaded once by Keras), "discriminator" (the same on the run's own
discriminator's activations), "ssim" (1 - SSIM), "pixel" alone. "auto" takes VGG16 where its
weights can be had and otherwise warns once and takes `OFFLINE_DISTANCE`, chosen by measurement
(docs/BENCHMARKS.md).

Example:
    >>> G = load_generator("pretrained:anime64")
    >>> result = project(G, load_targets(["me.png"], G), steps=300)
    >>> result.psnr, result.latents.shape, result.space
"""

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.errors import UsageError

registry.declare("distance", "auto", help="vgg where its weights can be had, else OFFLINE_DISTANCE with one warning")

# Measured on 100 held-out faces and 100 test digits (docs/BENCHMARKS.md): pixels + (1 - SSIM) drew
# the best structure (SSIM 0.403 vs 0.321 pixels alone and 0.323 with D's features on faces; 0.899 vs
# 0.873 and 0.858 on digits) for 0.3-0.6 dB of PSNR less than pixels alone.
OFFLINE_DISTANCE = "ssim"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}

# StyleGAN2-ADA projector.py's schedule, as fractions of the steps
INITIAL_LR = 0.1
LR_RAMPUP = 0.05
LR_RAMPDOWN = 0.25
NOISE_FACTOR = 0.05
NOISE_RAMP = 0.75
Z_PRIOR_WEIGHT = 0.1


# ---------------------------------------------------------------------------------------------
# Targets


def image_files(paths):
    """The image files named by `paths`: files as given, folders expanded (sorted); one line if none."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path} does not exist")
    if not files:
        raise UsageError(f"no images in {', '.join(map(str, paths))}")
    return files


def load_targets(paths, generator):
    """Images at `paths` (files or folders), center-cropped and resized to the generator's size and
    mode as the data loader does; float32 in [-1, 1]. One UsageError line for a file that is not an image."""
    from gan_keras.data import _decode

    size, channels = int(generator.outputs[0].shape[1]), int(generator.outputs[0].shape[-1])
    images = []
    for path in image_files(paths):
        try:
            images.append(_decode(path, size, channels))
        except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError ...
            raise UsageError(f"{path} is not an image ({type(e).__name__})") from None
    return np.stack(images).astype(np.float32) / 127.5 - 1.0


# ---------------------------------------------------------------------------------------------
# Distances: (generator-range images, targets) -> one number per image


def _normalised(features):
    import tensorflow as tf

    return features * tf.math.rsqrt(tf.reduce_sum(tf.square(features), axis=-1, keepdims=True) + 1e-10)


def _pixel(x, y):
    import tensorflow as tf

    return tf.reduce_mean(tf.square(x - y), axis=tuple(range(1, len(x.shape))))


def _feature_distance(feature_model, prepare):
    """LPIPS-style: per layer, the mean squared difference of unit-normalised features, summed over layers."""
    import tensorflow as tf

    def distance(x, y):
        total = _pixel(x, y)
        for fx, fy in zip(feature_model(prepare(x), training=False), feature_model(prepare(y), training=False)):
            d = tf.square(_normalised(fx) - _normalised(fy))
            total += tf.reduce_mean(d, axis=tuple(range(1, len(d.shape)))) * float(d.shape[-1])
        return total

    return distance


_VGG = {}


def vgg_features():
    """VGG16 (ImageNet weights, downloaded once by Keras) cut at four conv layers; None when the weights
    cannot be had (offline)."""
    if "model" not in _VGG:
        import keras

        try:
            vgg = keras.applications.VGG16(include_top=False, weights="imagenet")
            names = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"]
            _VGG["model"] = keras.Model(vgg.inputs, [vgg.get_layer(n).output for n in names], name="vgg_features")
        except Exception:  # no network, a firewall: the caller falls back
            _VGG["model"] = None
    return _VGG["model"]


@registry.register("distance", "vgg", help="pixels + VGG16 features (ImageNet weights, downloaded once)")
def _vgg_distance(generator, discriminator):
    import tensorflow as tf

    model = vgg_features()
    if model is None:
        return None
    size = max(64, int(generator.outputs[0].shape[1]))
    mean = tf.constant([123.68, 116.779, 103.939])

    def prepare(x):  # [-1, 1] -> VGG's BGR, mean-subtracted, at least 64x64, 3 channels
        x = tf.image.resize(x, (size, size)) if x.shape[1] < size else x
        x = tf.tile(x, (1, 1, 1, 3)) if x.shape[-1] == 1 else x
        return ((x + 1.0) * 127.5 - mean)[..., ::-1]

    return _feature_distance(model, prepare)


def discriminator_features(discriminator):
    """The activations of a discriminator's LeakyReLU layers, as one model (inference mode)."""
    import keras

    outputs = [layer.output for layer in discriminator.layers if isinstance(layer, keras.layers.LeakyReLU)]
    if not outputs:
        raise UsageError(f"{discriminator.name} has no LeakyReLU activations to compare")
    images = discriminator.inputs[0]
    return keras.Model(images, outputs, name="discriminator_features")


@registry.register("distance", "discriminator", needs_discriminator=True, help="pixels + the run's own discriminator features")
def _discriminator_distance(generator, discriminator):
    if discriminator is None:
        return None  # a projection D's activations come before its class term: its images input suffices
    return _feature_distance(discriminator_features(discriminator), lambda x: x)


@registry.register("distance", "ssim", help="pixels + 1 - SSIM")
def _ssim_distance(generator, discriminator):
    import tensorflow as tf

    size = int(generator.outputs[0].shape[1])

    def distance(x, y):
        ssim = tf.image.ssim((x + 1) / 2, (y + 1) / 2, max_val=1.0, filter_size=min(11, size // 2 * 2 - 1))
        return _pixel(x, y) + (1.0 - ssim)

    return distance


@registry.register("distance", "pixel", help="pixels alone")
def _pixel_distance(generator, discriminator):
    return _pixel


def make_distance(name, generator, discriminator=None):
    """(name actually used, distance function). "auto": VGG16 where its weights can be had, else one
    warning and `OFFLINE_DISTANCE` (ssim when no discriminator is given)."""
    registry.check("distance", name)
    if name == "auto":
        fn = _vgg_distance(generator, discriminator)
        if fn is not None:
            return "vgg", fn
        fallback = OFFLINE_DISTANCE if discriminator is not None or OFFLINE_DISTANCE != "discriminator" else "ssim"
        warnings.warn(f"VGG16's ImageNet weights could not be downloaded (offline?): projecting with the "
                      f"{fallback} distance instead", stacklevel=3)
        return fallback, registry.get("distance", fallback)(generator, discriminator)
    fn = registry.get("distance", name)(generator, discriminator)
    if fn is None:
        need = "the run's discriminator" if name == "discriminator" else "VGG16's ImageNet weights (a download)"
        raise UsageError(f"the {name} distance needs {need}")
    return name, fn


# ---------------------------------------------------------------------------------------------
# The optimisation


@dataclass
class Projection:
    """What `project` found: per image its latent, the image G draws from it, and how close it is."""

    latents: np.ndarray  # (N, dim) in z or w; (N, num_ws, dim) in w+
    space: str
    images: np.ndarray  # G's images of the latents, [-1, 1]
    targets: np.ndarray
    labels: np.ndarray | None
    psnr: np.ndarray  # dB, per image, on 8-bit images
    ssim: np.ndarray
    distance: str
    losses: list = field(default_factory=list)  # mean loss per step (of the best starts)
    frames: list = field(default_factory=list)  # G's images of the best latents as the optimisation went


def schedule(t):
    """(learning-rate factor, noise factor) at fraction `t` of the steps: StyleGAN2-ADA's projector."""
    ramp = min(1.0, (1.0 - t) / LR_RAMPDOWN)
    ramp = (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / LR_RAMPUP)
    return ramp, max(0.0, 1.0 - t / NOISE_RAMP) ** 2


def psnr_ssim(images, targets):
    """PSNR (dB) and SSIM per image, on the 8-bit images a person sees."""
    import tensorflow as tf

    from gan_keras.images import to_uint8

    a, b = tf.constant(to_uint8(images)), tf.constant(to_uint8(targets))
    size = int(a.shape[1])
    return (tf.image.psnr(a, b, max_val=255).numpy(),
            tf.image.ssim(a, b, max_val=255, filter_size=min(11, size // 2 * 2 - 1)).numpy())


def _starts(generator, n, space, starts, classes, label, seed):
    """Start latents (n * S, ...) and labels (or None): the average w for a style-based generator; S
    random z per image (per class, when a conditional one searches the classes)."""
    from gan_keras import latent
    from gan_keras.noise import Stream, latent_noise

    if space != "z":
        if classes:
            centres = [latent.mean_w(generator, labels=c) for c in (range(classes) if label is None else [label])]
        else:
            centres = [latent.mean_w(generator)]
        w = np.repeat(np.stack(centres), n, axis=0)  # class-major: (C * n, w_dim)
        labels = None if not classes else np.repeat(np.arange(classes) if label is None else [label], n)
        return (latent.broadcast(w, latent.num_ws(generator)) if space == "w+" else w), labels
    size = latent.latent_size(generator, "z")
    per_class = 1 if not classes else (classes if label is None else 1)
    z = latent_noise(seed, 0, n * starts * per_class, size, stream=Stream.PROJECTION_STARTS).numpy()
    labels = None
    if classes:
        labels = np.repeat(np.arange(classes) if label is None else [label], n * starts).astype(np.int32)
    return z, labels


def _w_std(generator, labels):
    """The spread of w around its mean (StyleGAN2-ADA's w_std), scaling the noise added to w."""
    from gan_keras import latent
    from gan_keras.noise import Stream, latent_noise

    z = latent_noise(0, 0, 2000, latent.latent_size(generator, "z"), stream=Stream.MEAN_W).numpy()
    w = latent.to_w(generator, z, None if labels is None else np.resize(np.unique(labels), 2000))
    return float(np.sqrt(np.sum((w - w.mean(0)) ** 2) / len(w)))


def project(generator, targets, steps=300, space=None, distance="auto", discriminator=None, label=None,
            starts=4, seed=0, frames=0, verbose=1):
    """Project `targets` ((N, H, W, C) in [-1, 1], as `load_targets` reads them) into `generator`'s
    latent space; returns a `Projection`.

    Args:
        space: "z" (DCGAN, MLP; the default there), "w" (style-based default) or "w+".
        distance: a registered distance (`registry.names("distance")`), "auto" by default (see the
            module docstring).
        discriminator: the run's D, for the "discriminator" distance.
        label: a conditional generator's class for every image; None searches all classes.
        starts: random starts per image (and per class) in z; the best is kept.
        frames: how many snapshots of the progress to keep (for the progress video).
    """
    import keras
    import tensorflow as tf

    from gan_keras import latent
    from gan_keras.models import num_classes
    from gan_keras.networks.stylegan import SYNTHESIS

    space = space or latent.default_space(generator)
    latent.check_space(generator, space)
    classes = num_classes(generator)
    if label is not None and not classes:
        from gan_keras.sampling import NOT_CONDITIONAL

        raise UsageError(f"--class: {NOT_CONDITIONAL}")
    if label is not None and not 0 <= label < classes:
        raise UsageError(f"class {label} is outside this run's classes 0-{classes - 1}")
    targets = np.asarray(targets, np.float32)
    if targets.shape[1:] != tuple(generator.outputs[0].shape[1:]):
        raise UsageError(f"targets of shape {targets.shape[1:]} do not match the generator's "
                         f"{tuple(generator.outputs[0].shape[1:])}: read them with load_targets")
    used, distance_fn = make_distance(distance, generator, discriminator)
    n = len(targets)
    start, labels = _starts(generator, n, space, starts, classes, label, seed)
    copies = len(start) // n  # candidates per image, ordered copy-major: candidate j of image i at j * n + i
    target_batch = tf.constant(np.tile(targets, (copies, 1, 1, 1)))
    noise_std = _w_std(generator, labels) if space != "z" else 1.0
    synthesis = generator.get_layer(SYNTHESIS) if space != "z" else None
    label_tensor = None if labels is None else tf.constant(labels)
    size = latent.latent_size(generator, "z")

    def images_of(latents):
        if space == "z":
            return generator(latents if label_tensor is None else [latents, label_tensor], training=False)
        ws = latents if space == "w+" else tf.repeat(latents[:, None], latent.num_ws(generator), axis=1)
        return synthesis(ws, training=False)

    def losses_of(latents):
        per = distance_fn(images_of(latents), target_batch)
        if space == "z":  # keep |z| on the shell where N(0, I) noise lives
            radius = tf.norm(latents, axis=-1) / math.sqrt(size)
            per += Z_PRIOR_WEIGHT * tf.square(radius - 1.0)
        return per

    variable = tf.Variable(start)
    m, v = tf.Variable(tf.zeros_like(start)), tf.Variable(tf.zeros_like(start))
    beta_1, beta_2 = 0.9, 0.999

    @tf.function
    def step(i, lr, noise_scale):
        noise = tf.random.stateless_normal(tf.shape(variable), [seed, 7000 + i]) * noise_scale
        with tf.GradientTape() as tape:
            per = losses_of(variable + noise)
            loss = tf.reduce_sum(per)
        grad = tape.gradient(loss, variable)
        m.assign(beta_1 * m + (1 - beta_1) * grad)
        v.assign(beta_2 * v + (1 - beta_2) * tf.square(grad))
        t = tf.cast(i + 1, tf.float32)
        m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
        variable.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + 1e-8))
        return per

    def best(per):
        per = np.asarray(per).reshape(copies, n)
        return per.argmin(0) * n + np.arange(n)

    def render(chosen):
        chosen_labels = None if labels is None or space != "z" else labels[chosen]
        return latent.render(generator, np.asarray(tf.gather(variable, chosen)), space, chosen_labels)

    evaluate = losses_of  # a few calls: eager
    history, snapshots = [], []
    snapshot_at = set(np.linspace(0, steps, frames).astype(int)) if frames else set()
    bar = keras.utils.Progbar(steps, unit_name="step", stateful_metrics=["loss"]) if verbose else None
    for i in range(steps + 1):
        if i in snapshot_at:
            snapshots.append(render(best(evaluate(variable))))
        if i == steps:
            break
        lr_factor, noise_factor = schedule(i / steps)
        per = step(tf.constant(i), tf.constant(INITIAL_LR * lr_factor, tf.float32),
                   tf.constant(noise_std * NOISE_FACTOR * noise_factor, tf.float32))
        per = np.asarray(per).reshape(copies, n)
        history.append(float(per.min(0).mean()))
        if bar:
            bar.update(i + 1, [("loss", history[-1])])
    chosen = best(evaluate(variable))
    latents, images = np.asarray(tf.gather(variable, chosen)), render(chosen)
    psnr, ssim = psnr_ssim(images, targets)
    return Projection(latents, space, images, targets, None if labels is None else labels[chosen], psnr, ssim,
                      used, history, snapshots)



def nearest_samples(generator, targets, n=10000, seed=0, batch_size=500):
    """The baseline projection must beat: per target, the best PSNR and the best SSIM over `n` random
    samples of the generator (a conditional one draws the classes in turn)."""
    from gan_keras.sampling import generate

    best_psnr = np.full(len(targets), -np.inf)
    best_ssim = np.full(len(targets), -np.inf)
    for start in range(0, n, batch_size):
        samples = generate(generator, min(batch_size, n - start), seed=seed + 1 + start)
        for i, target in enumerate(targets):
            psnr, ssim = psnr_ssim(samples, np.broadcast_to(target, samples.shape))
            best_psnr[i], best_ssim[i] = max(best_psnr[i], psnr.max()), max(best_ssim[i], ssim.max())
    return best_psnr, best_ssim
