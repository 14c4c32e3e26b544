"""Anime faces: `anime_faces_64.npz` (key `images`, 64x64 RGB) in the data folder, else the Kaggle Anime
Face Dataset (splcher/animefacedataset, about 63,000 faces; for educational use only), fetched through
`kagglehub` (public, no login) into `<data dir>/anime/` and read like any image folder.
"""

from gan_keras.data.download import kaggle
from gan_keras.data.folders import (
    DEFAULT_FOLDER_SIZE,
    cache_dir,
    read_image_folder,
    read_npz,
)
from gan_keras.data.sources import Source
from gan_keras.registry import register

KAGGLE_ANIME = "splcher/animefacedataset"


@register("dataset", "anime", order=3, help="64x64 anime faces (Kaggle, for educational use)")
class Anime(Source):
    npz, subfolder = "anime_faces_64.npz", "anime"

    def present(self, folder, split="train"):
        images = folder / self.subfolder
        return (folder / self.npz).is_file() or images.is_dir() and any(images.iterdir())

    def read(self, folder, split="train"):
        if (folder / self.npz).is_file():
            return read_npz(folder / self.npz), None
        return read_image_folder(folder / self.subfolder, DEFAULT_FOLDER_SIZE, 3, cache=cache_dir(folder)), None

    def fetch(self, folder, force=False):
        return kaggle(KAGGLE_ANIME, folder / self.subfolder, force, self.manual(folder))

    def manual(self, folder):
        return (f"download the Kaggle 'Anime Face Dataset' (kaggle.com/datasets/{KAGGLE_ANIME}) and unzip its "
                f"images/ folder as {folder / self.subfolder}/, or put {self.npz} in {folder}/")
