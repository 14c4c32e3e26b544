"""`history.csv`, a run's row per epoch: its columns, and which registered metric an `eval_` column
holds (read from the metric declarations, so that plots and `best/` need no metric code).

Example:
    >>> default_metric("anime"), metric_key("fid", "mnist"), metric_of_key("eval_domain_fid")
    ('swd', 'domain_fid', ('fid', True))
"""

from gan_keras import registry
from gan_keras.data.sources import DIGIT_SETS

HISTORY_COLUMNS = ("epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "seconds", "images_per_s", "steps",
                   "record_s")
TIMING_COLUMNS = ("seconds", "images_per_s", "record_s")  # what differs between two runs of one seed


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
