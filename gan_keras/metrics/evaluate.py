"""The registered metrics and `evaluate`: a generator (or a run folder) scored against real images.

Each metric is declared to `gan_keras.registry` (kind "metric"), as StyleGAN2-ADA's
`metric_main.py` registers its metrics: a function of (real, fake uint8 images, `MetricContext`)
returning `{key: value}`, declared with the `keys` it returns, whether lower is better, whether
its feature metrics take the "domain_" prefix on digits, and which datasets it is the cheap default
for (`default_for`: "domain" where a domain classifier exists, "other" elsewhere). `evaluate
--metric`, `--eval-every`, `EvalMetric` and `plot_history` read these declarations; a new metric
is one decorated function plus its test.

Example:
    >>> default_metric("anime"), metric_key("fid", "mnist")
    ('swd', 'domain_fid')
"""

from dataclasses import dataclass

import numpy as np

from gan_keras import registry
from gan_keras.metrics.conditional import conditional_accuracy, per_class_fid
from gan_keras.metrics.distances import fid, kid, precision_recall, swd
from gan_keras.metrics.features import DIGIT_SETS, at_common_size, feature_extractor


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

    from gan_keras.data.load import load_images, load_labeled_images
    from gan_keras.tools.sampling import load_generator
    from gan_keras.training.config import load_config

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
    from gan_keras.networks.build import class_labels, num_classes
    from gan_keras.tools.sampling import generate

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

