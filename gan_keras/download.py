"""Fetching the named datasets into the data directory (`python -m gan_keras download NAME`).

    anime:          the Kaggle Anime Face Dataset (splcher/animefacedataset, about 63,000 faces;
                    for educational use only) through `kagglehub` (public, no login), unpacked
                    into `<data dir>/anime/` and then read like any image folder.
    mnist:          Keras's `mnist.npz`, into `<data dir>/mnist.npz`.
    fashion_mnist:  the four Fashion-MNIST gz files, into `<data dir>/fashion-mnist/`.

Each shows a progress bar. Offline, or without `kagglehub`, one `UsageError` line says what to
download and where to put it. The loaders in `gan_keras.data` call `download` when a named set
is not on disk.

Example:
    >>> download("anime")            # -> Path("data/anime")
"""

import os
from pathlib import Path

from gan_keras import registry
from gan_keras.errors import UsageError

KAGGLE_ANIME = "splcher/animefacedataset"
KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # Keras's own check
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def manual_instructions(name, folder):
    """One sentence: what to download by hand and where to put it."""
    folder = Path(folder)
    if name == "anime":
        return (f"download the Kaggle 'Anime Face Dataset' (kaggle.com/datasets/{KAGGLE_ANIME}) and unzip its "
                f"images/ folder as {folder / 'anime'}/, or put anime_faces_64.npz in {folder}/")
    if name == "mnist":
        return f"put mnist.npz ({KERAS_DATASETS}mnist.npz) in {folder}/"
    return f"put the four Fashion-MNIST files ({', '.join(FASHION_FILES)}) in {folder / 'fashion-mnist'}/"


def download(name, directory, force=False):
    """Download a named dataset into the data folder `directory`; returns the path written."""
    registry.check("dataset", name)
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"{folder} is read-only")
    except OSError as e:
        raise UsageError(f"cannot download {name} into {folder} ({e}); choose a writable --data-dir") from None
    try:
        if name == "anime":
            return _kaggle(KAGGLE_ANIME, folder / "anime", force)
        if name == "mnist":
            return _keras_file("mnist.npz", folder, MNIST_SHA256, force)
        for file in FASHION_FILES:
            _keras_file(file, folder / "fashion-mnist", None, force)
        return folder / "fashion-mnist"
    except UsageError:
        raise
    except Exception as e:  # offline (ConnectionError), a blocked host, an interrupted transfer
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UsageError(f"{name} is not in {folder}/ and could not be downloaded ({reason}): "
                         + manual_instructions(name, folder)) from None


def _kaggle(handle, target, force):
    try:
        import kagglehub
    except ImportError:
        raise UsageError(f"anime faces are not in {target.parent}/ and kagglehub is not installed "
                         f"(pip install kagglehub): {manual_instructions('anime', target.parent)}") from None
    print(f"downloading {handle} from Kaggle into {target}/ (about 400 MB, once)", flush=True)
    return Path(kagglehub.dataset_download(handle, output_dir=str(target), force_download=force))


def _keras_file(name, folder, sha256, force):
    import keras

    path = folder / name
    if path.is_file() and not force:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    if force:
        path.unlink(missing_ok=True)
    keras.utils.get_file(name, KERAS_DATASETS + name, file_hash=sha256, cache_dir=str(folder), cache_subdir="")
    return path
