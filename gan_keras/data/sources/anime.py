"""Anime faces, 64x64 RGB, for educational use only (the images belong to their copyright holders).

`anime`: all the faces the data folder has, in the source's order: `anime_faces_64_full.zip` (20,969
JPEGs, decoded once into the cache), else `anime_faces_64.npz` (8,000 of them), else the Kaggle Anime
Face Dataset (splcher/animefacedataset, about 63,000 faces) fetched through `kagglehub` (public, no
login) into `<data dir>/anime/`. Training holds out 1,000 of them drawn at random (`--heldout`), the
faces every evaluation compares with.

`anime8k`: `anime_faces_64.npz` alone, the 8,000 faces the generators shipped before 2026-12-06
trained on (their first 7,000; `--limit 7000`), kept by name for their numbers.
"""

from gan_keras.data.download import kaggle
from gan_keras.data.folders import (
    DEFAULT_FOLDER_SIZE,
    cache_dir,
    read_image_folder,
    read_image_zip,
    read_npz,
)
from gan_keras.data.sources import Source
from gan_keras.errors import UsageError
from gan_keras.registry import register

KAGGLE_ANIME = "splcher/animefacedataset"


@register("dataset", "anime", order=3, heldout=1000, help="64x64 anime faces (for educational use)")
class Anime(Source):
    zip, npz, subfolder = "anime_faces_64_full.zip", "anime_faces_64.npz", "anime"

    def present(self, folder, split="train"):
        images = folder / self.subfolder
        return ((folder / self.zip).is_file() or (folder / self.npz).is_file()
                or images.is_dir() and any(images.iterdir()))

    def read(self, folder, split="train"):
        if (folder / self.zip).is_file():
            return read_image_zip(folder / self.zip, DEFAULT_FOLDER_SIZE, 3, cache=cache_dir(folder)), None
        if (folder / self.npz).is_file():
            return read_npz(folder / self.npz), None
        return read_image_folder(folder / self.subfolder, DEFAULT_FOLDER_SIZE, 3, cache=cache_dir(folder)), None

    def fetch(self, folder, force=False):
        return kaggle(KAGGLE_ANIME, folder / self.subfolder, force, self.manual(folder))

    def manual(self, folder):
        return (f"download the Kaggle 'Anime Face Dataset' (kaggle.com/datasets/{KAGGLE_ANIME}) and unzip its "
                f"images/ folder as {folder / self.subfolder}/, or put {self.zip} or {self.npz} in {folder}/")


@register("dataset", "anime8k", order=4, help="the 8,000 anime faces of anime_faces_64.npz (the older numbers)")
class Anime8k(Source):
    npz = "anime_faces_64.npz"

    def present(self, folder, split="train"):
        return (folder / self.npz).is_file()

    def read(self, folder, split="train"):
        return read_npz(folder / self.npz), None

    def fetch(self, folder, force=False):
        raise UsageError(self.manual(folder))

    def manual(self, folder):
        return f"put {self.npz} (8,000 faces, key 'images') in {folder}/; it is not downloadable"
