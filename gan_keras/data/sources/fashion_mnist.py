"""Fashion-MNIST: 70,000 Zalando article images in 10 classes, 28x28 grayscale, as its four original
gz files (the names `keras.datasets.fashion_mnist` uses) in `<data dir>/fashion-mnist/`.
"""

import gzip

import numpy as np

from gan_keras.data.download import keras_file
from gan_keras.data.sources import Source
from gan_keras.registry import register

FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


@register("dataset", "fashion_mnist", order=2, domain_classifier=True,
          classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"))
class FashionMNIST(Source):
    subfolder = "fashion-mnist"

    def files(self, folder, split):
        prefix = "train" if split == "train" else "t10k"
        return [folder / self.subfolder / f"{prefix}-{kind}-idx{dims}-ubyte.gz" for kind, dims in (("images", 3),
                                                                                                   ("labels", 1))]

    def present(self, folder, split="train"):
        return all(path.is_file() for path in self.files(folder, split))

    def read(self, folder, split="train"):
        images, labels = self.files(folder, split)
        return read_idx_images(images), read_idx_labels(labels)

    def fetch(self, folder, force=False):
        for file in FASHION_FILES:
            keras_file(file, folder / self.subfolder, None, force)
        return folder / self.subfolder

    def manual(self, folder):
        return f"put the four Fashion-MNIST files ({', '.join(FASHION_FILES)}) in {folder / self.subfolder}/"
