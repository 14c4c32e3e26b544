"""Latent noise that is a pure function of (seed, step, stream).

Both trainers draw their noise here, so a run's randomness is fixed by its seed and its optimizer
step counter, which the checkpoint restores: a resumed run draws the noise it would have drawn.
Under `tf.distribute` each replica takes its own slice of one global batch, so the noise does not
depend on how the batch is split.
"""

import tensorflow as tf


def latent_noise(seed, step, batch_size, latent_dim, stream=0):
    """Standard normal noise (batch_size, latent_dim) for this seed, step and stream.

    Example:
        >>> latent_noise(0, 5, 4, 100).shape
        TensorShape([4, 100])
    """
    key = tf.random.experimental.stateless_fold_in(tf.constant([seed, stream], tf.int64), tf.cast(step, tf.int64))
    return tf.random.stateless_normal((batch_size, latent_dim), seed=key)


def replica_noise(seed, step, local_batch, latent_dim, stream=0):
    """This replica's slice of the global batch of `latent_noise` (the whole batch on one device)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    if replicas == 1:
        return latent_noise(seed, step, local_batch, latent_dim, stream)
    z = latent_noise(seed, step, local_batch * replicas, latent_dim, stream)
    start = context.replica_id_in_sync_group * local_batch
    return z[start:start + local_batch]


def replica_uniform(seed, step, local_batch, stream, size=1):
    """Uniform [0, 1) numbers (local_batch, size), split across replicas like `replica_noise`."""
    z = replica_noise(seed, step, local_batch, size, stream)
    return 0.5 * (1.0 + tf.math.erf(z / 2**0.5))  # the normal CDF maps N(0, 1) to U(0, 1)
