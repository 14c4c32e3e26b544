"""Trained networks shipped inside the package (package data, installed with the wheel).

Generators: one run folder each (`NAME/`: `config.json`; `weights.npz`, the networks G, D and the
EMA generator in float16, so that four fit in a few MB: sampling and fine-tuning read them; and
`CARD.md`, its model card: the command, steps, minutes, machine, metrics measured on the shipped
float16 weights, and the data's licence). Everything that reads a run folder also reads
`pretrained:NAME` (`gan_keras.runs.folder`):

    python -m gan_keras sample pretrained:anime64 --out faces.png
    python -m gan_keras train my_faces/ --init-from pretrained:anime64 --freeze-d 2
    >>> import gan_keras as gk
    >>> G = gk.load_generator("pretrained:anime64")

A run is packed (its optimizer state left out) with `python -m gan_keras pack RUN NAME`;
an encoder for it (`encoder.npz`, `encoder.json`, where `project` starts) with
`python -m gan_keras train-encoder pretrained:NAME --out gan_keras/pretrained/NAME`.

And the small digit classifiers whose penultimate layer is the domain-FID feature space
(`gan_keras.metrics.features.digit_classifier`), for MNIST and Fashion-MNIST, each with a card
(`classifier_NAME.json`: how it was trained, its test accuracy, the versions). With them, `evaluate`,
`--eval-every` and CI score digits at once instead of training a classifier first in every fresh
environment, and every machine scores with the same classifier.

Rebuild them (deterministic on one machine, about a minute each on 2 CPU cores):

    python -m gan_keras train-classifiers
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def classifier_files(name, folder=None):
    """(model, card) paths of the shipped digit classifier of dataset `name`."""
    folder = Path(folder) if folder is not None else FOLDER
    return folder / f"classifier_{name}.keras", folder / f"classifier_{name}.json"
