"""The `tf.data` pipeline: uint8 images to shuffled float32 batches in [-1, 1].

Example:
    >>> ds = load_dataset("mnist", batch_size=64)        # GAN_KERAS_DATA_DIR/mnist.npz, else data/
    >>> ds = load_dataset("my_faces/", image_size=64, batch_size=4)    # any folder of jpg/png/webp/bmp
    >>> next(iter(ds)).shape
    TensorShape([4, 64, 64, 3])
"""

import numpy as np

from gan_keras.data.load import load_images, load_labeled_images
from gan_keras.errors import UsageError


def to_model_range(images, image_shape=None):
    """uint8 images -> float32 in [-1, 1], resized and channel-converted to `image_shape` if given."""
    import tensorflow as tf

    x = tf.cast(images, tf.float32)
    if image_shape is not None:
        height, width, channels = image_shape
        if x.shape[-1] == 1 and channels == 3:
            x = tf.image.grayscale_to_rgb(x)
        elif x.shape[-1] == 3 and channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        if tuple(x.shape[-3:-1]) != (height, width):
            x = tf.clip_by_value(tf.image.resize(x, (height, width), antialias=True), 0.0, 255.0)
    return x / 127.5 - 1.0


def check_batch_size(batch_size, n_images):
    """A batch larger than the dataset is a usage error (every batch drops the remainder)."""
    if batch_size > n_images:
        raise UsageError(f"batch size {batch_size} is larger than the dataset ({n_images} images)")


def make_dataset(images, batch_size, image_shape=None, seed=0, repeat=True, start=0, labels=None):
    """A shuffled, batched (drop_remainder), prefetched `tf.data.Dataset` of float32 in [-1, 1];
    with `labels`, of (images, int32 labels) pairs.

    With `repeat` (how training reads data, a fixed number of steps per epoch), each epoch's order
    is a stateless permutation of (seed, epoch): the same however the dataset is copied or
    distributed (a seeded `shuffle` op gives another order once `fit` distributes the dataset under
    MirroredStrategy), and `start` skips that many images of the stream, so a resumed run reads
    on where it stopped. Without `repeat`, the dataset is one epoch, reshuffled each time it is
    iterated.
    """
    import tensorflow as tf

    check_batch_size(batch_size, len(images))
    n = len(images)
    images = tf.constant(images)
    labels = None if labels is None else tf.constant(np.asarray(labels, np.int32))
    if repeat:
        passes, skip = divmod(int(start), n)
        order = tf.data.Dataset.counter(passes).flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(
            tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), epoch]))))
        order = order.skip(skip)
    else:
        order = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = order.batch(batch_size, drop_remainder=True)
    if labels is None:
        ds = ds.map(lambda index: to_model_range(tf.gather(images, index), image_shape),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda index: (to_model_range(tf.gather(images, index), image_shape), tf.gather(labels, index)),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_dataset(name_or_path, image_size=None, batch_size=64, channels=None, data_dir=None, seed=0,
                 repeat=False, conditional=False):
    """A `tf.data.Dataset` of float32 image batches in [-1, 1].

    Args:
        name_or_path: "mnist", "fashion_mnist", "anime", a folder of images or an `.npz`.
        image_size: height = width of the images served; default: the data's own size.
        batch_size: images per batch; the last partial batch is dropped.
        channels: 1 or 3; default: the data's own.
        data_dir: where named datasets are looked for (default `$GAN_KERAS_DATA_DIR`, then `./data`).
        seed: shuffle seed.
        repeat: repeat forever (what training uses, with a fixed number of steps per epoch).
        conditional: serve (images, labels) pairs (see `load_labeled_images`).
    """
    labels = None
    if conditional:
        images, labels, _ = load_labeled_images(name_or_path, image_size, channels, data_dir)
    else:
        images = load_images(name_or_path, image_size, channels, data_dir)
    shape = (image_size or images.shape[1], image_size or images.shape[2], channels or images.shape[3])
    return make_dataset(images, batch_size, shape, seed=seed, repeat=repeat, labels=labels)


def walk_batches(images, batch_size, start=0):
    """Yield consecutive batches of `images`, moving the start index and wrapping around.

    This is how the classic anime DCGAN script walks its data, with no shuffling.
    """
    n = len(images)
    while True:
        index = (start + np.arange(batch_size)) % n
        yield images[index]
        start = (start + batch_size) % n

