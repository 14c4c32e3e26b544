"""Checkpoints of a run: G, D, both optimizers and the epoch; `tf.train.CheckpointManager` on
TensorFlow, one `.npz` of every variable per checkpoint on JAX and PyTorch (`NumpyCheckpoint`).

TensorFlow writes each checkpoint's files first and only then points the `checkpoint` index file
at them (an atomic rename), so a process killed mid-save leaves the previous checkpoint intact.
The last two are kept, and a damaged newest one (a copy to Drive that stopped half way) is
skipped for the one before it. The random state needs no file of its own: every random draw of
training is a function of the seed and the optimizer step counter (see `gan_keras.training.noise`), which
is saved.
"""

import re
import warnings
from pathlib import Path

import keras
import numpy as np

from gan_keras import backend
from gan_keras.errors import UsageError
from gan_keras.files import atomic_write, load_npz
from gan_keras.runs.folder import WEIGHTS_FILE


def save_generator(generator, path):
    """`generator.keras`, written to a temporary file first so a crash never leaves half a file; with Keras's
    own layers (not this package's faster twins), so plain `keras.saving.load_model` reads it
    (`networks.with_keras_layers`)."""
    from gan_keras.networks.layers import with_keras_layers

    with atomic_write(path) as tmp:
        with_keras_layers(generator).save(tmp)


def RunCheckpoint(directory, trainer, max_to_keep=2):
    """The checkpoint of this backend for `trainer` in `directory`: `TensorFlowCheckpoint` or
    `NumpyCheckpoint`. A run's checkpoints resume on the backend that wrote them (`train` checks)."""
    kind = TensorFlowCheckpoint if backend.is_tensorflow() else NumpyCheckpoint
    return kind(directory, trainer, max_to_keep)


class TensorFlowCheckpoint:
    """Save and restore a trainer (`GAN` or `ClassicGAN`) in `directory`: everything its
    `checkpoint_items()` lists (G, D, both optimizers, and the EMA generator and ADA's state when
    used) and the epoch.

    Example:
        >>> from gan_keras import GAN, Build_Disc, Build_Gen
        >>> gan = GAN(Build_Gen("mlp"), Build_Disc("mlp"))
        >>> gan.compile()
        >>> ckpt = RunCheckpoint("outputs/my_checkpoints", gan)
        >>> path = ckpt.save(epoch=3)
        >>> ckpt.restore()
        3
    """

    def __init__(self, directory, trainer, max_to_keep=2):
        import tensorflow as tf

        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(**trainer.checkpoint_items(), epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def last_epoch(self, default=0):
        """The epoch of the newest checkpoint saved or restored; `default` when there is none."""
        return int(self.epoch.numpy()) if self.latest else default

    def save(self, epoch):
        """Write a checkpoint for `epoch`; a failed write (a full disk) leaves the earlier ones intact."""
        import tensorflow as tf

        self.epoch.assign(epoch)
        try:
            return self.manager.save()
        except tf.errors.OpError as e:
            raise UsageError(f"cannot write a checkpoint in {self.manager.directory}: {first_line(e)}; "
                             "the earlier checkpoints are intact") from None

    def restore(self):
        """Restore the newest readable checkpoint (see `restore_newest`); returns its epoch."""
        restore_newest(self.checkpoint, self.manager.directory)
        return int(self.epoch.numpy())


class NumpyCheckpoint:
    """`TensorFlowCheckpoint` for JAX and PyTorch: `ckpt-N.npz` holds every variable of every item of
    `checkpoint_items()` in float32 as it is (exact resume) and the epoch; written to a temporary
    file and renamed (a killed save leaves the earlier ones), the newest `max_to_keep` kept."""

    PATTERN = re.compile(r"ckpt-(\d+)\.npz")

    def __init__(self, directory, trainer, max_to_keep=2):
        self.directory, self.max_to_keep = Path(directory), int(max_to_keep)
        self.items = trainer.checkpoint_items()
        self.latest, self._epoch = None, 0

    def last_epoch(self, default=0):
        return self._epoch if self.latest else default

    def paths(self):
        numbered = [(int(m.group(1)), p) for p in self.directory.glob("ckpt-*.npz")
                    if (m := self.PATTERN.fullmatch(p.name))]
        return [p for _, p in sorted(numbered)]

    def save(self, epoch):
        from gan_keras.files import atomic_write

        arrays = {f"{name}/{i}": keras.ops.convert_to_numpy(v.value)
                  for name, item in self.items.items() for i, v in enumerate(_variables(item))}
        arrays["epoch"] = np.asarray(int(epoch), np.int64)
        paths = self.paths()
        number = int(self.PATTERN.fullmatch(paths[-1].name).group(1)) + 1 if paths else 1
        path = self.directory / f"ckpt-{number}.npz"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)
        except OSError as e:
            raise UsageError(f"cannot write a checkpoint in {self.directory}: {e.strerror or e}; "
                             "the earlier checkpoints are intact") from None
        for old in self.paths()[:-self.max_to_keep]:
            old.unlink(missing_ok=True)
        self.latest, self._epoch = str(path), int(epoch)
        return str(path)

    def restore(self):
        """Restore the newest readable checkpoint (a damaged one skipped with a warning); returns its epoch."""
        from gan_keras.files import load_npz

        paths = self.paths()
        if not paths:
            if any(self.directory.glob("*.index")):
                raise UsageError(f"{self.directory} holds TensorFlow checkpoints; resume this run with "
                                 f"KERAS_BACKEND=tensorflow (this process runs Keras on {backend.name()})")
            raise UsageError(f"no checkpoint in {self.directory}")
        damaged = []
        for path in reversed(paths):
            try:
                saved = load_npz(path, "a checkpoint")
            except UsageError as e:
                damaged.append((path, str(e)))
                continue
            self._assign(saved, path)
            if damaged:
                warnings.warn(f"checkpoint {damaged[0][0].name} is damaged; using {path.name}", stacklevel=2)
            self.latest, self._epoch = str(path), int(saved["epoch"])
            return self._epoch
        raise UsageError(f"no usable checkpoint in {self.directory}: " + "; ".join(why for _, why in damaged))

    def _assign(self, saved, path):
        pairs = []
        for name, item in self.items.items():
            variables = _variables(item)
            for i, variable in enumerate(variables):
                key = f"{name}/{i}"
                if key not in saved or tuple(saved[key].shape) != tuple(variable.shape):
                    raise UsageError(f"checkpoint {path} does not fit this model (another model, image size "
                                     f"or latent size?): {key} differs")
                pairs.append((variable, saved[key]))
        for variable, array in pairs:
            variable.assign(array)


def _variables(item):
    """The variables of a checkpoint item: a model's or an optimizer's `variables`, ADA's state."""
    return list(item.variables)


def checkpoint_paths(directory):
    """The checkpoints in `directory`, oldest first: from its `checkpoint` index file, or, when that
    file is damaged or missing, from the `ckpt-N.index` files present."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(directory))
    if state is not None and state.all_model_checkpoint_paths:
        return [str(Path(directory) / Path(p).name) for p in state.all_model_checkpoint_paths]
    numbered = [(int(m.group(1)), p) for p in Path(directory).glob("ckpt-*.index")
                if (m := re.fullmatch(r"ckpt-(\d+)\.index", p.name))]
    return [str(p.with_suffix("")) for _, p in sorted(numbered)]


def restore_newest(checkpoint, directory):
    """Restore a `tf.train.Checkpoint` from the newest readable checkpoint in `directory`.

    A damaged checkpoint (a file cut short, a missing shard) is skipped with one warning naming it,
    and the one before it is used. Returns the path restored. Raises `UsageError` when there is no
    readable checkpoint, or when one does not fit the model (another shape).
    """
    import tensorflow as tf  # noqa: F401  (the errors below)

    paths = checkpoint_paths(directory)
    if not paths:
        raise UsageError(f"no checkpoint in {directory}")
    damaged = []
    for path in reversed(paths):
        problem = _restore(checkpoint, path)
        if problem is None:
            if damaged:
                warnings.warn(f"checkpoint {damaged[0][0]} is damaged ({damaged[0][1]}); using {Path(path).name}",
                              stacklevel=2)
            return path
        damaged.append((path, problem))
    raise UsageError(f"no usable checkpoint in {directory}: "
                     + "; ".join(f"{Path(p).name} is damaged ({why})" for p, why in damaged))


def _restore(checkpoint, path):
    """Restore one checkpoint; returns None, or why its files could not be read."""
    import tensorflow as tf

    status = None
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
        status.expect_partial()  # a checkpoint may hold more than asked for (sample reads G alone)
        return None
    except (ValueError, AssertionError, tf.errors.InvalidArgumentError) as e:
        if status is not None:
            status.expect_partial()  # no warnings about the values left unrestored
        raise UsageError(f"checkpoint {path} does not fit this model (another model, image size "
                         f"or latent size?): {first_line(e)}") from None
    except (IndexError, tf.errors.OpError) as e:  # truncated or missing files
        return first_line(e, 120)


def first_line(error, limit=200):
    """The first line of an exception's message (TensorFlow's run to many lines)."""
    text = getattr(error, "message", None) or str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0][:limit]


# ---------------------------------------------------------------------------------------------
# The networks alone: what sampling, projection and fine-tuning restore

def restore_networks(run_dir, **networks):
    """Restore the named networks (generator=G, discriminator=D, generator_ema=...) of a run folder:
    from its `weights.npz` when shipped that way, else from its newest readable checkpoint. A shipped
    folder that holds only the moving-average G gives it for `generator` too (what --init-from tunes)."""
    run_dir = Path(run_dir)
    if (run_dir / WEIGHTS_FILE).is_file():
        return load_networks(run_dir / WEIGHTS_FILE, "the shipped networks", **networks)
    numpy_checkpoints = NumpyCheckpoint(run_dir / "checkpoints", _Items(networks)).paths()
    if numpy_checkpoints:
        return load_networks(numpy_checkpoints[-1], "the run's newest checkpoint", **networks)
    if not backend.is_tensorflow():
        if any((run_dir / "checkpoints").glob("*.index")):
            raise UsageError(f"{run_dir} holds TensorFlow checkpoints; read it with KERAS_BACKEND=tensorflow "
                             f"(this process runs Keras on {backend.name()}), or pack it (`gan_keras pack`)")
        raise UsageError(f"no checkpoint in {run_dir / 'checkpoints'}")
    import tensorflow as tf

    return restore_newest(tf.train.Checkpoint(**networks), run_dir / "checkpoints")


class _Items:
    def __init__(self, items):
        self.items = items

    def checkpoint_items(self):
        return self.items


def load_networks(path, what, **networks):
    """Assign the named networks' weights from an .npz that `save_networks` wrote; one UsageError line
    naming the file when it is damaged or holds another network. A file holding only the moving-average
    G gives it for `generator` too (what --init-from tunes). Returns the path as a string."""
    saved = load_npz(path, what)
    for name, model in networks.items():
        if name == "generator" and "generator/0" not in saved and "generator_ema/0" in saved:
            name = "generator_ema"
        weights = _weights_of(model, saved, name)
        arrays = [saved[f"{name}/{i}"] for i in range(len(weights)) if f"{name}/{i}" in saved]
        if len(arrays) != len(weights) or any(a.shape != tuple(w.shape) for a, w in zip(arrays, weights)):
            raise UsageError(f"{path} does not hold this {name} (another model, image size or latent size?)")
        for weight, array in zip(weights, arrays):
            weight.assign(array.astype(weight.dtype))
    return str(path)


def _weights_of(model, saved, name):
    """The variables `save_networks` (weights) or `NumpyCheckpoint` (variables, seed states included)
    wrote for `model`, by how many the file holds."""
    if f"{name}/{len(model.weights)}" in saved and len(model.variables) > len(model.weights):
        return list(model.variables)
    return list(model.weights)


def save_networks(path, dtype="float16", **networks):
    """Write the named networks' weights (every variable, BatchNorm statistics included) to one .npz."""
    import numpy as np

    arrays = {f"{name}/{i}": np.asarray(w).astype(dtype) for name, model in networks.items()
              for i, w in enumerate(model.weights)}
    with atomic_write(path) as tmp:
        np.savez_compressed(tmp, **arrays)
