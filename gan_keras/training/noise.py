"""Latent noise that is a pure function of (seed, step, stream).

Both trainers draw their noise here, so a run's randomness is fixed by its seed and its optimizer
step counter, which the checkpoint restores: a resumed run draws the noise it would have drawn.
Under `tf.distribute` each replica takes its own slice of one global batch, so the noise does not
depend on how the batch is split.

Every draw of the package names its stream from `Stream`, the one table of them: two draws never
share a stream by accident, and a new one gets its own number here.
"""


class Stream:
    """The random streams, by what they draw. D step i of `--n-critic` shifts the training streams
    by `D_STEP_SHIFT * i`, so each critic step draws its own noise, flips, augmentation and penalty."""

    # training: both trainers (the classic one draws D_NOISE, G_NOISE and FLIP_REAL only)
    D_NOISE, G_NOISE, FLIP_REAL, FLIP_FAKE = 0, 1, 2, 3
    AUGMENT_REAL, AUGMENT_FAKE, AUGMENT_G, AUGMENT_PENALTY, AUGMENT_G_REAL = 10, 11, 12, 13, 14
    GRADIENT_PENALTY = 40
    SELF_SUPERVISION = 41  # which quarter FastGAN's D reconstructs
    D_STEP_SHIFT = 100
    # outside training
    FIXED_NOISE = 1000  # the run's grids (fixed_noise.npy)
    SAMPLE = 2000  # sampling.generate
    MEAN_W = 3000  # the average w of a style-based generator
    RANDOM_LATENTS = 4000  # random latents of the editing tools (directions, effect sizes)
    PROJECTION_STARTS = 5000  # projection's random starts in z


def latent_noise(seed, step, batch_size, latent_dim, stream=0):
    """Standard normal noise (batch_size, latent_dim) for this seed, step and stream.

    Example:
        >>> latent_noise(0, 5, 4, 100, Stream.SAMPLE).shape
        TensorShape([4, 100])
    """
    import tensorflow as tf

    key = tf.random.experimental.stateless_fold_in(tf.constant([seed, stream], tf.int64), tf.cast(step, tf.int64))
    return tf.random.stateless_normal((batch_size, latent_dim), seed=key)


def replica_noise(seed, step, local_batch, latent_dim, stream=0):
    """This replica's slice of the global batch of `latent_noise` (the whole batch on one device)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    if replicas == 1:
        return latent_noise(seed, step, local_batch, latent_dim, stream)
    z = latent_noise(seed, step, local_batch * replicas, latent_dim, stream)
    start = context.replica_id_in_sync_group * local_batch
    return z[start:start + local_batch]


def replica_uniform(seed, step, local_batch, stream, size=1):
    """Uniform [0, 1) numbers (local_batch, size), split across replicas like `replica_noise`."""
    import tensorflow as tf

    z = replica_noise(seed, step, local_batch, size, stream)
    return 0.5 * (1.0 + tf.math.erf(z / 2**0.5))  # the normal CDF maps N(0, 1) to U(0, 1)
