"""Keras callbacks that write a run folder; they work with `GAN.fit` and `ClassicGAN.fit` alike.

Order matters and `run.train` uses it: `StopGuard` first (it sees a NaN before anything is saved),
then `EpochTimer` (adds seconds and images/s to the logs), `HistoryCSV`, `LossPlot`, `SampleGrid`,
`TensorBoardLog` (reads the grid `SampleGrid` wrote), `Checkpointer` (the history row is on disk
before the checkpoint that covers it).

What a run writes along the way is kept to a bounded share of its wall clock
(`gan_keras.training.recording`).
"""

import csv
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from gan_keras.files import read_history, save_png, write_gif
from gan_keras.images import image_grid
from gan_keras.networks.build import draw, num_classes
from gan_keras.plots import plot_history
from gan_keras.tools.sampling import class_grid_inputs
from gan_keras.training.recording import Recorder

HISTORY_COLUMNS = ("epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "seconds", "images_per_s", "steps",
                   "record_s")
TIMING_COLUMNS = ("seconds", "images_per_s", "record_s")  # what differs between two runs of one seed

@dataclass
class RunStatus:
    """Why training stopped early: None, "time", "signal" or "diverged" (with a detail)."""

    stop_reason: str | None = None
    detail: str = ""
    signal_received: int | None = None

    def handle_signals(self):
        """Turn SIGINT/SIGTERM into a clean stop; returns a function that restores the old handlers."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum, frame):
            self.signal_received = signum

        for s in old:
            signal.signal(s, on_signal)
        return lambda: [signal.signal(s, h) for s, h in old.items()]


class StopGuard(keras.callbacks.Callback):
    """Stops training on a NaN/Inf loss, a spent time budget or SIGINT/SIGTERM; warns when D wins.

    Args:
        status: the run's `RunStatus`, where the reason is recorded.
        deadline: `time.monotonic()` value after which training stops, or None.
        d_wins_epochs: warn after this many epochs with D's accuracy on generated images >= 0.99.
    """

    def __init__(self, status, deadline=None, d_wins_epochs=5):
        super().__init__()
        self.status, self.deadline, self.d_wins_epochs = status, deadline, d_wins_epochs
        self._d_wins = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _stop(self, reason, detail=""):
        self.status.stop_reason, self.status.detail = reason, detail
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = [k for k in ("d_loss", "g_loss") if k in logs and not math.isfinite(float(logs[k]))]
        if bad:
            self._stop("diverged", f"{bad[0]} became {float(logs[bad[0]])} in epoch {self._epoch + 1}, "
                                   f"step {batch + 1}")
        elif self.status.signal_received is not None:
            self._stop("signal", signal.Signals(self.status.signal_received).name)
        elif self.deadline is not None and time.monotonic() > self.deadline:
            self._stop("time")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if logs.get("d_acc_fake", 0.0) >= 0.99:
            self._d_wins += 1
            if self._d_wins == self.d_wins_epochs:
                print(f"warning: the discriminator has won outright for {self._d_wins} epochs "
                      f"(accuracy on generated images {logs['d_acc_fake']:.2f}, G loss {logs.get('g_loss', 0):.2f}): "
                      "G is learning little; try label smoothing (--real-label 0.9), label noise, or a lower D "
                      "learning rate", flush=True)
        else:
            self._d_wins = 0


class EpochTimer(keras.callbacks.Callback):
    """Adds `seconds`, `images_per_s` and `steps` of the epoch to its logs, and with a `clock`,
    `record_s`: the seconds spent recording since the previous epoch's steps ended (that epoch's
    metrics, grid, plot and checkpoint, and this epoch's mid-epoch checkpoints). `step_seconds` and
    `steps_done` sum the epochs."""

    def __init__(self, batch_size, clock=None):
        super().__init__()
        self.batch_size, self.clock = batch_size, clock
        self.step_seconds, self.steps_done = 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            seconds = time.perf_counter() - self._start
            self.step_seconds += seconds
            self.steps_done += self._steps
            logs.update(seconds=seconds, steps=self._steps, images_per_s=self._steps * self.batch_size / seconds)
            if self.clock is not None:
                logs["record_s"] = self.clock.take_unreported()


class HistoryCSV(keras.callbacks.Callback):
    """Appends one row per epoch (1-based) to `history.csv`, flushed to disk at once.

    Like `keras.callbacks.CSVLogger(append=True)`, with a fixed column order, 1-based epochs, and
    `truncate` so that a resumed run never holds a row twice.
    """

    def __init__(self, path, status=None, extra_columns=()):
        super().__init__()
        self.path, self.status = Path(path), status
        self.columns = HISTORY_COLUMNS + tuple(extra_columns)

    @staticmethod
    def truncate(path, last_epoch):
        """Drop rows after `last_epoch` (left by a run killed between its row and its checkpoint)."""
        path = Path(path)
        if not path.is_file():
            return
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= last_epoch] if rows else []
        if len(kept) != len(rows):
            with open(path, "w", newline="") as f:
                csv.writer(f).writerows(kept)

    def on_train_begin(self, logs=None):
        if self.path.is_file() and self.path.stat().st_size > 0:  # a resumed run keeps its columns
            with open(self.path, newline="") as f:
                self.columns = tuple(next(csv.reader(f)))

    def on_epoch_end(self, epoch, logs=None):
        if self.status is not None and self.status.stop_reason == "diverged":
            return
        logs = {**(logs or {}), "epoch": epoch + 1}
        new = not self.path.is_file() or self.path.stat().st_size == 0
        with open(self.path, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(self.columns)
            writer.writerow([_format(logs.get(c, "")) for c in self.columns])
            f.flush()
            os.fsync(f.fileno())


def _format(value):
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return value


class LossPlot(Recorder):
    """Redraws `losses.png` from `history.csv` (so resumed runs plot everything)."""

    kind = "losses.png"

    def __init__(self, history_path, path, title=None, clock=None):
        super().__init__(clock=clock)
        self.history_path, self.path, self.title = history_path, path, title

    def record(self, epoch, logs):
        history = read_history(self.history_path)
        if history:
            plot_history(history, self.path, self.title)


MAX_GIF_FRAMES = 50


class SampleGrid(Recorder):
    """Every `every` epochs, an 8x8 grid of the generator on one fixed noise batch, plus a GIF.

    A conditional generator draws one row per class instead (up to 10), the same 10 noise vectors
    in every row (`sampling.class_grid_inputs`). Writes `samples/epoch-NNNN.png`, and `progress.gif`
    of at most `MAX_GIF_FRAMES` of the grids so far, evenly spaced (its own share of the clock).
    """

    kind = "grids"

    def __init__(self, fixed_noise, directory, gif_path, every=1, status=None, clock=None):
        super().__init__(every, clock, status)
        self.fixed_noise, self.directory, self.gif_path = fixed_noise, Path(directory), gif_path
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, epoch):
        """Write the grid of (1-based) `epoch`; returns the PNG path."""
        classes = num_classes(self.model.sampler)
        if classes:
            z, labels = class_grid_inputs(self.fixed_noise, classes)
            images, cols = draw(self.model.sampler, z, labels), 10
        else:
            images, cols = draw(self.model.sampler, self.fixed_noise), 8
        path = self.directory / f"epoch-{epoch:04d}.png"
        save_png(image_grid(np.asarray(images), cols=cols), path)
        return path

    def write_gif(self):
        """`progress.gif` from the grids so far (at most `MAX_GIF_FRAMES`, first and last included)."""
        with self.clock.timing("gif"):
            write_gif(evenly_spaced(sorted(self.directory.glob("epoch-*.png")), MAX_GIF_FRAMES), self.gif_path)

    def record(self, epoch, logs):
        self.save(epoch)
        if self.is_final(epoch - 1) or self.clock.due("gif"):
            self.write_gif()


def evenly_spaced(items, n):
    """At most `n` of `items`, evenly spaced, the first and the last among them.

    Example:
        >>> evenly_spaced(list(range(10)), 4)
        [0, 3, 6, 9]
    """
    if len(items) <= n:
        return list(items)
    return [items[i] for i in sorted({round(k) for k in np.linspace(0, len(items) - 1, n)})]


class TensorBoardLog(Recorder):
    """Writes each epoch's logs and both learning rates as TensorBoard scalars, and the epoch's
    sample grid (as `SampleGrid` saved it) as an image, to `log_dir`.

    The step is the 1-based epoch, as in `history.csv` and `samples/epoch-NNNN.png`, so a resumed
    run carries on the same timeline. Open it with `tensorboard --logdir outputs` (in Colab:
    `%load_ext tensorboard` then `%tensorboard --logdir outputs`).
    """

    kind = "tensorboard"

    def __init__(self, log_dir, samples_dir, status=None, clock=None):
        super().__init__(1, clock, status)
        self.log_dir, self.samples_dir = Path(log_dir), Path(samples_dir)
        self._writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def record(self, step, logs):
        import tensorflow as tf

        if self._writer is None:
            return
        scalars = {key: float(np.mean(value)) for key, value in logs.items()
                   if isinstance(value, (int, float, np.number, np.ndarray))}
        for name in ("d_optimizer", "g_optimizer"):
            optimizer = getattr(self.model, name, None)
            if optimizer is not None:
                scalars[f"{name[0]}_learning_rate"] = float(np.asarray(optimizer.learning_rate))
        grid = self.samples_dir / f"epoch-{step:04d}.png"
        with self._writer.as_default(step=step):
            for key, value in scalars.items():
                tf.summary.scalar(key, value)
            if grid.is_file():
                from PIL import Image

                tf.summary.image("samples", np.asarray(Image.open(grid).convert("RGB"))[None], max_outputs=1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class Checkpointer(Recorder):
    """Saves a `RunCheckpoint` after each epoch (within its share of the clock; always after the
    first and the last) and, if `every_steps`, every that many steps."""

    kind = "checkpoints"

    def __init__(self, checkpoint, status=None, every_steps=0, clock=None):
        super().__init__(1, clock, status)
        self.checkpoint, self.every_steps = checkpoint, every_steps
        self._epoch = 0

    def _ok(self):
        return self.status is None or self.status.stop_reason != "diverged"

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._saved_at = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of the call: with steps_per_execution > 1 it moves in strides.
        if self.every_steps and batch + 1 - self._saved_at >= self.every_steps and self._ok():
            with self.clock.timing("step checkpoints"):  # asked for by --checkpoint-every-steps: not budgeted
                self.checkpoint.save(self._epoch)  # epochs completed so far; this epoch is redone on resume
            self._saved_at = batch + 1

    def record(self, epoch, logs):
        self.checkpoint.save(epoch)


class EvalMetric(Recorder):
    """Every `every` epochs, the dataset's cheap metric on `n` samples, as `eval_<name>` in the logs.

    Domain FID for digits, SWD otherwise (see `gan_keras.metrics.evaluate.default_metric`). Put it after
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
        from gan_keras.metrics.evaluate import default_metric, metric_key, metric_of_key
        from gan_keras.metrics.features import DIGIT_SETS

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
        from gan_keras.metrics.evaluate import evaluate

        scores = evaluate(self.model.sampler, self.real, self.dataset, self.metric, n=len(self.real),
                          seed=self.seed, data_dir=self.data_dir, real_labels=self.labels)
        logs[self.column] = scores[self.key]
        if "eval_cond_acc" in self.columns:
            logs["eval_cond_acc"] = scores["conditional_accuracy"]
        if self.heldout is not None:
            logs["eval_d_acc_train"] = self._d_accuracy(self.train_real, self.train_labels)
            logs["eval_d_acc_heldout"] = self._d_accuracy(self.heldout, self.heldout_labels)
        if self.best_dir is not None:
            self.keep_if_best(epoch, float(logs[self.column]))

    def keep_if_best(self, epoch, value):
        """Save the generator to `best/` (with the run's config.json, so that every command reads it as a
        run folder) when `value` beats the best so far, which `best/best.json` remembers across resumes."""
        import json
        import shutil

        from gan_keras.files import atomic_write_text
        from gan_keras.training.checkpoints import save_generator

        best = read_best(self.best_dir.parent)
        if not math.isfinite(value) or (best is not None and not (
                value < best["value"] if self.lower_is_better else value > best["value"])):
            return
        self.best_dir.mkdir(exist_ok=True)
        save_generator(self.model.sampler, self.best_dir / "generator.keras")
        config = self.best_dir.parent / "config.json"
        if config.is_file():
            shutil.copy(config, self.best_dir / "config.json")
        atomic_write_text(self.best_dir / "best.json", json.dumps(
            {"epoch": epoch, "column": self.column, "value": value, "lower_is_better": self.lower_is_better}))


def read_best(run_dir):
    """The record of a run's `best/` ({"epoch", "column", "value", "lower_is_better"}), or None."""
    import json

    path = Path(run_dir) / "best" / "best.json"
    return json.loads(path.read_text()) if path.is_file() else None


def best_summary(run_dir, history):
    """One sentence on the best evaluation of a run and whether its last ones still improved, from
    `best/best.json` and the `history` (`files.read_history`); "" when the run kept no best."""
    best = read_best(run_dir)
    if best is None:
        return ""
    column = best["column"]
    evaluated = [int(epoch) for epoch, value in zip(history.get("epoch", []), history.get(column, []))
                 if not math.isnan(value)]
    after = [epoch for epoch in evaluated if epoch > best["epoch"]]
    trend = (f"the {len(after)} evaluation{'s' if len(after) > 1 else ''} after it did not beat it" if after
             else "it was the last evaluation: the run was still improving")
    return (f"best {column.removeprefix('eval_')} {best['value']:.4g} at epoch {best['epoch']} of "
            f"{max(evaluated, default=best['epoch'])} (kept in best/); {trend}")
