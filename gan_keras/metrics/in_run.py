"""`--eval-every`: the run's metric measured during training, as a Keras callback (`EvalMetric`),
which also keeps the best generator so far in the run's `best/`.

`runs.train` finds it through the registry (kind "callback"), as it finds a loss or a network: the
run-folder layer sits below the metrics and imports none of them.
"""

from pathlib import Path

import keras
import numpy as np

from gan_keras.data.sources import DIGIT_SETS
from gan_keras.metrics.evaluate import evaluate
from gan_keras.registry import register
from gan_keras.runs.best import keep_if_best
from gan_keras.runs.history import default_metric, metric_key, metric_of_key
from gan_keras.training.recording import Recorder


@register("callback", "evaluation", option="eval_every")
class EvalMetric(Recorder):
    """Every `every` epochs, the dataset's cheap metric on `n` samples, as `eval_<name>` in the logs.

    Domain FID for digits, SWD otherwise (see `gan_keras.runs.history.default_metric`). Put it after
    `EpochTimer` so that epoch times leave out the evaluation.

    With `heldout` images (real images training never sees, e.g. those beyond `--limit`), the metric
    compares with them instead, and D's accuracy on them and on the training images is logged too
    (`eval_d_acc_train`, `eval_d_acc_heldout`): a gap opening between the two is D memorising its
    small training set, the overfitting that augmentation is for.

    With `labels` (a conditional run), the generator draws the classes of the real images it is
    compared with, and on digits `eval_cond_acc` logs the share drawn as the class asked for.
    """

    kind = "metrics"

    def __init__(self, real_images, dataset, every, n=2000, data_dir=None, seed=0, heldout=None, labels=None,
                 heldout_labels=None, clock=None, best_dir=None):
        super().__init__(every, clock)
        rng = np.random.default_rng(seed)

        def pick(images, labels):
            index = rng.choice(len(images), min(n, len(images)), replace=False)
            return images[index], None if labels is None else np.asarray(labels)[index]

        self.train_real, self.train_labels = pick(real_images, labels)
        self.heldout = None
        if heldout is not None and len(heldout):
            self.heldout, self.heldout_labels = pick(heldout, heldout_labels)
        self.real, self.labels = ((self.heldout, self.heldout_labels) if self.heldout is not None
                                  else (self.train_real, self.train_labels))
        self.dataset, self.data_dir, self.seed = dataset, data_dir, seed
        self.metric = default_metric(dataset)
        self.key = metric_key(self.metric, dataset)
        self.column = "eval_" + self.key
        self.lower_is_better = metric_of_key(self.key)[1]
        self.best_dir = None if best_dir is None else Path(best_dir)
        self.columns = ([self.column] + (["eval_cond_acc"] if labels is not None and dataset in DIGIT_SETS else [])
                        + (["eval_d_acc_train", "eval_d_acc_heldout"] if self.heldout is not None else []))
        self._logits = None

    def _d_accuracy(self, images, labels=None):
        from gan_keras.data.pipeline import to_model_range
        from gan_keras.networks.build import discriminator_logits

        if self._logits is None:  # built once: a functional view of D that shares its weights
            self._logits = discriminator_logits(self.model.discriminator)
        D = self._logits
        shape = tuple(D.inputs[0].shape[1:])
        def logits(i):
            x = to_model_range(images[i:i + 500], shape)
            return D(x if labels is None else [x, keras.ops.convert_to_tensor(labels[i:i + 500])], training=False)

        hits = [np.asarray(logits(i)) > 0 for i in range(0, len(images), 500)]
        return float(np.concatenate(hits).mean())

    def record(self, epoch, logs):
        scores = evaluate(self.model.sampler, self.real, self.dataset, self.metric, n=len(self.real),
                          seed=self.seed, data_dir=self.data_dir, real_labels=self.labels)
        logs[self.column] = scores[self.key]
        if "eval_cond_acc" in self.columns:
            logs["eval_cond_acc"] = scores["conditional_accuracy"]
        if self.heldout is not None:
            logs["eval_d_acc_train"] = self._d_accuracy(self.train_real, self.train_labels)
            logs["eval_d_acc_heldout"] = self._d_accuracy(self.heldout, self.heldout_labels)
        if self.best_dir is not None:
            keep_if_best(self.model.sampler, self.best_dir, epoch, self.column, float(logs[self.column]),
                         self.lower_is_better)
