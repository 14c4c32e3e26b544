"""The encoder (`train-encoder`, `tools.encoder`): trained on a linear G it recovers the latents; saved
and loaded with the generator it belongs to; `project` starts from it (`--steps 0`: the encoder
alone); a conditional z-space G and a missing encoder refused in one line."""

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, run_cli_here


def linear_generator(latent_dim=4, size=8, seed=0):
    """G(z) = A z reshaped to a size x size grey image: its latent is exactly recoverable."""
    import keras

    keras.utils.set_random_seed(seed)
    z = keras.Input((latent_dim,))
    x = keras.layers.Dense(size * size, use_bias=False,
                           kernel_initializer=keras.initializers.RandomNormal(stddev=0.3))(z)
    return keras.Model(z, keras.layers.Reshape((size, size, 1))(x), name="linear")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from gan_keras.tools.encoder import save_encoder, train_encoder

    G = linear_generator()
    encoder, log = train_encoder(G, steps=400, batch_size=64, width=8, lr=3e-3, verbose=0, log_every_s=1e9)
    folder = tmp_path_factory.mktemp("encoder")
    save_encoder(encoder, folder, G, log, width=8)
    return G, encoder, log, folder


def test_an_encoder_of_a_linear_generator_recovers_its_latents(trained):
    from gan_keras.tools.encoder import encode

    G, encoder, log, _ = trained
    assert log[0]["latent_error"] > 0.5 and log[-1]["latent_error"] < 0.05, log
    assert log[-1]["step"] == 400 and log[-1]["psnr"] > log[0]["psnr"] + 10
    z = np.random.default_rng(5).standard_normal((32, 4)).astype(np.float32)  # latents it never saw
    found = encode(encoder, np.asarray(G(z)))
    assert np.mean((found - z) ** 2) < 0.05, np.mean((found - z) ** 2)


def test_a_saved_encoder_loads_for_its_generator_only(trained):
    from gan_keras.errors import UsageError
    from gan_keras.tools.encoder import encode, load_encoder

    G, encoder, _, folder = trained
    images = np.asarray(G(np.ones((3, 4), np.float32)))
    loaded = load_encoder(folder, G)
    np.testing.assert_allclose(encode(loaded, images), encode(encoder, images), atol=0.02)  # float16 weights
    with pytest.raises(UsageError, match="another generator"):
        load_encoder(folder, linear_generator(seed=1))
    assert load_encoder(folder.parent / "nowhere", G) is None


def test_projection_starts_from_the_encoder(trained):
    from gan_keras.tools.encoder import encode
    from gan_keras.tools.projection import project

    G, encoder, _, _ = trained
    z = np.random.default_rng(6).standard_normal((4, 4)).astype(np.float32)
    z *= 2 / np.linalg.norm(z, axis=1, keepdims=True)  # on the shell |z| = sqrt(4) that projection's prior keeps
    targets = np.asarray(G(z))
    alone = project(G, targets, steps=0, distance="pixel", init=encode(encoder, targets), verbose=0)
    random = project(G, targets, steps=0, distance="pixel", verbose=0)
    assert alone.psnr.mean() > random.psnr.mean() + 10, (alone.psnr, random.psnr)
    refined = project(G, targets, steps=30, starts=2, distance="pixel", init=encode(encoder, targets), verbose=0)
    assert refined.psnr.mean() >= alone.psnr.mean() - 0.5


@pytest.mark.slow
def test_train_encoder_and_project_from_the_command_line(tmp_path):
    from PIL import Image

    from gan_keras.data.load import load_digits
    from gan_keras.tools.encoder import ENCODER_CARD, ENCODER_WEIGHTS

    Image.fromarray(load_digits("mnist")[0][-1]).save(tmp_path / "digit.png")
    done = run_cli_here("train-encoder", "pretrained:mnist", "--out", tmp_path / "enc", "--steps", 5, "--quiet")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "enc" / ENCODER_WEIGHTS).is_file() and (tmp_path / "enc" / ENCODER_CARD).is_file()
    assert "latent error" in done.stdout
    alone = run_cli_here("project", "pretrained:mnist", tmp_path / "digit.png", "--encoder", tmp_path / "enc",
                         "--steps", 0, "--no-tune", "--out", tmp_path / "p")
    assert alone.returncode == 0, alone.stderr
    with np.load(tmp_path / "p" / "latents.npz") as saved:
        assert saved["latents"].shape == (1, 100) and np.isfinite(saved["psnr"]).all()
    assert_one_line_error(run_cli_here("project", "pretrained:mnist", tmp_path / "digit.png", "--encoder", "none",
                                       "--steps", 0, "--out", tmp_path / "q"), "encoder alone")
    assert_one_line_error(run_cli_here("project", "pretrained:mnist", tmp_path / "digit.png", "--encoder",
                                       tmp_path / "nothing", "--out", tmp_path / "r"), "no encoder")
    assert_one_line_error(run_cli_here("train-encoder", "pretrained:mnist", "--steps", 1), "--out")
    assert_one_line_error(run_cli_here("train-encoder", "pretrained:mnist_conditional", "--out", tmp_path / "c",
                                       "--steps", 1), "needs its class")


def test_a_style_based_encoder_predicts_w_and_projection_starts_there():
    from gan_keras.networks.build import Build_Gen
    from gan_keras.tools import latent
    from gan_keras.tools.encoder import encode, train_encoder
    from gan_keras.tools.projection import project

    G = Build_Gen("stylegan", 16, (16, 16, 3), width=8)
    encoder, log = train_encoder(G, steps=3, batch_size=4, width=8, verbose=0, log_every_s=1e9)
    targets = latent.render(G, latent.random_latents(G, 2, seed=4, space="w"), "w")
    w = encode(encoder, targets)
    assert w.shape == (2, latent.latent_size(G, "w")) and log[-1]["step"] == 3
    alone = project(G, targets, steps=0, distance="pixel", init=w, verbose=0)
    np.testing.assert_allclose(alone.latents, w)  # in w the encoder's latent is the only start
    assert project(G, targets, steps=2, space="w+", distance="pixel", init=w, verbose=0).latents.shape == (
        2, latent.num_ws(G), w.shape[1])
