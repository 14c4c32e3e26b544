"""Sample-quality metrics: FID, KID, precision/recall and SWD.

Feature spaces:
    "domain":    the penultimate layer (128-d) of a small CNN trained once on MNIST or Fashion-MNIST
                 and cached; no download (the usual way papers score digit GANs).
    "inception": InceptionV3 pool features (2048-d) at 299x299, ImageNet weights (one download).
SWD (Karras et al. 2018) works on pixels and needs no network: the offline metric for faces.

Each metric is declared to `gan_keras.registry` (kind "metric"), as StyleGAN2-ADA's
`metric_main.py` registers its metrics: a function of (real, fake uint8 images, `MetricContext`)
returning `{key: value}`, declared with the `keys` it returns, whether lower is better, whether
its feature metrics take the "domain_" prefix on digits, and which datasets it is the cheap default
for (`default_for`: "domain" where a domain classifier exists, "other" elsewhere). `evaluate
--metric`, `--eval-every`, `EvalMetric` and `plot_history` read these declarations; a new metric
is one decorated function plus its test.

A class-conditional generator is also judged by the same digit classifier reading its images:
`conditional_accuracy` is the share drawn as the class asked for, and `per_class_fid` the domain
FID of each class against the real images of that class.

Example:
    >>> real = load_images("mnist")[:10000]
    >>> fake = to_uint8(generate(generator, 10000))
    >>> extractor = feature_extractor("mnist")
    >>> fid(extractor(real), extractor(fake))
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.images import atomic_path, atomic_write_text

DIGIT_SETS = registry.where("dataset", domain_classifier=True)  # the datasets with a domain classifier
FEATURES = "features"  # the digit classifier's penultimate layer: the domain feature space
SHIPPED_CLASSIFIERS = None  # None: gan_keras/pretrained/; tests point it at an empty folder to train afresh


# ---------------------------------------------------------------------------------------------
# Distances between feature sets


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) between two Gaussians.

    Tr((S1 S2)^1/2) is computed as the sum of square roots of the eigenvalues of the symmetric
    matrix S1^1/2 S2 S1^1/2, which is stable where a general matrix square root is not.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid(real_features, fake_features):
    """Fréchet distance between the Gaussians fitted to two (N, D) feature sets."""
    stats = [(f.mean(0), np.cov(f, rowvar=False)) for f in (np.asarray(real_features, np.float64),
                                                            np.asarray(fake_features, np.float64))]
    return frechet_distance(*stats[0], *stats[1])


def kid(real_features, fake_features, subsets=10, subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, mean over subsets."""
    x, y = np.asarray(real_features, np.float64), np.asarray(fake_features, np.float64)
    m = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    dim = x.shape[1]
    values = []
    for _ in range(subsets):
        a, b = x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = ((p @ q.T / dim + 1) ** 3 for p, q in ((a, a), (b, b), (a, b)))
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                      - 2 * kxy.mean())
    return float(np.mean(values))


def _pairwise_sq(a, b):
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0)


def precision_recall(real_features, fake_features, k=3, max_samples=5000, seed=0):
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

    Precision: share of generated samples inside the real manifold (quality).
    Recall: share of real samples inside the generated manifold (coverage; low when modes collapse).
    """
    rng = np.random.default_rng(seed)

    def subset(f):
        f = np.asarray(f, np.float32)
        return f[rng.choice(len(f), max_samples, replace=False)] if len(f) > max_samples else f

    real, fake = subset(real_features), subset(fake_features)

    def radii(f):
        d = _pairwise_sq(f, f)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def coverage(manifold, radius, queries):
        inside = np.zeros(len(queries), bool)
        for i in range(0, len(queries), 1000):
            inside[i:i + 1000] = (_pairwise_sq(queries[i:i + 1000], manifold) <= radius[None, :]).any(1)
        return float(inside.mean())

    return coverage(real, radii(real), fake), coverage(fake, radii(fake), real)


# ---------------------------------------------------------------------------------------------
# Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018)


def _laplacian_pyramid(images, levels):
    import tensorflow as tf

    kernel = np.outer(*[np.array([1, 4, 6, 4, 1], np.float32) / 16] * 2)
    channels = images.shape[-1]
    kernel = tf.constant(np.tile(kernel[:, :, None, None], (1, 1, channels, 1)))
    x = tf.constant(images, tf.float32)
    pyramid = []
    for _ in range(levels - 1):
        blurred = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")
        small = blurred[:, ::2, ::2, :]
        up = tf.image.resize(small, x.shape[1:3], method="bilinear")
        pyramid.append((x - up).numpy())
        x = small
    pyramid.append(x.numpy())
    return pyramid


def _patches(level, per_image, size, rng):
    n, h, w, c = level.shape
    ys = rng.integers(0, h - size + 1, (n, per_image))
    xs = rng.integers(0, w - size + 1, (n, per_image))
    offsets = np.arange(size)
    rows = ys[..., None, None] + offsets[:, None]
    cols = xs[..., None, None] + offsets[None, :]
    batch = np.arange(n)[:, None, None, None]
    return level[batch, rows, cols].reshape(n * per_image, size * size * c)


def swd(real_images, fake_images, levels=None, patches_per_image=64, patch_size=7, projections=256, seed=0):
    """Multi-scale sliced Wasserstein distance (x1000), one value per pyramid level and their mean.

    Images are uint8 (N, H, W, C). Each level's 7x7 patches are normalised per channel, projected
    on random directions, and the sorted projections compared.
    """
    real, fake = (np.asarray(x, np.float32) / 127.5 - 1 for x in (real_images, fake_images))
    if levels is None:
        levels = max(1, int(np.log2(real.shape[1] / 16)) + 1)
    rng = np.random.default_rng(seed)
    results = []
    for real_level, fake_level in zip(_laplacian_pyramid(real, levels), _laplacian_pyramid(fake, levels)):
        size = min(patch_size, real_level.shape[1])
        a, b = (_patches(level, patches_per_image, size, rng) for level in (real_level, fake_level))
        count = min(len(a), len(b))
        a, b = a[:count], b[:count]
        mean, std = a.mean(0), a.std(0) + 1e-8
        a, b = (a - mean) / std, (b - mean) / std
        directions = rng.normal(size=(a.shape[1], projections)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        pa, pb = np.sort(a @ directions, axis=0), np.sort(b @ directions, axis=0)
        results.append(float(np.abs(pa - pb).mean() * 1000))
    return {"swd": float(np.mean(results)), "swd_levels": results}


# ---------------------------------------------------------------------------------------------
# Feature extractors


def digit_classifier(name="mnist", data_dir=None, epochs=2, verbose=1):
    """The small CNN whose penultimate layer is the domain-FID feature space; returns (model, info),
    info holding its test accuracy.

    The one shipped in the package (`gan_keras.pretrained`) when it is there, else one trained once
    and cached in `data.cache_dir`.
    """
    import keras

    from gan_keras import pretrained
    from gan_keras.data import cache_dir

    if name not in DIGIT_SETS:
        raise UsageError(f"domain features exist for {', '.join(DIGIT_SETS)}, not {name!r}")
    cached = pretrained.classifier_files(name, cache_dir(data_dir))
    for path, info_path in (pretrained.classifier_files(name, SHIPPED_CLASSIFIERS), cached):
        if path.is_file() and info_path.is_file():
            return keras.saving.load_model(path), json.loads(info_path.read_text())
    if verbose:
        print(f"training the {name} feature classifier once (cached in {cached[0].parent})", flush=True)
    return train_digit_classifier(name, *cached, data_dir, epochs, verbose)


def train_digit_classifier(name, path, info_path, data_dir=None, epochs=2, verbose=0):
    """Train the domain-FID classifier of `name` (seed 0) and save it to `path` with its card at
    `info_path`; returns (the model as saved, uncompiled; the card)."""
    import keras

    from gan_keras.data import load_digits

    (x, y), (xt, yt) = load_digits(name, "train", data_dir), load_digits(name, "test", data_dir)
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(128, activation="relu", name=FEATURES),
        layers.Dropout(0.3), layers.Dense(10, activation="softmax"),
    ], name=f"classifier_{name}")
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])

    def scale(digits):  # to the GAN's [-1, 1]
        return digits[..., None].astype("float32") / 127.5 - 1.0

    model.fit(scale(x), y, batch_size=128, epochs=epochs, verbose=verbose and 2)
    accuracy = float(model.evaluate(scale(xt), yt, batch_size=512, verbose=0)[1])
    import tensorflow as tf

    info = {"dataset": name, "test_accuracy": accuracy, "epochs": epochs,
            "trained_with": "gan_keras.metrics.train_digit_classifier: Adam 1e-3, batch 128, seed 0, "
                            f"{len(x):,} training images; accuracy on the {len(xt):,} test images",
            "tensorflow": tf.__version__, "keras": keras.__version__}
    if verbose:
        print(f"{name} feature classifier: test accuracy {accuracy:.4f}", flush=True)
    # Two processes (pytest workers, two runs) may train it at once; a reader must never load half a
    # file, and the model is complete before the info file that marks the cache as usable.
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    weights_only = keras.Sequential.from_config(model.get_config())  # uncompiled: no optimizer state (2/3 of the file)
    weights_only.set_weights(model.get_weights())
    weights_only.save(tmp)
    os.replace(tmp, path)
    atomic_write_text(info_path, json.dumps(info, indent=2) + "\n")
    return weights_only, info


def inception_model():
    """InceptionV3 pool features; offline without the weights file, one line says where to put it."""
    import keras

    try:
        return keras.applications.InceptionV3(include_top=False, pooling="avg", weights="imagenet",
                                              input_shape=(299, 299, 3))
    except Exception as e:
        raise UsageError("InceptionV3 weights could not be downloaded (" + type(e).__name__ + "): put "
                         "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 in ~/.keras/models/, "
                         "or use --metric swd, which needs no network") from None


class FeatureExtractor:
    """Batched, streaming features of uint8 images (N, H, W, C): `extractor(images) -> (N, D)`."""

    def __init__(self, model, size, channels, batch_size=500, preprocess=None, verbose=0):
        import keras

        self.model = keras.Model(model.inputs, model.get_layer(FEATURES).output) if any(
            layer.name == FEATURES for layer in model.layers) else model
        self.size, self.channels, self.batch_size = size, channels, batch_size
        self.preprocess = preprocess
        self.verbose = verbose
        self._forward = None

    def _prepare(self, batch):
        from gan_keras.data import to_model_range

        x = to_model_range(batch, (self.size, self.size, self.channels))
        return self.preprocess(x) if self.preprocess else x

    def __call__(self, images):
        import keras
        import tensorflow as tf

        if self._forward is None:
            self._forward = tf.function(lambda x: self.model(self._prepare(x), training=False))
        bar = keras.utils.Progbar(len(images), unit_name="image") if self.verbose else None
        parts = []
        for i in range(0, len(images), self.batch_size):
            parts.append(self._forward(tf.constant(images[i:i + self.batch_size])).numpy())
            if bar:
                bar.update(min(i + self.batch_size, len(images)))
        return np.concatenate(parts).astype(np.float64)


_EXTRACTORS = {}  # built once per process: --eval-every calls this every few epochs


def feature_extractor(space, data_dir=None, verbose=0):
    """A `FeatureExtractor`: "mnist" / "fashion_mnist" (domain features) or "inception"."""
    key = (space, str(data_dir))
    if key not in _EXTRACTORS:
        from gan_keras.distribute import precision_scope

        with precision_scope(None):  # metric networks compute in float32, also during a mixed-precision run
            if space in DIGIT_SETS:
                model, _ = digit_classifier(space, data_dir, verbose=verbose)
                _EXTRACTORS[key] = FeatureExtractor(model, 28, 1)
            elif space == "inception":
                _EXTRACTORS[key] = FeatureExtractor(inception_model(), 299, 3, batch_size=100,
                                                    preprocess=lambda x: x)
            else:
                raise UsageError(f"unknown feature space {space!r}")
    extractor = _EXTRACTORS[key]
    extractor.verbose = verbose
    return extractor


# ---------------------------------------------------------------------------------------------
# Evaluating a generator


def default_metric(dataset):
    """The cheap metric of a dataset, as declared: domain FID for digits, SWD otherwise."""
    return registry.where("metric", default_for="domain" if dataset in DIGIT_SETS else "other")[0]


def metric_key(metric, dataset):
    """The key (history column without "eval_") of a metric's first value for this dataset, e.g.
    "domain_fid" for fid on mnist, "fid" on faces, "swd"."""
    meta = registry.info("metric", metric)
    prefix = "domain_" if meta.get("domain_prefix") and dataset in DIGIT_SETS else ""
    return prefix + meta["keys"][0]


def metric_of_key(key):
    """(metric name, lower_is_better) of a score key or history column ("eval_domain_fid", "swd");
    None for a column no metric declares."""
    key = key.removeprefix("eval_").removeprefix("domain_")
    for name in registry.names("metric"):
        meta = registry.info("metric", name)
        if key in meta["keys"]:
            return name, meta["lower_is_better"]
    return None


def evaluate_run(run, metric=None, n=10000, seed=0, data_dir=None, verbose=0):
    """`evaluate` for a run folder (or `pretrained:NAME`) against its dataset: the held-out images
    when the run trained on the first `--limit` only. Returns the record `evaluate` prints."""
    import time

    from gan_keras.config import load_config
    from gan_keras.data import load_images, load_labeled_images
    from gan_keras.sampling import load_generator

    config, saved = load_config(run)
    shape = saved.get("image_shape", [None, None, None])
    data_dir = data_dir or config.data_dir
    labels = None
    if config.conditional:
        images, labels, _ = load_labeled_images(config.dataset, shape[0], shape[2], data_dir)
    else:
        images = load_images(config.dataset, shape[0], shape[2], data_dir)
    against = "training images"
    if config.limit and len(images) > config.limit:  # the run never saw these: compare with them
        images, against = images[config.limit:], f"held-out images (after the first {config.limit:,})"
        labels = None if labels is None else labels[config.limit:]
    generator = load_generator(run)
    start = time.perf_counter()
    scores = evaluate(generator, images, config.dataset, metric, n=n, seed=seed, data_dir=data_dir,
                      verbose=verbose, real_labels=labels)
    return {"run": str(run), "dataset": config.dataset, "against": against, "n": min(n, len(images)), **scores,
            "seconds": round(time.perf_counter() - start, 2)}


def evaluate(generator, real_images, dataset, metric=None, n=10000, seed=0, data_dir=None, verbose=0,
             real_labels=None):
    """Scores of `n` generated images against `n` real ones; returns a dict of numbers.

    `metric`: "fid", "kid", "pr" (precision and recall) or "swd"; default `default_metric(dataset)`.
    fid, kid and pr use domain features for digits and InceptionV3 features otherwise.

    A conditional generator draws the classes of the real images picked (`real_labels`; without
    them, the classes in turn), so both sets hold the same classes. On digits it is also scored
    by `conditional_accuracy`, and with fid by `per_class_fid` (`domain_fid_per_class`, its mean
    `domain_fid_class_mean`).
    """
    from gan_keras.images import to_uint8
    from gan_keras.models import num_classes
    from gan_keras.sampling import class_labels, generate

    metric = metric or default_metric(dataset)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(real_images), min(n, len(real_images)), replace=False)
    real = real_images[pick]
    labels = None
    if num_classes(generator):
        labels = class_labels(generator, len(real), None if real_labels is None else np.asarray(real_labels)[pick])
    fake = to_uint8(generate(generator, len(real), seed=seed + 1, labels=labels))
    real, fake = at_common_size(real, fake)
    scores = score(real, fake, dataset, metric, seed, data_dir, verbose)
    if labels is not None and dataset in DIGIT_SETS:
        scores["conditional_accuracy"] = conditional_accuracy(fake, labels, dataset, data_dir)
        if metric == "fid" and real_labels is not None:
            extractor = feature_extractor(dataset, data_dir)
            per_class = per_class_fid(extractor(real), labels, extractor(fake), labels)
            scores["domain_fid_per_class"] = per_class
            scores["domain_fid_class_mean"] = float(np.mean(per_class))
    return scores


_CLASSIFIERS = {}


def class_probabilities(images, dataset, data_dir=None):
    """The digit classifier's class probabilities (N, 10) for uint8 images (N, 28, 28, 1) of `dataset`'s domain."""
    import tensorflow as tf

    from gan_keras.data import to_model_range
    from gan_keras.distribute import precision_scope

    key = (dataset, str(data_dir))
    if key not in _CLASSIFIERS:
        with precision_scope(None):
            model, _ = digit_classifier(dataset, data_dir, verbose=0)
            _CLASSIFIERS[key] = tf.function(lambda x: model(to_model_range(x, (28, 28, 1)), training=False))
    classify = _CLASSIFIERS[key]
    return np.concatenate([classify(tf.constant(images[i:i + 1000])).numpy() for i in range(0, len(images), 1000)])


def predict_classes(images, dataset, data_dir=None):
    """The digit classifier's class for each uint8 image (N, 28, 28, 1) of `dataset`'s domain."""
    return class_probabilities(images, dataset, data_dir).argmax(-1)


def conditional_accuracy(images, labels, dataset, data_dir=None):
    """Share of uint8 `images` that the digit classifier reads as the class in `labels` they were
    drawn for: 1.0 for a generator that always draws the class asked for, ~0.1 for one that
    ignores the class (10 balanced classes)."""
    return float(np.mean(predict_classes(images, dataset, data_dir) == np.asarray(labels)))


def per_class_fid(real_features, real_labels, fake_features, fake_labels):
    """FID of each class (0, 1, ...) between the real and the generated features of that class."""
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    classes = int(max(real_labels.max(), fake_labels.max())) + 1
    return [fid(real_features[real_labels == c], fake_features[fake_labels == c])
            if min((real_labels == c).sum(), (fake_labels == c).sum()) > 1 else float("nan") for c in range(classes)]


def shrink_to(images, size):
    """uint8 images (N, H, W, C) area-averaged down to `size` (height, width); unchanged if already so."""
    size = tuple(size)
    if tuple(images.shape[1:3]) == size:
        return images
    import tensorflow as tf

    return np.clip(np.round(tf.image.resize(images, size, method="area").numpy()), 0, 255).astype(np.uint8)


def at_common_size(real, fake):
    """Both uint8 sets at the smaller of their two sizes (`shrink_to`), channels kept.

    A 32x32 run is judged at 32x32: blown up to 64x64, its samples would lack the fine detail of
    real 64x64 faces whatever their quality (SWD of real faces so blurred: 177, real vs real: 14).
    """
    size = tuple(min(a, b) for a, b in zip(real.shape[1:3], fake.shape[1:3]))
    return shrink_to(real, size), shrink_to(fake, size)


@dataclass
class MetricContext:
    """What a metric may need beside the two image sets."""

    dataset: str
    seed: int = 0
    data_dir: str | None = None
    verbose: int = 0

    @property
    def prefix(self):
        return "domain_" if self.dataset in DIGIT_SETS else ""

    def features(self, images):
        """Domain features for digits, InceptionV3 features otherwise."""
        space = self.dataset if self.dataset in DIGIT_SETS else "inception"
        return feature_extractor(space, self.data_dir, self.verbose)(images)


@registry.register("metric", "fid", keys=("fid",), lower_is_better=True, domain_prefix=True, default_for="domain")
def _fid_metric(real, fake, ctx):
    return {ctx.prefix + "fid": fid(ctx.features(real), ctx.features(fake))}


@registry.register("metric", "kid", keys=("kid",), lower_is_better=True, domain_prefix=True)
def _kid_metric(real, fake, ctx):
    return {ctx.prefix + "kid": kid(ctx.features(real), ctx.features(fake), seed=ctx.seed)}


@registry.register("metric", "swd", keys=("swd", "swd_levels"), lower_is_better=True, default_for="other")
def _swd_metric(real, fake, ctx):
    return swd(real, fake, seed=ctx.seed)


@registry.register("metric", "pr", keys=("precision", "recall"), lower_is_better=False)
def _precision_recall_metric(real, fake, ctx):
    precision, recall = precision_recall(ctx.features(real), ctx.features(fake), seed=ctx.seed)
    return {"precision": precision, "recall": recall}


def score(real, fake, dataset, metric, seed=0, data_dir=None, verbose=0):
    """Compare two uint8 image sets with one registered metric; returns a dict of numbers."""
    return registry.get("metric", metric)(real, fake, MetricContext(dataset, seed, data_dir, verbose))
