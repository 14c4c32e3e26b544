"""Pivotal Tuning Inversion (`project --tune`, `projection.tune`): G fine-tuned to draw the target from
its pivot, near-exactly where the target is G's own; unchanged away from the pivot within a stated
tolerance thanks to the locality term; the projection folder a run folder of the tuned G."""

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, run_cli_here

DRIFT_TOLERANCE = 0.1  # mean |difference| on random latents, images in [-1, 1] (5% of the range), 100 steps


@pytest.fixture(scope="module")
def mnist_generator():
    from gan_keras.runs.loading import load_generator

    return load_generator("pretrained:mnist")


def _pivot(generator, latents, targets):
    from gan_keras.images import psnr_ssim
    from gan_keras.tools import latent
    from gan_keras.tools.projection import Projection

    images = latent.render(generator, latents, "z")
    return Projection(latents, "z", images, targets, None, *psnr_ssim(images, targets), "given")


@pytest.mark.slow
def test_tuning_on_a_target_g_drew_itself_reaches_near_exact_psnr(mnist_generator):
    from gan_keras.tools import latent
    from gan_keras.tools.projection import tune

    rng = np.random.default_rng(0)
    truth = rng.standard_normal((2, 100)).astype(np.float32)
    targets = latent.render(mnist_generator, truth, "z")
    pivots = _pivot(mnist_generator, truth + 0.6 * rng.standard_normal(truth.shape).astype(np.float32), targets)
    _, tuned = tune(mnist_generator, pivots, steps=300, distance="pixel", locality=0)
    assert pivots.psnr.mean() < 20 and tuned.psnr.min() > 30, (pivots.psnr, tuned.psnr)


@pytest.mark.slow
def test_the_locality_term_keeps_g_unchanged_away_from_the_pivot(mnist_generator):
    from gan_keras.data.load import load_digits
    from gan_keras.tools.projection import tune

    digit = load_digits("mnist")[0][-1:, :, :, None].astype(np.float32) / 127.5 - 1  # not a G sample
    pivots = _pivot(mnist_generator, np.random.default_rng(1).standard_normal((1, 100)).astype(np.float32), digit)
    _, kept = tune(mnist_generator, pivots, steps=100, locality=1.0)
    _, free = tune(mnist_generator, pivots, steps=100, locality=0.0)
    assert kept.extra["drift"] < DRIFT_TOLERANCE
    assert kept.extra["drift_near"] < 0.5 * free.extra["drift_near"]  # what the term is for: G around the pivot
    assert kept.psnr[0] > pivots.psnr[0] + 5


@pytest.mark.slow
def test_project_tune_makes_the_folder_a_run_of_the_tuned_generator(tmp_path):
    from PIL import Image

    from gan_keras.data.load import load_digits
    from gan_keras.runs.loading import load_generator
    from gan_keras.tools import latent

    Image.fromarray(load_digits("mnist")[0][-2]).save(tmp_path / "digit.png")
    out = tmp_path / "mine"
    done = run_cli_here("project", "pretrained:mnist", tmp_path / "digit.png", "--steps", 20, "--starts", 2,
                        "--distance", "pixel", "--tune", "--tune-steps", 40, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "tuned G on the pivots" in done.stdout
    tuned = load_generator(out)
    latents, space, _ = latent.load_latents(out / "latents.npz", tuned)  # they belong to the tuned G
    with np.load(out / "latents.npz") as saved:
        drawn = latent.render(tuned, latents, space)
        assert float(saved["psnr"][0]) > 15
    assert run_cli_here("sample", out, "--n", 4, "--out", tmp_path / "s.png").returncode == 0
    assert drawn.shape == (1, 28, 28, 1)
    assert run_cli_here("directions", out, "--k", 2, "--out", tmp_path / "dirs").returncode == 0
    edited = run_cli_here("edit", out, "--latents", out / "latents.npz", "--direction",
                          tmp_path / "dirs" / "directions.npz:0", "--amounts", "0", "--out", tmp_path / "e.npz")
    assert edited.returncode == 0, edited.stderr
    from gan_keras.images import to_uint8

    with np.load(tmp_path / "e.npz") as e:  # amount 0: the tuned reconstruction itself
        assert np.abs(e["images"][0].reshape(drawn[0].shape).astype(int) - to_uint8(drawn)[0]).max() <= 1
    assert_one_line_error(run_cli_here("edit", "pretrained:mnist", "--latents", out / "latents.npz", "--direction",
                                       tmp_path / "dirs" / "directions.npz:0", "--out", tmp_path / "f.png"),
                          "another generator")
    assert_one_line_error(run_cli_here("project", "pretrained:mnist", tmp_path / "digit.png", "--tune",
                                       "--tune-steps", 0, "--out", tmp_path / "x"), "--tune-steps")


def test_the_identity_measure_of_edits_knows_an_unchanged_and_an_inert_generator(mnist_generator):
    import keras

    from gan_keras.tools import latent
    from gan_keras.tools.directions import sefa
    from gan_keras.tools.edit import edits_keep_identity

    pivots = latent.random_latents(mnist_generator, 8, seed=3)
    targets = latent.render(mnist_generator, pivots, "z")
    found = sefa(mnist_generator, k=2)
    same = edits_keep_identity(mnist_generator, mnist_generator, pivots, targets, found, n=32)
    np.testing.assert_allclose(same["ssim_tuned"], same["ssim_untuned"])
    assert np.all(same["ssim_tuned"] < 0.9) and np.all((0.5 < same["strength"]) & (same["strength"] < 2))
    z = keras.Input((100,))  # a "tuned" G that draws the targets' mean whatever the latent: edits do nothing
    constant = keras.layers.Lambda(lambda x: 0 * x[:, :1, None, None] + np.mean(targets, 0))(z)
    inert = edits_keep_identity(mnist_generator, keras.Model(z, constant), pivots, targets, found, n=32)
    np.testing.assert_allclose(inert["strength"], 0, atol=1e-6)


def test_ssim_in_keras_ops_equals_tensorflows():
    """`images.ssim`, what projection and psnr_ssim use off TensorFlow, is `tf.image.ssim`'s function."""
    import tensorflow as tf

    from gan_keras.images import ssim

    rng = np.random.default_rng(0)
    x = rng.random((3, 32, 32, 3)).astype("float32")
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype("float32")
    for window in (11, 7):
        want = tf.image.ssim(x, y, max_val=1.0, filter_size=window).numpy()
        np.testing.assert_allclose(np.asarray(ssim(x, y, 1.0, window)), want, rtol=1e-5, atol=1e-6)
    assert float(np.asarray(ssim(x, x, 1.0, 11)).min()) > 0.9999 > float(np.asarray(ssim(x, y, 1.0, 11)).max())
