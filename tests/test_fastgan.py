"""FastGAN's recipe: the network family with skip-layer excitation, its self-supervised discriminator
(`--loss fastgan`), whose decoders train with D, are checkpointed, and resume exactly."""

import csv

import numpy as np
import pytest

from gan_keras import train
from tests.conftest import assert_one_line_error, run_cli_here

SMALL = dict(model="fastgan", width=4, batch_size=8, steps_per_epoch=2, limit=64, seed=3, verbose=0)


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
def test_a_fastgan_run_logs_its_reconstruction_and_resumes_exactly(tmp_path):
    train("anime", out=tmp_path / "straight", epochs=2, **SMALL)
    train("anime", out=tmp_path / "resumed", epochs=1, **SMALL)
    train(out=tmp_path / "resumed", resume=True, epochs=2, verbose=0)
    straight, resumed = _rows(tmp_path / "straight"), _rows(tmp_path / "resumed")
    keys = ("epoch", "d_loss", "g_loss", "d_penalty")  # d_penalty: the decoders' error, restored with them
    assert [{k: r[k] for k in keys} for r in straight] == [{k: r[k] for k in keys} for r in resumed]
    assert all(float(r["d_penalty"]) > 0 for r in straight)
    import json

    saved = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert (saved["chosen"]["loss"]["value"], saved["augment"]) == ("fastgan", "diffaug")


@pytest.mark.slow
def test_the_fastgan_loss_needs_the_fastgan_discriminator(tmp_path):
    done = run_cli_here("train", "anime", "--model", "dcgan", "--loss", "fastgan", "--limit", 64, "--epochs", 1,
                        "--steps-per-epoch", 1, "--out", tmp_path / "r")
    assert_one_line_error(done, "--model fastgan")
    assert_one_line_error(run_cli_here("train", "mnist", "--model", "fastgan", "--epochs", 1, "--out", tmp_path / "m"),
                          "64x64")
