"""FastGAN's recipe: the network family with skip-layer excitation, its self-supervised discriminator
(`--loss fastgan`), whose decoders train with D and are checkpointed with it."""

import csv

import numpy as np
import pytest

from gan_keras import train
from tests.conftest import assert_one_line_error, run_cli_here

SMALL = {"model": "fastgan", "width": 4, "batch_size": 8, "steps_per_epoch": 2, "limit": 64, "seed": 3, "verbose": 0}


def _rows(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_self_supervision_decodes_real_images_and_trains_its_decoders_with_d():
    import tensorflow as tf

    from gan_keras import GAN, Build_Disc, Build_Gen

    gan = GAN(Build_Gen("fastgan", 16, (64, 64, 3), 4), Build_Disc("fastgan", (64, 64, 3), 4), loss="fastgan")
    gan.compile()
    supervision = gan.regularizers[0]
    decoders = [w.numpy().copy() for w in supervision.trainable_weights]
    assert len(gan.d_variables()) == len(gan.discriminator.trainable_weights) + len(decoders) > len(decoders)
    real = tf.random.uniform((8, 64, 64, 3), -1, 1, seed=1)
    error = float(supervision(None, real, None, tf.constant(0, tf.int64), 0))
    assert 0 < error < 8  # two mean squared errors of images in [-1, 1]
    gan.train_step(real)
    assert any(not np.array_equal(before, after.numpy())
               for before, after in zip(decoders, supervision.trainable_weights))


@pytest.mark.slow
def test_a_fastgan_run_logs_its_reconstruction_and_chooses_its_recipe(tmp_path):
    import json

    train("anime", out=tmp_path / "run", epochs=1, **SMALL)
    assert all(float(r["d_penalty"]) > 0 for r in _rows(tmp_path / "run"))  # the decoders' error
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["chosen"]["loss"]["value"], saved["augment"]) == ("fastgan", "diffaug")


@pytest.mark.slow
def test_the_decoders_are_checkpointed_with_d(tmp_path):
    import tensorflow as tf

    from gan_keras import GAN, Build_Disc, Build_Gen
    from gan_keras.runs.checkpoints import RunCheckpoint

    def fastgan():
        gan = GAN(Build_Gen("fastgan", 16, (64, 64, 3), 4), Build_Disc("fastgan", (64, 64, 3), 4), loss="fastgan")
        gan.compile()
        return gan

    trained = fastgan()
    trained.train_step(tf.random.uniform((4, 64, 64, 3), -1, 1, seed=2))
    RunCheckpoint(tmp_path, trained).save(epoch=1)
    restored = fastgan()
    RunCheckpoint(tmp_path, restored).restore()
    for a, b in zip(trained.regularizers[0].trainable_weights, restored.regularizers[0].trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_the_fastgan_loss_needs_the_fastgan_discriminator(tmp_path):
    done = run_cli_here("train", "anime", "--model", "dcgan", "--loss", "fastgan", "--limit", 64, "--epochs", 1,
                        "--steps-per-epoch", 1, "--out", tmp_path / "r")
    assert_one_line_error(done, "--model fastgan")
    assert_one_line_error(run_cli_here("train", "mnist", "--model", "fastgan", "--epochs", 1, "--out", tmp_path / "m"),
                          "64x64")
