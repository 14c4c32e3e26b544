"""MNIST: 70,000 handwritten digits, 28x28 grayscale, as Keras's `mnist.npz`.

Read with numpy (Keras's loader would reject a copy whose sha256 differs from its own file).
"""

import numpy as np

from gan_keras.data.download import KERAS_DATASETS, keras_file
from gan_keras.data.sources import Source
from gan_keras.registry import register

MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # Keras's own check


@register("dataset", "mnist", order=1, domain_classifier=True,
          classes=("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
class MNIST(Source):
    file = "mnist.npz"

    def present(self, folder, split="train"):
        return (folder / self.file).is_file()

    def read(self, folder, split="train"):
        with np.load(folder / self.file) as f:
            return f[f"x_{split}"], f[f"y_{split}"]

    def fetch(self, folder, force=False):
        return keras_file(self.file, folder, MNIST_SHA256, force)

    def manual(self, folder):
        return f"put mnist.npz ({KERAS_DATASETS}mnist.npz) in {folder}/"
