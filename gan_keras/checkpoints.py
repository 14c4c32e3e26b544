"""Checkpoints of a run: G, D, both optimizers and the epoch, through `tf.train.CheckpointManager`.

TensorFlow writes each checkpoint's files first and only then points the `checkpoint` index file
at them (an atomic rename), so a process killed mid-save leaves the previous checkpoint intact.
The last two are kept. The random state needs no file of its own: every random draw of training
is a function of the seed and the optimizer step counter (see `gan_keras.noise`), which is saved.
"""

import tensorflow as tf

from gan_keras.errors import UsageError


class RunCheckpoint:
    """Save and restore a trainer (`GAN` or `ClassicGAN`) in `directory`.

    Example:
        >>> ckpt = RunCheckpoint("outputs/run/checkpoints", gan)
        >>> ckpt.save(epoch=3)
        >>> ckpt.restore()   # -> 3
    """

    def __init__(self, directory, trainer, max_to_keep=2):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(
            generator=trainer.generator, discriminator=trainer.discriminator,
            d_optimizer=trainer.d_optimizer, g_optimizer=trainer.g_optimizer, epoch=self.epoch)
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
            raise UsageError(f"cannot write a checkpoint in {self.manager.directory}: {e.message.splitlines()[0]}; "
                             "the earlier checkpoints are intact") from None

    def restore(self):
        """Restore the latest checkpoint; returns its epoch. Mismatched shapes raise UsageError."""
        if self.latest is None:
            raise UsageError(f"no checkpoint in {self.manager.directory}")
        status = None
        try:
            status = self.checkpoint.restore(self.latest)
            status.assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.InvalidArgumentError) as e:
            if status is not None:
                status.expect_partial()  # no warnings about the values left unrestored
            first_line = str(e).strip().splitlines()[0][:200]
            raise UsageError(f"checkpoint {self.latest} does not fit this model (another model, image size "
                             f"or latent size?): {first_line}") from None
        return int(self.epoch.numpy())
