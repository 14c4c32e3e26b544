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

    Each backend draws with its own counter-based generator (TensorFlow's stateless ops, JAX's keys,
    a PyTorch generator seeded from the three numbers): the same numbers every time on one backend,
    other numbers on another.

    Example:
        >>> tuple(latent_noise(0, 5, 4, 100, Stream.SAMPLE).shape)
        (4, 100)
    """
    from gan_keras import backend

    kind = backend.name()
    if kind == "jax":
        import jax

        key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(int(seed)), int(stream)), step)
        return jax.random.normal(key, (batch_size, latent_dim), "float32")
    if kind == "torch":
        import keras
        import torch

        generator = torch.Generator().manual_seed(_mix(int(seed), int(stream), int(step)))
        z = torch.randn((int(batch_size), latent_dim), generator=generator, dtype=torch.float32)
        return keras.ops.convert_to_tensor(z)  # on the device Keras computes on
    import tensorflow as tf

    key = tf.random.experimental.stateless_fold_in(tf.constant([seed, stream], tf.int64), tf.cast(step, tf.int64))
    return tf.random.stateless_normal((batch_size, latent_dim), seed=key)


def stateless_normal(shape, seed, stream):
    """Standard normal numbers of any `shape` for (seed, stream) (`stream` may be a traced step number):
    TensorFlow's `stateless_normal(shape, [seed, stream])`, and the others' counter-based draws."""
    from gan_keras import backend

    kind = backend.name()
    if kind == "jax":
        import jax

        return jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(int(seed)), stream), tuple(shape), "float32")
    if kind == "torch":
        import keras
        import torch

        generator = torch.Generator().manual_seed(_mix(int(seed), int(stream), 0))
        return keras.ops.convert_to_tensor(torch.randn(tuple(int(d) for d in shape), generator=generator))
    import tensorflow as tf

    return tf.random.stateless_normal(shape, tf.stack([tf.cast(seed, tf.int64), tf.cast(stream, tf.int64)]))


def _mix(seed, stream, step):
    """One 63-bit seed from three numbers (splitmix64's finaliser), so nearby triples seed far apart."""
    x = (seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9 + step * 0x94D049BB133111EB) % 2**64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) % 2**64
    return (x ^ (x >> 31)) % 2**63


def _replica():
    """(replicas, this replica's index) under tf.distribute; (1, 0) on one device and on other backends."""
    from gan_keras import backend

    if not backend.is_tensorflow():
        return 1, 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def replica_noise(seed, step, local_batch, latent_dim, stream=0):
    """This replica's slice of the global batch of `latent_noise` (the whole batch on one device)."""
    replicas, index = _replica()
    if replicas == 1:
        return latent_noise(seed, step, local_batch, latent_dim, stream)
    z = latent_noise(seed, step, local_batch * replicas, latent_dim, stream)
    start = index * local_batch
    return z[start:start + local_batch]


def replica_uniform(seed, step, local_batch, stream, size=1):
    """Uniform [0, 1) numbers (local_batch, size), split across replicas like `replica_noise`."""
    import keras

    z = replica_noise(seed, step, local_batch, size, stream)
    return 0.5 * (1.0 + keras.ops.erf(z / 2**0.5))  # the normal CDF maps N(0, 1) to U(0, 1)
