"""The old spelling, kept as an alias: `python -m gan_keras.pretrained pack RUN NAME ...` is
`python -m gan_keras pack RUN NAME ...`, and `python -m gan_keras.pretrained classifiers` is
`python -m gan_keras train-classifiers`."""

import sys

from gan_keras.cli import main

argv = sys.argv[1:]
if argv[:1] == ["classifiers"]:
    argv = ["train-classifiers", *argv[1:]]
sys.exit(main(argv))
