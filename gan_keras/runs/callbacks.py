"""Keras callbacks that write a run folder; they work with `GAN.fit` (the fused trainer) and `ClassicGAN.fit` alike.

Order matters and `runs.train` uses it: `StopGuard` first (it sees a NaN before anything is saved),
then `EpochTimer` (adds seconds and images/s to the logs), the in-run evaluation, `HistoryCSV`,
`LossPlot`, `SampleGrid`, `TensorBoardLog` (reads the grid `SampleGrid` wrote), `Checkpointer` (the
history row is on disk before the checkpoint that covers it).

What a run writes along the way is kept to a bounded share of its wall clock
(`gan_keras.training.recording`).
"""

import csv
import os
from pathlib import Path

import keras
import numpy as np

from gan_keras.files import read_history, save_png, write_gif
from gan_keras.images import image_grid
from gan_keras.networks.build import class_grid_inputs, draw, num_classes
from gan_keras.runs.history import HISTORY_COLUMNS
from gan_keras.runs.plots import plot_history
from gan_keras.training.recording import Recorder


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
