"""R3GAN's recipe: its networks (every residual block the identity at initialisation, the grouped
convolution the function of the dense one it stands for), the rpgan loss (R2's gradient is on the
generated images) and the schedules any model can use (their values at the start, half way and end)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.networks.build import Build_Disc, Build_Gen
from gan_keras.networks.grouped import IMPLEMENTATIONS, GroupedConv2D, block_diagonal


@pytest.mark.parametrize("how", IMPLEMENTATIONS)
def test_the_grouped_convolution_computes_the_function_of_the_dense_one_it_stands_for(how):
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 32)).astype("float32")
    grouped = GroupedConv2D(48, 3, groups=4, implementation=how, kernel_initializer="random_normal")
    y = np.asarray(grouped(x))
    dense = keras.layers.Conv2D(48, 3, padding="same", use_bias=False)
    dense.build(x.shape)
    dense.kernel.assign(block_diagonal(grouped.kernel, 4))
    np.testing.assert_allclose(y, np.asarray(dense(x)), atol=1e-4)
    kernel = np.asarray(block_diagonal(grouped.kernel, 4))  # group 1's inputs reach group 1's outputs only
    assert np.abs(kernel[:, :, 8:16, :12]).max() == 0 and np.abs(kernel[:, :, 8:16, 12:24]).max() > 0


def test_a_generator_with_grouped_convolutions_saves_as_keras_own_layers(tmp_path):
    from gan_keras.runs.checkpoints import save_generator

    G = Build_Gen("r3gan", 32, (16, 16, 3), width=8)
    save_generator(G, tmp_path / "generator.keras")
    loaded = keras.saving.load_model(tmp_path / "generator.keras", compile=False)
    assert not any(isinstance(layer, GroupedConv2D) for layer in loaded.layers)
    z = np.random.default_rng(1).normal(size=(2, 32)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(z)), np.asarray(G(z)), atol=1e-5)


def test_every_residual_block_is_the_identity_at_initialisation():
    G = Build_Gen("r3gan", 64, (32, 32, 3), width=8)
    D = Build_Disc("r3gan", (32, 32, 3), width=8)
    blocks = [layer for model in (G, D) for layer in model.layers if layer.name.endswith(("_block0",))]
    assert len(blocks) == 8
    x = np.random.default_rng(2).normal(size=(2, 64)).astype("float32")
    for model, inputs in ((G, x), (D, np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32"))):
        for block in (layer for layer in model.layers if layer.name.endswith("_block0")):
            probe = keras.Model(model.inputs, [block.input[0], block.output])
            before, after = probe(inputs)
            np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    assert np.isfinite(np.asarray(D(G(x)))).all()


def test_r3gan_resamples_with_the_121_filter():
    from gan_keras.networks.r3gan import Resample

    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    up = np.asarray(Resample(2)(x))[0, :, :, 0]
    assert up.shape == (8, 8) and up[0, 0] == x[0, 0, 0, 0] and up[0, 1] == (x[0, 0, 0, 0] + x[0, 0, 1, 0]) / 2
    down = np.asarray(Resample(0.5)(np.ones((1, 8, 8, 2), "float32")))
    assert down.shape == (1, 4, 4, 2) and down[0, 1, 1, 0] == pytest.approx(1.0)


def test_the_rpgan_loss_pairs_reals_with_fakes_and_r2_is_a_gradient_on_the_fakes():
    from gan_keras.training.losses import get_loss

    loss = get_loss("rpgan", gamma=4.0)
    real, fake = tf.constant([[1.0], [0.0]]), tf.constant([[0.0], [3.0]])
    expected_d = np.mean(np.log1p(np.exp([0.0 - 1.0, 3.0 - 0.0])))
    assert float(loss.d_loss(real, fake)) == pytest.approx(expected_d, rel=1e-5)
    assert float(loss.g_loss(fake, real)) == pytest.approx(np.mean(np.log1p(np.exp([1.0, -3.0]))), rel=1e-5)

    def run_d(x):  # D(x) = sum(w * x^2): grad = 2 w x, so ||grad||^2 = 4 w^2 sum(x^2)
        return tf.reduce_sum(3.0 * tf.square(x), axis=[1, 2, 3])[:, None]

    reals, fakes = tf.ones((2, 2, 2, 1)), 2.0 * tf.ones((2, 2, 2, 1))
    penalty = float(loss.penalty(run_d, reals, fakes, step=0, seed=0))
    r1, r2 = 4 * 9 * 4 * 1.0, 4 * 9 * 4 * 4.0  # per image: 4 pixels of x^2 = 1, then 4
    assert penalty == pytest.approx(0.5 * 4.0 * (r1 + r2))
    assert float(get_loss("rpgan", gamma=4.0).penalty(run_d, reals, 0.0 * fakes, 0, 0)) == pytest.approx(
        0.5 * 4.0 * r1)  # R2 reads the generated images, not the real ones


@pytest.mark.parametrize("shape, middle", [("linear", 1.1), ("cosine", 1.1)])
def test_each_schedule_starts_at_its_value_and_ends_at_its_end(shape, middle):
    from gan_keras.training.schedule import scheduled

    assert scheduled(2.0, 0.2, 0.0, shape=shape) == 2.0
    assert scheduled(2.0, 0.2, 0.5, shape=shape) == pytest.approx(middle)
    assert scheduled(2.0, 0.2, 1.0, shape=shape) == pytest.approx(0.2)
    assert scheduled(2.0, 0.2, 0.25, shape="cosine") > scheduled(2.0, 0.2, 0.25, shape="linear")  # slow at first


def test_a_run_schedules_the_rate_beta2_gamma_the_average_and_augmentation(tmp_path):
    from gan_keras.runs.config import checked_config
    from gan_keras.runs.train import build_trainer
    from gan_keras.training.distribute import make_strategy
    from gan_keras.training.schedule import RunSchedule, schedules_of

    config = checked_config(None, False, dict(
        dataset="anime", model="r3gan", width=4, image_size=16, lr=2e-4, lr_decay_start=0.0, lr_end=0.25,
        schedule="cosine", beta_2=0.9, beta_2_end=0.99, gamma=2.0, gamma_end=0.2, ema=0.99, ema_end=0.999,
        augment="ada", augment_p_end=0.3, mixed_precision="off", epochs=4))
    trainer = build_trainer(config, (16, 16, 3), make_strategy("default", verbose=False))
    found = schedules_of(config, trainer)
    assert set(found) == {"lr", "beta_2", "gamma", "ema", "augment_p"}
    schedule = RunSchedule(found, config.lr_decay_start, config.schedule, epochs=4)
    values = []
    for epoch in (0, 2, 4):
        schedule.on_epoch_begin(epoch)
        values.append((float(trainer.g_optimizer.learning_rate), float(trainer.g_optimizer._beta_2()),
                       float(trainer.gan_loss.penalty.gamma), float(trainer.ema.decay),
                       float(trainer.augmenter.p)))
    np.testing.assert_allclose(values, [(2e-4, 0.9, 2.0, 0.99, 0.0), (1.25e-4, 0.945, 1.1, 0.9945, 0.15),
                                        (5e-5, 0.99, 0.2, 0.999, 0.3)], rtol=1e-5)


def test_a_schedule_of_a_setting_that_is_off_is_one_line():
    from tests.conftest import assert_one_line_error, run_cli_here

    assert_one_line_error(run_cli_here("train", "mnist", "--gamma-end", "0.2"), "--gamma-end schedules the gamma")
    assert_one_line_error(run_cli_here("train", "mnist", "--augment-p-end", "0.3"), "--augment ada")
    assert_one_line_error(run_cli_here("train", "mnist", "--ema-end", "0.9999", "--ema", "0"), "give --ema too")


@pytest.mark.slow
def test_r3gan_trains_with_rpgan_and_its_schedules_and_resumes(tmp_path):
    from gan_keras import train

    settings = dict(model="r3gan", width=4, image_size=16, batch_size=8, steps_per_epoch=2, lr_decay_start=0.0,
                    schedule="cosine", beta_2=0.9, beta_2_end=0.99, gamma_end=0.2, limit=200, verbose=0)
    result = train("anime", out=tmp_path / "r", epochs=2, **settings)
    assert result.epochs_done == 2 and (tmp_path / "r" / "generator.keras").is_file()
    config = __import__("json").loads((tmp_path / "r" / "config.json").read_text())
    assert config["loss"] in (None, "rpgan") and config["chosen"].get("loss", {"value": "rpgan"})["value"] == "rpgan"
    resumed = train(out=tmp_path / "r", resume=True, epochs=3, verbose=0)
    assert resumed.epochs_done == 3 and np.isfinite(resumed.history["d_loss"]).all()
    assert resumed.history["gamma"][-1] < 2.0
