"""Datasets: named sets (mnist, fashion_mnist, anime), `.npz` files and folders of images.

Everything is first read into one uint8 array (N, H, W, C), checked once, then served by `tf.data`
as float32 batches in [-1, 1].

Example:
    >>> ds = load_dataset("mnist", batch_size=64)        # GAN_KERAS_DATA_DIR/mnist.npz, else data/
    >>> ds = load_dataset("my_faces/", image_size=64)    # any folder of jpg/png/webp/bmp
    >>> next(iter(ds)).shape
    TensorShape([64, 64, 64, 3])

Named sets are read from the data directory (`data_dir`, else `$GAN_KERAS_DATA_DIR`, else
`./data`), and downloaded there first when absent (`gan_keras.download`).
"""

import gzip
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.download import download
from gan_keras.errors import UsageError
from gan_keras.images import atomic_path

# The named datasets. `domain_classifier`: a small classifier of their domain scores them (domain
# FID, conditional accuracy; gan_keras.metrics); `classes`: their class names, for --conditional.
registry.declare("dataset", "mnist", domain_classifier=True, classes=("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
registry.declare("dataset", "fashion_mnist", domain_classifier=True,
                 classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                          "Bag", "Ankle boot"))
registry.declare("dataset", "anime", help="64x64 anime faces (Kaggle, for educational use)")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
DEFAULT_FOLDER_SIZE = 64


def data_dir(explicit=None):
    """The data directory: `explicit`, else `$GAN_KERAS_DATA_DIR`, else `./data`."""
    return Path(explicit or os.environ.get("GAN_KERAS_DATA_DIR") or "data")


def cache_dir(explicit_data_dir=None):
    """Where derived files go (decoded folders, metric classifiers).

    `$GAN_KERAS_CACHE_DIR`, else `<data dir>/gan_keras_cache` if writable, else ~/.cache/gan_keras.
    """
    if os.environ.get("GAN_KERAS_CACHE_DIR"):
        folder = Path(os.environ["GAN_KERAS_CACHE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    folder = data_dir(explicit_data_dir) / "gan_keras_cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_text("")
        probe.unlink()
        return folder
    except OSError:  # a read-only data directory (a shared one, say)
        folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gan_keras"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


# ---------------------------------------------------------------------------------------------
# Named datasets


def _read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols)


def _read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


def load_digits(name, split="train", directory=None):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of "mnist" or "fashion_mnist".

    Reads `mnist.npz` with numpy (Keras's loader would reject a copy whose sha256 differs) or the
    four Fashion-MNIST gz files from the data directory, downloading them there first if absent.
    """
    folder = data_dir(directory)
    prefix = "train" if split == "train" else "t10k"
    files = ([folder / "mnist.npz"] if name == "mnist" else
             [folder / "fashion-mnist" / f"{prefix}-{kind}-idx{dims}-ubyte.gz" for kind, dims in (("images", 3), ("labels", 1))])
    if not all(file.is_file() for file in files):
        download(name, folder)
    if name == "mnist":
        with np.load(files[0]) as f:
            return f[f"x_{split}"], f[f"y_{split}"]
    return _read_idx_images(files[0]), _read_idx_labels(files[1])


def _load_anime(directory):
    """`anime_faces_64.npz`, else the folder `anime/` (the Kaggle set, downloaded there if absent)."""
    folder = data_dir(directory)
    if (folder / "anime_faces_64.npz").is_file():
        return _read_npz(folder / "anime_faces_64.npz")
    if not (folder / "anime").is_dir() or not any((folder / "anime").iterdir()):
        download("anime", folder)
    return read_image_folder(folder / "anime", DEFAULT_FOLDER_SIZE, 3, cache=cache_dir(directory))


def _read_npz_labels(path, n_images):
    """The `labels` of an `.npz` as int32 (N,), checked; one UsageError line if absent or malformed."""
    with np.load(path) as f:
        key = "labels" if "labels" in f.files else "y_train" if "y_train" in f.files else None
        if key is None:
            raise UsageError(f"--conditional needs class labels, but {path} has no array 'labels' "
                             f"(keys: {', '.join(f.files)})")
        labels = f[key]
    if labels.ndim != 1 or len(labels) != n_images or not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"{path}: 'labels' must be integers, one per image ({n_images}), "
                         f"got {labels.dtype} {labels.shape}")
    if labels.min() < 0:
        raise UsageError(f"{path}: labels must be 0, 1, 2, ..., got {labels.min()}")
    return labels.astype(np.int32)


def _read_npz(path):
    try:
        with np.load(path) as f:
            key = "images" if "images" in f.files else "x_train" if "x_train" in f.files else None
            if key is None:
                raise UsageError(f"{path} has no array 'images' (keys: {', '.join(f.files)})")
            images = f[key]
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) == 0:
        raise UsageError(f"{path}: 'images' must be uint8 (N, H, W) or (N, H, W, C), "
                         f"got {images.dtype} {images.shape}")
    return images


# ---------------------------------------------------------------------------------------------
# Folders of images


def _decode(path, size, channels):
    """One file -> uint8 (size, size, channels), center-cropped and resized; raises if unreadable."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img.draft("RGB" if channels == 3 else "L", (size, size))  # JPEG: decode at reduced scale
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit and float grayscale
            array = np.asarray(img, dtype=np.float64)
            peak = 65535.0 if img.mode != "F" else max(float(array.max()), 1.0)
            img = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
        if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")  # flatten transparency onto white
            img = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img.alpha_composite(rgba)
        img = img.convert("RGB" if channels == 3 else "L")
        img = ImageOps.fit(img, (size, size), Image.Resampling.LANCZOS)  # center crop + resize
        array = np.asarray(img, dtype=np.uint8)
    return array.reshape(size, size, channels)


def _folder_cache_path(folder, files, size, channels, cache):
    """The cache file of this folder at this size: named by a hash of every file's path, size and mtime."""
    digest = hashlib.sha256(f"v2|{folder.resolve()}|{size}|{channels}".encode())  # v2: skipped as relative paths
    for path in files:
        stat = path.stat()
        digest.update(f"|{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return Path(cache) / "folders" / f"{folder.name}-{size}x{size}x{channels}-{digest.hexdigest()[:16]}.npz"


def read_image_folder(folder, size=DEFAULT_FOLDER_SIZE, channels=3, workers=None, cache=None):
    """All images under `folder` (recursively) as uint8 (N, size, size, channels).

    Files are decoded in parallel threads. With `cache` (a folder), the decoded array is kept there
    and read back while no file under `folder` changed (any added, removed or modified file
    decodes the folder again). Unreadable files (empty, truncated, not images) are skipped with one
    warning that counts them and names the first few. No image at all raises `UsageError`.

    Example:
        >>> read_image_folder("my_faces/", size=64, cache=cache_dir()).shape
        (8000, 64, 64, 3)
    """
    return _read_folder(folder, size, channels, workers, cache)[0]


def read_class_folder(folder, size=DEFAULT_FOLDER_SIZE, channels=3, workers=None, cache=None):
    """A folder with one sub-folder per class -> (images, labels int32, class names).

    Classes are the sub-folders' names in sorted order; images anywhere below a class folder
    belong to it. Files lying directly in `folder` have no class: `UsageError`.

    Example:
        >>> images, labels, classes = read_class_folder("flowers/", size=64)   # flowers/rose/*.jpg, ...
    """
    folder = Path(folder)
    images, kept = _read_folder(folder, size, channels, workers, cache)
    loose = [name for name in kept if len(Path(name).parts) == 1]
    if loose:
        raise UsageError(f"--conditional needs one sub-folder per class in {folder}, but {len(loose)} images lie "
                         f"directly in it (e.g. {loose[0]})")
    classes = sorted({Path(name).parts[0] for name in kept})
    if len(classes) < 2:
        raise UsageError(f"--conditional needs at least 2 class sub-folders in {folder}, found {len(classes)}")
    index = {name: i for i, name in enumerate(classes)}
    return images, np.array([index[Path(name).parts[0]] for name in kept], np.int32), classes


def _read_folder(folder, size, channels, workers, cache):
    """(images, the relative paths of the files they came from, in order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise UsageError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {folder}")
    names = [str(path.relative_to(folder)) for path in files]
    cached = _folder_cache_path(folder, files, size, channels, cache) if cache is not None else None
    if cached is not None and cached.is_file():
        with np.load(cached) as f:
            images, bad = f["images"], [str(name) for name in f["skipped"]]
    else:
        images, bad = _decode_all(files, size, channels, workers)
        bad = [names[i] for i in bad]
    if len(bad) == len(files):
        raise UsageError(f"none of the {len(files)} image files in {folder} could be read (e.g. {bad[0]})")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable of {len(files)} files in {folder}: "
                      f"{', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}", stacklevel=3)
    if cached is not None and not cached.is_file():
        _write_cache(cached, images, bad)
    skipped = set(bad)
    return images, [name for name in names if name not in skipped]


def _decode_all(files, size, channels, workers=None):
    """(uint8 array of the readable files, indices of the unreadable ones in `files`)."""

    def decode(path):
        try:
            return _decode(path, size, channels)
        except Exception:  # PIL raises many types for broken files
            return None

    with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        decoded = list(pool.map(decode, files, chunksize=64))
    good = [a for a in decoded if a is not None]
    images = np.stack(good) if good else np.zeros((0, size, size, channels), np.uint8)
    return images, [i for i, a in enumerate(decoded) if a is None]


def _write_cache(path, images, skipped):
    """Best effort: a cache that cannot be written (full disk, read-only) only costs time.

    The file replaces the cache of an earlier state of the same folder at the same size.
    """
    tmp = atomic_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.npz"):
            stale.unlink(missing_ok=True)
        np.savez(tmp, images=images, skipped=np.array(skipped, dtype=str))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_images(name_or_path, image_size=None, channels=None, directory=None):
    """Raw images, uint8 (N, H, W, C), of a named dataset, an `.npz` file or a folder.

    `image_size` and `channels` only matter for folders, which are decoded straight to that size;
    arrays are resized and converted later, in `load_dataset`.
    """
    source = str(name_or_path)
    path = Path(source).expanduser()
    if registry.info("dataset", source, default={}).get("domain_classifier"):
        images = load_digits(source, directory=directory)[0]
    elif source == "anime":
        images = _load_anime(directory)
    elif path.is_dir():
        images = read_image_folder(path, image_size or DEFAULT_FOLDER_SIZE, channels or 3, cache=cache_dir(directory))
    elif path.suffix == ".npz" and path.is_file():
        images = _read_npz(path)
    elif os.sep in source or path.suffix:
        raise UsageError(f"dataset {source} does not exist (no such folder or .npz file)")
    else:
        raise UsageError(f"unknown dataset {source!r}: use one of {', '.join(registry.names('dataset'))}, "
                         "a folder of images, or an .npz file with key 'images'")
    return images[..., None] if images.ndim == 3 else images


def load_labeled_images(name_or_path, image_size=None, channels=None, directory=None):
    """(images uint8 (N, H, W, C), labels int32 (N,), class names) of a dataset with classes.

    Classes come from mnist and fashion_mnist, from an `.npz` with `labels` beside `images`
    (classes 0 .. max label), or from a folder with one sub-folder per class. Data without classes
    raises one UsageError line.

    Example:
        >>> images, labels, classes = load_labeled_images("fashion_mnist")
        >>> classes[labels[0]]
        'Ankle boot'
    """
    source = str(name_or_path)
    path = Path(source).expanduser()
    named = registry.info("dataset", source, default=None)  # None: a folder or an .npz
    if named is not None and "classes" in named:
        images, labels = load_digits(source, directory=directory)
        return images[..., None], labels.astype(np.int32), list(named["classes"])
    if named is None and path.is_dir():
        return read_class_folder(path, image_size or DEFAULT_FOLDER_SIZE, channels or 3, cache=cache_dir(directory))
    images = load_images(name_or_path, image_size, channels, directory)  # the usual errors for a bad source
    if named is not None:
        labelled = ", ".join(registry.having("dataset", "classes"))
        raise UsageError(f"{source} has no class labels; --conditional needs {labelled}, a folder with "
                         "one sub-folder per class, or an .npz with 'images' and 'labels'")
    labels = _read_npz_labels(path, len(images))
    classes = int(labels.max()) + 1
    if classes < 2:
        raise UsageError(f"{path}: --conditional needs at least 2 classes, the labels hold {classes}")
    return images, labels, [str(i) for i in range(classes)]


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
