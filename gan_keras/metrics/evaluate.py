"""The registered metrics and `evaluate`: a generator (or a run folder) scored against real images.

Each metric is declared to `gan_keras.registry` (kind "metric"), as StyleGAN2-ADA's
`metric_main.py` registers its metrics: a function of (real, fake uint8 images, `MetricContext`)
returning `{key: value}`, declared with the `keys` it returns, whether lower is better, whether
its feature metrics take the "domain_" prefix on digits, and which datasets it is the cheap default
for (`default_for`: "domain" where a domain classifier exists, "other" elsewhere). `evaluate
--metric`, `--eval-every`, `EvalMetric` and `plot_history` read these declarations; a new metric
is one decorated function plus its test.

Metrics take images or a generator, never a run folder: `evaluate_run` asks the run-folder layer
(`gan_keras.runs.loading.images_to_score`) for a run's generator and the real images to compare with.

Example:
    >>> from gan_keras.data.load import load_images
    >>> from gan_keras.runs.loading import load_generator
    >>> scores = evaluate(load_generator("pretrained:mnist"), load_images("mnist")[:500], "mnist", n=500)
"""

from dataclasses import dataclass

import numpy as np

from gan_keras import registry
from gan_keras.data.sources import DIGIT_SETS
from gan_keras.errors import UsageError
from gan_keras.metrics.conditional import conditional_accuracy, per_class_fid
from gan_keras.metrics.distances import (
    copy_scores,
    fid,
    kid,
    pixel_vectors,
    precision_recall,
    swd,
)
from gan_keras.metrics.features import at_common_size, feature_extractor
from gan_keras.runs.history import default_metric


def evaluate_run(run, metric=None, n=10000, seed=0, data_dir=None, verbose=0, repeats=1, figure=None,
                 against_train=False, compare_with=None, excluding=None):
    """`evaluate` for a run folder (or `pretrained:NAME`) against its dataset: the held-out images
    when the run trained on the first `--limit` only (and, for the copy rate, the training images).
    Then the record also holds `train_KEY`: the same metric with real training images in place of the
    samples, the score a generator that drew its training set exactly would get. Held-out images that
    differ from the training ones (a file ordered by source or date) put that floor well above zero.
    `against_train` compares with the training images instead (all of them, for a run without
    held-out images). `compare_with`: another dataset's held-out images; `excluding`: a dataset whose
    images are left out of the real ones (`images_to_score`). Returns the record `evaluate` prints."""
    import time

    from gan_keras.runs.loading import images_to_score

    config, generator, images, labels, train, compared = images_to_score(run, data_dir, against_train, compare_with,
                                                                         excluding)
    data_dir = data_dir or config.data_dir
    primary = metric or default_metric(config.dataset)
    start = time.perf_counter()
    scores = evaluate(generator, images, config.dataset, metric, n=n, seed=seed, data_dir=data_dir,
                      verbose=verbose, real_labels=labels, train_images=train, repeats=repeats, figure=figure)
    if metric is None and config.dataset not in DIGIT_SETS:  # faces: the papers' numbers too, where they can be had
        try:
            scores.update(evaluate(generator, images, config.dataset, "ttur", n=n, seed=seed, data_dir=data_dir,
                                   repeats=repeats))
            metric = "ttur"
        except UsageError as e:
            warn_once(f"no FID/KID on the papers' Inception: {e}")
    if train is not None and primary != "copies":
        scores.update(reference_scores(images, train, config.dataset, primary, n, seed, data_dir, repeats))
    protocol = registry.info("metric", metric or default_metric(config.dataset)).get("protocol")
    return {"run": str(run), "dataset": config.dataset, "against": compared, "n": min(n, len(images)), **scores,
            **({"protocol": protocol} if protocol else {}), "seconds": round(time.perf_counter() - start, 2)}


def reference_scores(real_images, train_images, dataset, metric, n=10000, seed=0, data_dir=None, repeats=1):
    """`metric` of `n` training images against `n` of `real_images`, its keys prefixed "train_": what
    the training set itself scores against the held-out images (`repeats` draws, with their spread)."""
    if repeats > 1:
        return with_spread([reference_scores(real_images, train_images, dataset, metric, n, seed + 1000 * r, data_dir)
                            for r in range(repeats)])
    rng = np.random.default_rng(seed)
    count = min(n, len(real_images), len(train_images))
    real = real_images[rng.choice(len(real_images), count, replace=False)]
    train = train_images[rng.choice(len(train_images), count, replace=False)]
    return {f"train_{key}": value for key, value in score(real, train, dataset, metric, seed, data_dir).items()}


_WARNED = set()


def warn_once(message):
    """A warning line the first time a process has this `message` to say."""
    import warnings

    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, stacklevel=3)


def evaluate(generator, real_images, dataset, metric=None, n=10000, seed=0, data_dir=None, verbose=0,
             real_labels=None, train_images=None, repeats=1, figure=None):
    """Scores of `n` generated images against `n` real ones; returns a dict of numbers.

    `repeats` > 1: the scores of that many draws (other samples, and other real images when there are
    more than `n`), as their mean, with `KEY_sd` (standard deviation) and `KEY_runs` beside each.
    `train_images`: what the generator trained on, for the copy rate (`--metric copies`, whose
    `figure` is a PNG of the samples closest to a training image).

    `metric`: "fid", "kid", "pr" (precision and recall) or "swd"; default `default_metric(dataset)`.
    fid, kid and pr use domain features for digits and InceptionV3 features otherwise.

    A conditional generator draws the classes of the real images picked (`real_labels`; without
    them, the classes in turn), so both sets hold the same classes. On digits it is also scored
    by `conditional_accuracy`, and with fid by `per_class_fid` (`domain_fid_per_class`, its mean
    `domain_fid_class_mean`).
    """
    from gan_keras.images import to_uint8
    from gan_keras.networks.build import class_labels, num_classes
    from gan_keras.runs.loading import draw_images

    metric = metric or default_metric(dataset)
    if repeats > 1:
        runs = [evaluate(generator, real_images, dataset, metric, n, seed + 1000 * r, data_dir, verbose, real_labels,
                         train_images, figure=figure if r == 0 else None) for r in range(repeats)]
        return with_spread(runs)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(real_images), min(n, len(real_images)), replace=False)
    real = real_images[pick]
    labels = None
    if num_classes(generator):
        labels = class_labels(generator, len(real), None if real_labels is None else np.asarray(real_labels)[pick])
    fake = to_uint8(draw_images(generator, len(real), seed=seed + 1, labels=labels))
    real, fake = at_common_size(real, fake)
    train = None if train_images is None else at_common_size(train_images, fake)[0]
    scores = score(real, fake, dataset, metric, seed, data_dir, verbose, train, figure)
    if labels is not None and dataset in DIGIT_SETS:
        scores["conditional_accuracy"] = conditional_accuracy(fake, labels, dataset, data_dir)
        if metric == "fid" and real_labels is not None:
            extractor = feature_extractor(dataset, data_dir)
            per_class = per_class_fid(extractor(real), labels, extractor(fake), labels)
            scores["domain_fid_per_class"] = per_class
            scores["domain_fid_class_mean"] = float(np.mean(per_class))
    return scores


def with_spread(runs):
    """Scores of repeated draws as one record: each number's mean, with `KEY_sd` and `KEY_runs`.

    Example:
        >>> with_spread([{"swd": 10.0}, {"swd": 12.0}])
        {'swd': 11.0, 'swd_sd': 1.4142, 'swd_runs': [10.0, 12.0]}
    """
    record = {}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [float(run[key]) for run in runs]
            record.update({key: float(np.mean(values)), f"{key}_sd": round(float(np.std(values, ddof=1)), 4),
                           f"{key}_runs": values})
        else:
            record[key] = value
    return record


@dataclass
class MetricContext:
    """What a metric may need beside the two image sets."""

    dataset: str
    seed: int = 0
    data_dir: str | None = None
    verbose: int = 0
    train: np.ndarray | None = None  # the training images (uint8), where a metric compares with them
    figure: str | None = None  # where a metric that draws one writes its figure

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


@registry.register("metric", "ttur", keys=("ttur_fid", "ttur_kid"), lower_is_better=True, download=True,
                   protocol="FID and KID on the pool_3 features of TTUR's TensorFlow Inception graph "
                            "(inception-2015-12-05, as papers and clean-fid's legacy mode use), the images fed "
                            "as uint8 values and resized to 299x299 by the graph's own bilinear op")
def _ttur_metric(real, fake, ctx):
    extractor = feature_extractor("ttur", ctx.data_dir)
    real_features, fake_features = extractor(real), extractor(fake)
    return {"ttur_fid": fid(real_features, fake_features), "ttur_kid": kid(real_features, fake_features, seed=ctx.seed)}


@registry.register("metric", "pr", keys=("precision", "recall"), lower_is_better=False)
def _precision_recall_metric(real, fake, ctx):
    precision, recall = precision_recall(ctx.features(real), ctx.features(fake), seed=ctx.seed)
    return {"precision": precision, "recall": recall}


@registry.register("metric", "copies", keys=("copy_rate", "copy_ratio"), lower_is_better=True)
def _copies_metric(real, fake, ctx):
    if ctx.train is None:
        raise UsageError("--metric copies compares the samples' nearest training images with held-out ones: it "
                         "needs a run trained on the first --limit images, the rest held out")
    copies = copy_scores(pixel_vectors(ctx.train), pixel_vectors(real), pixel_vectors(fake))
    if ctx.figure:
        nearest_pairs_figure(fake, ctx.train, copies, ctx.figure)
    return {"copy_rate": copies["copy_rate"], "copy_ratio": copies["copy_ratio"]}


def nearest_pairs_figure(fake, train, copies, path, pairs=8):
    """The `pairs` samples closest to a training image (top) above that image (bottom), each with its
    distance as a share of the median held-out-to-train distance, as a PNG at `path`."""
    from matplotlib.figure import (
        Figure,  # no pyplot: the notebook's backend stays as it is
    )

    order = np.argsort(copies["distance"])[:pairs]
    fig = Figure(figsize=(1.3 * len(order), 3.0))
    axes = fig.subplots(2, len(order), squeeze=False)
    for column, i in enumerate(order):
        for row, image in enumerate((fake[i], train[copies["nearest"][i]])):
            ax = axes[row, column]
            ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(f"{copies['distance'][i] / copies['heldout_median']:.2f}", fontsize=9)
    axes[0, 0].set_ylabel("sample", fontsize=9)
    axes[1, 0].set_ylabel("nearest\ntraining", fontsize=9)
    fig.suptitle(f"closest samples to the training set (distance / median held-out distance); copy rate "
                 f"{copies['copy_rate']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def score(real, fake, dataset, metric, seed=0, data_dir=None, verbose=0, train=None, figure=None):
    """Compare two uint8 image sets with one registered metric; returns a dict of numbers."""
    return registry.get("metric", metric)(real, fake, MetricContext(dataset, seed, data_dir, verbose, train, figure))

