"""Fetching the named datasets into the data directory (`python -m gan_keras download NAME`), each
through its source's `fetch` (`gan_keras.data.sources`), with a progress bar.

Offline, or without `kagglehub`, one `UsageError` line says what to download and where to put it.
The loaders call `download` when a named set is not on disk.

Example:
    >>> from gan_keras.data.folders import data_dir
    >>> download("mnist", data_dir())        # there already: nothing is fetched
    PosixPath('.../mnist.npz')
"""

import os
from pathlib import Path

from gan_keras import registry
from gan_keras.errors import UsageError

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def manual_instructions(name, folder):
    """One sentence: what to download by hand and where to put it."""
    return registry.get("dataset", name)().manual(Path(folder))


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
        return registry.get("dataset", name)().fetch(folder, force)
    except UsageError:
        raise
    except Exception as e:  # offline (ConnectionError), a blocked host, an interrupted transfer
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UsageError(f"{name} is not in {folder}/ and could not be downloaded ({reason}): "
                         + manual_instructions(name, folder)) from None


def kaggle(handle, target, force, manual):
    """A Kaggle dataset through `kagglehub` into `target`; `manual` says what to do without kagglehub."""
    try:
        import kagglehub
    except ImportError:
        raise UsageError(f"anime faces are not in {target.parent}/ and kagglehub is not installed "
                         f"(pip install kagglehub): {manual}") from None
    print(f"downloading {handle} from Kaggle into {target}/ (about 400 MB, once)", flush=True)
    return Path(kagglehub.dataset_download(handle, output_dir=str(target), force_download=force))


def keras_file(name, folder, sha256, force):
    """One file of Keras's dataset store into `folder` (kept when there already, unless `force`)."""
    import keras

    path = folder / name
    if path.is_file() and not force:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    if force:
        path.unlink(missing_ok=True)
    keras.utils.get_file(name, KERAS_DATASETS + name, file_hash=sha256, cache_dir=str(folder), cache_subdir="")
    return path
