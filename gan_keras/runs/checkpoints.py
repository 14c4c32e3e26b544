"""Checkpoints of a run: G, D, both optimizers and the epoch, through `tf.train.CheckpointManager`.

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

import tensorflow as tf

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


class RunCheckpoint:
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
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(**trainer.checkpoint_items(), epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def save(self, epoch):
        """Write a checkpoint for `epoch`; a failed write (a full disk) leaves the earlier ones intact."""
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


def checkpoint_paths(directory):
    """The checkpoints in `directory`, oldest first: from its `checkpoint` index file, or, when that
    file is damaged or missing, from the `ckpt-N.index` files present."""
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
    if not (run_dir / WEIGHTS_FILE).is_file():
        return restore_newest(tf.train.Checkpoint(**networks), run_dir / "checkpoints")
    return load_networks(run_dir / WEIGHTS_FILE, "the shipped networks", **networks)


def load_networks(path, what, **networks):
    """Assign the named networks' weights from an .npz that `save_networks` wrote; one UsageError line
    naming the file when it is damaged or holds another network. A file holding only the moving-average
    G gives it for `generator` too (what --init-from tunes). Returns the path as a string."""
    saved = load_npz(path, what)
    for name, model in networks.items():
        if name == "generator" and "generator/0" not in saved and "generator_ema/0" in saved:
            name = "generator_ema"
        arrays = [saved[f"{name}/{i}"] for i in range(len(model.weights)) if f"{name}/{i}" in saved]
        if len(arrays) != len(model.weights) or any(a.shape != tuple(w.shape) for a, w in zip(arrays, model.weights)):
            raise UsageError(f"{path} does not hold this {name} (another model, image size or latent size?)")
        for weight, array in zip(model.weights, arrays):
            weight.assign(array.astype(weight.dtype))
    return str(path)


def save_networks(path, dtype="float16", **networks):
    """Write the named networks' weights (every variable, BatchNorm statistics included) to one .npz."""
    import numpy as np

    arrays = {f"{name}/{i}": np.asarray(w).astype(dtype) for name, model in networks.items()
              for i, w in enumerate(model.weights)}
    with atomic_write(path) as tmp:
        np.savez_compressed(tmp, **arrays)
