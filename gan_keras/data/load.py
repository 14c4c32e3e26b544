"""One loader for every kind of source: a named dataset, an `.npz` file or a folder of images, read
into one uint8 array (N, H, W, C) and checked once.

Example:
    >>> images, labels, classes = load_labeled_images("fashion_mnist")
    >>> classes[labels[0]]
    'Ankle boot'
"""

import os
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.data.download import download
from gan_keras.data.folders import (
    DEFAULT_FOLDER_SIZE,
    cache_dir,
    data_dir,
    read_class_folder,
    read_image_folder,
    read_npz,
    read_npz_labels,
)
from gan_keras.errors import UsageError


def read_source(name, split="train", directory=None):
    """(images uint8, labels or None) of the named dataset `name`, downloaded into the data folder
    first when its files are not there (`gan_keras.data.sources`)."""
    source = registry.get("dataset", name)()
    folder = data_dir(directory)
    if not source.present(folder, split):
        download(name, folder)
    return source.read(folder, split)


def load_digits(name, split="train", directory=None):
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of "mnist" or "fashion_mnist"."""
    return read_source(name, split, directory)


def load_images(name_or_path, image_size=None, channels=None, directory=None):
    """Raw images, uint8 (N, H, W, C), of a named dataset, an `.npz` file or a folder.

    `image_size` and `channels` only matter for folders, which are decoded straight to that size;
    arrays are resized and converted later, in `load_dataset`.
    """
    source = str(name_or_path)
    path = Path(source).expanduser()
    if source in registry.names("dataset"):
        images = read_source(source, "train", directory)[0]
    elif path.is_dir():
        images = read_image_folder(path, image_size or DEFAULT_FOLDER_SIZE, channels or 3, cache=cache_dir(directory))
    elif path.suffix == ".npz" and path.is_file():
        images = read_npz(path)
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
        images, labels = read_source(source, "train", directory)
        return images[..., None], labels.astype(np.int32), list(named["classes"])
    if named is None and path.is_dir():
        return read_class_folder(path, image_size or DEFAULT_FOLDER_SIZE, channels or 3, cache=cache_dir(directory))
    images = load_images(name_or_path, image_size, channels, directory)  # the usual errors for a bad source
    if named is not None:
        labelled = ", ".join(registry.having("dataset", "classes"))
        raise UsageError(f"{source} has no class labels; --conditional needs {labelled}, a folder with "
                         "one sub-folder per class, or an .npz with 'images' and 'labels'")
    labels = read_npz_labels(path, len(images))
    classes = int(labels.max()) + 1
    if classes < 2:
        raise UsageError(f"{path}: --conditional needs at least 2 classes, the labels hold {classes}")
    return images, labels, [str(i) for i in range(classes)]


HELDOUT_SEED = 20261206  # one draw for every run: a dataset's held-out images are the same in all of them


def heldout_mask(count, heldout):
    """Which of `count` images are held out: `heldout` of them drawn at random, the same draw for every
    run of the same number of images (a seed of its own, not the run's)."""
    mask = np.zeros(count, bool)
    mask[np.random.default_rng(HELDOUT_SEED).permutation(count)[:heldout]] = True
    return mask


def split_for_training(array, limit=None, heldout=None):
    """The one definition of what a run trains on and what it holds out: (trained on, held out).

    `heldout` N: N images drawn at random are held out (`heldout_mask`; at most a tenth of them, so a
    small folder of a dataset that holds out 1,000 still trains), so "held-out" means the same
    population as the training images; `limit` N: training takes the first N of the rest, and, without
    `heldout`, the images after them are the held-out ones (a file ordered by source drifts: prefer
    `heldout`). Neither: (array, None). A None array (no labels) gives (None, None).

        >>> split_for_training(np.arange(5), limit=3)
        (array([0, 1, 2]), array([3, 4]))
        >>> [len(part) for part in split_for_training(np.arange(100), heldout=10)]
        [90, 10]
    """
    if array is None:
        return None, None
    heldout = min(heldout or 0, len(array) // 10)
    if heldout:
        mask = heldout_mask(len(array), heldout)
        return array[~mask][:limit], array[mask]
    return (array[:limit], array[limit:]) if limit else (array, None)


def not_in(images, others):
    """The indices of `images` that are not, pixel for pixel, one of `others` (same shape and dtype):
    what is left of an evaluation set once another dataset's images are taken out.

        >>> not_in(np.arange(12).reshape(4, 3), np.arange(6).reshape(2, 3))
        array([2, 3])
    """
    seen = {image.tobytes() for image in np.asarray(others)}
    return np.array([i for i, image in enumerate(np.asarray(images)) if image.tobytes() not in seen], dtype=int)
