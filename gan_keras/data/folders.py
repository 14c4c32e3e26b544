"""Where data lives (the data directory and the cache), folders of images decoded once and cached,
`.npz` files with `images` (and `labels`), and the images a user brings to a trained generator
(`load_targets`, what projection reads).

Example:
    >>> read_image_folder("my_faces/", size=64, cache=cache_dir()).shape
    (8, 64, 64, 3)
"""

import hashlib
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gan_keras.errors import UsageError
from gan_keras.files import atomic_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

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


def decode_image(path, size, channels):
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


def image_files(paths):
    """The image files named by `paths`: files as given, folders expanded (sorted); one line if none."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path} does not exist")
    if not files:
        raise UsageError(f"no images in {', '.join(map(str, paths))}")
    return files


def load_targets(paths, generator):
    """Images at `paths` (files or folders), center-cropped and resized to the generator's size and
    mode as the data loader does; float32 in [-1, 1]: what projection and the encoder take. One
    UsageError line for a file that is not an image."""
    size, channels = int(generator.outputs[0].shape[1]), int(generator.outputs[0].shape[-1])
    images = []
    for path in image_files(paths):
        try:
            images.append(decode_image(path, size, channels))
        except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError ...
            raise UsageError(f"{path} is not an image ({type(e).__name__})") from None
    return np.stack(images).astype(np.float32) / 127.5 - 1.0


def natural_key(name):
    """Sort key that orders the numbers in a name by value: "2_2000.jpg" before "10_2000.jpg"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(name))]


def read_image_zip(path, size=DEFAULT_FOLDER_SIZE, channels=3, cache=None):
    """The images of a zip file as uint8 (N, size, size, channels), in the natural order of their names
    (`natural_key`), decoded once: with `cache` (a folder) the array is kept there, named by the zip's
    path, size and time, and read back while the zip is unchanged. Unreadable members are skipped with
    one warning; a damaged zip is one UsageError line."""
    import io
    import zipfile

    path = Path(path)
    stat = path.stat()
    digest = hashlib.sha256(f"zip|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}|{channels}".encode())
    cached = (Path(cache) / "folders" / f"{path.stem}-{size}x{size}x{channels}-{digest.hexdigest()[:16]}.npz"
              if cache is not None else None)
    if cached is not None and cached.is_file():
        with np.load(cached) as f:
            return f["images"]
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted((n for n in archive.namelist() if n.lower().endswith(IMAGE_EXTENSIONS)), key=natural_key)
            blobs = [archive.read(n) for n in names]
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise UsageError(f"{path} is damaged ({type(e).__name__}); its images cannot be read") from None
    if not names:
        raise UsageError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {path}")
    images, bad = _decode_all([io.BytesIO(blob) for blob in blobs], size, channels)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable of {len(names)} files in {path}: "
                      f"{', '.join(names[i] for i in bad[:5])}", stacklevel=2)
    if cached is not None:
        _write_cache(cached, images, [names[i] for i in bad])
    return images


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
        >>> read_image_folder("my_faces/", size=32).shape
        (8, 32, 32, 3)
    """
    return _read_folder(folder, size, channels, workers, cache)[0]


def read_class_folder(folder, size=DEFAULT_FOLDER_SIZE, channels=3, workers=None, cache=None):
    """A folder with one sub-folder per class -> (images, labels int32, class names).

    Classes are the sub-folders' names in sorted order; images anywhere below a class folder
    belong to it. Files lying directly in `folder` have no class: `UsageError`.

    Example:
        >>> images, labels, classes = read_class_folder("flowers/", size=64)   # flowers/rose/*.png, ...
        >>> classes, labels.tolist()
        (['rose', 'tulip'], [0, 0, 0, 0, 1, 1, 1, 1])
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
            return decode_image(path, size, channels)
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


def read_npz_labels(path, n_images):
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


def read_npz(path):
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

