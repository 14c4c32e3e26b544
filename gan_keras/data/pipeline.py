"""The input pipeline: uint8 images to shuffled float32 batches in [-1, 1]; `tf.data` on TensorFlow,
a NumPy generator on JAX and PyTorch (`training_batches` picks).

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
    """uint8 images -> float32 in [-1, 1], resized and channel-converted to `image_shape` if given
    (in `keras.ops`: TensorFlow's ops on TensorFlow, inside `tf.data`)."""
    from keras import ops

    x = ops.cast(images, "float32")
    if image_shape is not None:
        height, width, channels = image_shape
        if x.shape[-1] == 1 and channels == 3:
            x = ops.concatenate([x, x, x], axis=-1)
        elif x.shape[-1] == 3 and channels == 1:
            x = ops.image.rgb_to_grayscale(x)
        if tuple(x.shape[-3:-1]) != (height, width):
            x = ops.clip(ops.image.resize(x, (height, width), antialias=True), 0.0, 255.0)
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


def training_batches(images, batch_size, image_shape=None, seed=0, start=0, labels=None):
    """What training reads: endless shuffled batches, each epoch's order a function of (seed, epoch),
    starting after `start` images (a resumed run reads on where it stopped). `make_dataset`'s
    `tf.data` pipeline on TensorFlow; on the other backends `numpy_batches` (another order, drawn
    by NumPy: the same on both)."""
    from gan_keras import backend

    if backend.is_tensorflow():
        return make_dataset(images, batch_size, image_shape, seed=seed, repeat=True, start=start, labels=labels)
    return numpy_batches(images, batch_size, image_shape, seed=seed, start=start, labels=labels)


def numpy_batches(images, batch_size, image_shape=None, seed=0, start=0, labels=None):
    """`make_dataset(repeat=True)` without TensorFlow: a generator of float32 batches in [-1, 1] (with
    int32 labels when given), epoch e in the order `permutation(seed, e)`, from image `start` on.

    Example:
        >>> batches = numpy_batches(np.zeros((10, 8, 8, 1), np.uint8), 4, seed=0, start=6)
        >>> next(batches)[0].shape
        (4, 8, 8, 1)
    """
    check_batch_size(batch_size, len(images))
    n = len(images)
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        images = _converted(images, image_shape)
    labels = None if labels is None else np.asarray(labels, np.int32)
    epoch, offset = divmod(int(start), n)
    order = permutation(seed, epoch, n)
    while True:
        index = np.empty(batch_size, np.int64)
        filled = 0
        while filled < batch_size:
            take = min(batch_size - filled, n - offset)
            index[filled:filled + take] = order[offset:offset + take]
            filled, offset = filled + take, offset + take
            if offset == n:
                epoch, offset = epoch + 1, 0
                order = permutation(seed, epoch, n)
        batch = images[index].astype(np.float32) / 127.5 - 1.0
        yield (batch,) if labels is None else (batch, labels[index])  # Keras reads a generator's tuples


def permutation(seed, epoch, n):
    """Epoch `epoch`'s order of `n` images under `seed` (NumPy's generator: the same on every machine)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def _converted(images, image_shape):
    """uint8 images in `image_shape` (channels, then size, with Pillow's antialiased resize)."""
    from PIL import Image

    height, width, channels = image_shape
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(images), height, width, channels), np.uint8)
    for i, image in enumerate(images):
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert(mode)
        out[i] = np.asarray(picture.resize((width, height), Image.LANCZOS)).reshape(height, width, channels)
    return out


def walk_batches(images, batch_size, start=0):
    """Yield consecutive batches of `images`, moving the start index and wrapping around.

    This is how the classic anime DCGAN script walks its data, with no shuffling.
    """
    n = len(images)
    while True:
        index = (start + np.arange(batch_size)) % n
        yield images[index]
        start = (start + batch_size) % n

