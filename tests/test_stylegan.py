"""The style-based generator: its layers, the latent tools in w, saving and sampling."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.networks.build import Build_Disc, Build_Gen
from gan_keras.networks.stylegan import (
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
    StyleMixing,
)
from gan_keras.runs.train import train
from gan_keras.tools import latent
from gan_keras.tools.sample import generate
from gan_keras.training.noise import latent_noise
from tests.conftest import ROOT, assert_one_line_error, run_cli_here


@pytest.fixture(scope="module")
def G():
    keras.utils.set_random_seed(0)
    return Build_Gen("stylegan", 16, (28, 28, 1), width=8)


def test_demodulation_keeps_unit_variance_whatever_the_style():
    keras.utils.set_random_seed(1)
    x = tf.random.normal((16, 8, 8, 32))
    w = 3.0 * tf.random.normal((16, 24))  # strong, varied styles
    for demodulate, expect_unit in ((True, True), (False, False)):
        conv = ModulatedConv2D(32, 3, demodulate=demodulate)
        y = np.asarray(conv([x, w]))[:, 2:-2, 2:-2]  # inside: zero padding lowers the border's variance
        variance = y.var(axis=(1, 2)).mean()
        assert (abs(variance - 1) < 0.15) == expect_unit, (demodulate, variance)


def test_the_mapping_network_treats_each_sample_alone(G):
    z = latent_noise(0, 0, 8, 16).numpy()
    np.testing.assert_allclose(latent.to_w(G, z[:1]), latent.to_w(G, z)[:1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(latent.to_w(G, z[3:5]), latent.to_w(G, z)[3:5], rtol=1e-5, atol=1e-6)


def test_style_mixing_with_the_same_w_twice_is_no_mixing(G):
    w = latent.to_w(G, latent_noise(0, 0, 4, 16).numpy())
    ws = latent.broadcast(w, latent.num_ws(G))
    for group in ("coarse", "middle", "fine"):
        np.testing.assert_array_equal(latent.mix_styles(ws, ws, group), ws)
    other = latent.broadcast(w[::-1], latent.num_ws(G))
    fine = latent.mix_styles(ws, other, "fine")
    assert not np.allclose(latent.synthesize(G, fine), latent.synthesize(G, ws))
    same_rows = tf.constant(np.repeat(ws[:1], 4, axis=0))  # the training-time layer: another sample's w
    np.testing.assert_array_equal(StyleMixing(1.0)(same_rows, training=True), same_rows)
    mixed = np.asarray(StyleMixing(1.0)(tf.constant(ws), training=True))
    assert not np.array_equal(mixed, ws) and np.array_equal(mixed[:, 0], ws[:, 0])  # layer 0 is never mixed
    np.testing.assert_array_equal(StyleMixing(1.0)(tf.constant(ws), training=False), ws)


@pytest.mark.slow
def test_truncation_one_is_the_identity_and_zero_the_mean_image(G):
    np.testing.assert_allclose(generate(G, 6, truncation=1.0), generate(G, 6), atol=1e-6)
    middle = generate(G, 6, truncation=0.0)
    mean_image = latent.synthesize(G, latent.mean_w(G)[None])
    np.testing.assert_allclose(middle, np.repeat(mean_image, 6, axis=0), atol=1e-5)
    half = generate(G, 6, truncation=0.5)
    assert middle.std(axis=0).mean() < half.std(axis=0).mean() < generate(G, 6).std(axis=0).mean()


def test_noise_is_fresh_in_training_fixed_in_inference_and_reproducible():
    layer = NoiseInjection(salt=3)
    x = tf.random.normal((2, 6, 6, 4))
    layer.build(x.shape)
    layer.strength.assign(1.0)
    a, b = layer(x, training=True), layer(x, training=True)
    np.testing.assert_array_equal(a, b)  # the same step's tensors: the same draw (exact resume)
    assert not np.allclose(layer(x + 1.0, training=True) - (x + 1.0), a - x)  # other tensors, other noise
    fixed = np.asarray(layer(x) - x)
    np.testing.assert_allclose(fixed[0], fixed[1], atol=1e-6)  # inference: the layer's one buffer
    np.testing.assert_allclose(fixed[0, ..., 0], np.asarray(layer.fixed_noise)[0, ..., 0], atol=1e-6)


def test_minibatch_stddev_appends_the_batch_spread():
    x = tf.concat([tf.zeros((4, 3, 3, 2)), tf.ones((4, 3, 3, 2))], axis=0)  # groups of 4 pair i with i + 2
    out = np.asarray(MinibatchStdDev(4)(x))
    assert out.shape == (8, 3, 3, 3)
    np.testing.assert_allclose(out[..., 2], 0.5, atol=1e-3)  # each group holds two 0s and two 1s: std 0.5
    np.testing.assert_allclose(np.asarray(MinibatchStdDev(4)(tf.zeros((7, 3, 3, 2))))[..., 2], 0, atol=1e-3)


@pytest.mark.slow
def test_a_saved_style_generator_loads_in_a_fresh_process_and_draws_the_same(tmp_path, G):
    G.save(tmp_path / "g.keras")
    z = latent_noise(0, 0, 4, 16).numpy()
    np.save(tmp_path / "z.npy", z)
    program = ("import numpy as np, keras\n"
               "import gan_keras.networks  # registers the custom layers, as load_generator does\n"
               f"G = keras.saving.load_model(r'{tmp_path / 'g.keras'}', compile=False)\n"
               f"np.save(r'{tmp_path / 'out.npy'}', np.asarray(G(np.load(r'{tmp_path / 'z.npy'}'), training=False)))\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.asarray(G(z, training=False)))


@pytest.mark.slow
def test_stylegan_trains_conditionally_and_samples_with_truncation(tmp_path, digits_npz):
    run = tmp_path / "style"
    result = train(str(digits_npz), out=run, model="stylegan", conditional=True, width=8, batch_size=16, epochs=1,
                   steps_per_epoch=3, verbose=0)
    assert result.trainer.ema is not None  # StyleGAN keeps a moving average by default
    done = run_cli_here("sample", run, "--class", 4, "--truncation", 0.7, "--n", 8, "--out", tmp_path / "fours.npz")
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "fours.npz") as f:
        assert f["images"].shape == (8, 28, 28) and list(f["labels"]) == [4] * 8
    D = Build_Disc("stylegan", (28, 28, 1), width=8, num_classes=10)
    assert D([tf.zeros((2, 28, 28, 1)), tf.constant([1, 2])]).shape == (2, 1)


@pytest.mark.slow
def test_truncation_needs_a_style_based_run(tmp_path, digits_npz):
    run = tmp_path / "plain"
    train(str(digits_npz), out=run, model="mlp", epochs=1, steps_per_epoch=1, verbose=0)
    assert_one_line_error(run_cli_here("sample", run, "--truncation", 0.7, "--out", tmp_path / "x.png"),
                          "--truncation needs a style-based generator")
