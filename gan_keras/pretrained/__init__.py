"""Trained networks shipped inside the package (package data, installed with the wheel).

Today: the small digit classifiers whose penultimate layer is the domain-FID feature space
(`gan_keras.metrics.digit_classifier`), for MNIST and Fashion-MNIST, each with a card
(`classifier_NAME.json`: how it was trained, its test accuracy, the versions). With them, `evaluate`,
`--eval-every` and CI score digits at once instead of training a classifier first in every fresh
environment, and every machine scores with the same classifier.

Rebuild them (deterministic on one machine, about a minute each on 2 CPU cores):

    python -m gan_keras.pretrained
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def classifier_files(name, folder=None):
    """(model, card) paths of the shipped digit classifier of dataset `name`."""
    folder = Path(folder) if folder is not None else FOLDER
    return folder / f"classifier_{name}.keras", folder / f"classifier_{name}.json"
