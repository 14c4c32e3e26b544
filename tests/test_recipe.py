"""The modern recipe: losses, penalties, augmentation, ADA, EMA, and their exact resume."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, Build_Gen, UsageError, train
from gan_keras.runs.history import TIMING_COLUMNS
from gan_keras.training.augment import ADA, DiffAugment, get_augment, shift
from gan_keras.training.ema import GeneratorEMA
from gan_keras.training.losses import R1, GradientPenalty, get_loss
from tests.conftest import (
    assert_one_line_error,
    constant_discriminator,
    history,
    run_cli_here,
    weights,
)

REAL = tf.constant([[2.0], [-1.0], [0.5]])
FAKE = tf.constant([[0.3], [-2.0], [1.5]])


def _softplus(x):
    return np.log1p(np.exp(x))


def _bce(target, logits):  # -(t log s(x) + (1 - t) log(1 - s(x)))
    return _softplus(logits) - target * logits


def test_each_loss_matches_its_closed_form_on_fixed_logits():
    r, f = REAL.numpy()[:, 0], FAKE.numpy()[:, 0]
    expected = {
        "nonsaturating": (0.5 * (_bce(1, r).mean() + _bce(0, f).mean()), _softplus(-f).mean()),
        "hinge": (np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), -f.mean()),
        "lsgan": (0.5 * (((r - 1) ** 2).mean() + (f ** 2).mean()), 0.5 * ((f - 1) ** 2).mean()),
        "wgan-gp": (f.mean() - r.mean(), -f.mean()),
    }
    for name, (d, g) in expected.items():
        loss = get_loss(name)
        np.testing.assert_allclose(float(loss.d_loss(REAL, FAKE)), d, rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(float(loss.g_loss(FAKE)), g, rtol=1e-6, err_msg=name)


def test_label_smoothing_sets_a_floor_under_d_loss_equal_to_the_targets_entropy():
    """With target 1 a surer D always costs less (0 in the limit); with target 0.9 the least D can
    pay on reals is H(0.9), at P(real) = 0.9, and being surer costs more: D stops short of certainty."""
    loss = get_loss("nonsaturating")
    sure_fake = tf.fill((4, 1), -30.0)
    assert float(loss.d_loss(tf.fill((4, 1), 30.0), sure_fake)) < 1e-9
    entropy = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    at = {logit: float(loss.d_loss(tf.fill((4, 1), logit), sure_fake, real_target=0.9))
          for logit in (math.log(9) - 0.5, math.log(9), math.log(9) + 0.5, 30.0)}
    np.testing.assert_allclose(at[math.log(9)], 0.5 * entropy, rtol=1e-5)
    assert min(at, key=at.get) == math.log(9) and at[30.0] == pytest.approx(0.5 * 0.1 * 30, rel=1e-4)
    # lsgan: the floor is the squared distance to the target
    np.testing.assert_allclose(float(get_loss("lsgan").d_loss(tf.ones((4, 1)), tf.zeros((4, 1)), 0.9, 0.0)),
                               0.5 * 0.01, rtol=1e-5)


def _linear_d(image_shape=(4, 4, 1), seed=0):
    D = keras.Sequential([keras.Input(image_shape), keras.layers.Flatten(), keras.layers.Dense(1)])
    w = np.random.default_rng(seed).normal(size=(math.prod(image_shape), 1)).astype("float32")
    D.layers[-1].set_weights([w, np.array([0.3], "float32")])
    return D, w


def test_r1_is_the_analytic_gradient_norm_of_a_linear_d_and_lazy():
    D, w = _linear_d()
    real = tf.random.normal((5, 4, 4, 1))
    r1 = R1(gamma=2.0, every=16)
    expected = 0.5 * 2.0 * 16 * float((w ** 2).sum())  # grad_x (w.x + b) = w for every image
    np.testing.assert_allclose(float(r1(D, real, real, tf.constant(32, tf.int64), 0)), expected, rtol=1e-5)
    assert float(r1(D, real, real, tf.constant(33, tf.int64), 0)) == 0.0  # not a regularization step
    np.testing.assert_allclose(float(R1(2.0, every=1)(D, real, real, 5, 0)), expected / 16, rtol=1e-5)
    gp = GradientPenalty(10.0)(D, real, tf.zeros_like(real), tf.constant(3, tf.int64), 0)
    np.testing.assert_allclose(float(gp), 10.0 * (np.sqrt((w ** 2).sum()) - 1.0) ** 2, rtol=1e-4)


@pytest.mark.slow
def test_each_critic_step_draws_its_own_gradient_penalty_interpolation(monkeypatch):
    """With D(x) = sum(x^2) the penalty depends on where between real and fake it is taken, so it
    tells the draws apart: shift 0 is the closed form at the stream's own draw, shift 100 another one;
    and a --n-critic 2 step hands the penalty the shifts 0 and 100."""
    from gan_keras.training.noise import Stream, replica_uniform

    real, fake = tf.ones((4, 2, 2, 1)), -tf.ones((4, 2, 2, 1))
    def square(x):
        return tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]
    gp = GradientPenalty(1.0)

    def closed_form(shift):
        eps = replica_uniform(7, 5, 4, Stream.GRADIENT_PENALTY + shift).numpy()[:, 0]
        x_hat = 2 * eps - 1  # eps * 1 + (1 - eps) * -1, on each of the 4 pixels
        return np.mean((np.sqrt(4 * (2 * x_hat) ** 2) - 1) ** 2)

    step = tf.constant(5, tf.int64)
    first, second = float(gp(square, real, fake, step, 7)), float(gp(square, real, fake, step, 7, shift=100))
    np.testing.assert_allclose(first, closed_form(0), rtol=1e-5)
    np.testing.assert_allclose(second, closed_form(100), rtol=1e-5)
    assert abs(first - second) > 1e-3

    shifts = []
    call = GradientPenalty.__call__
    monkeypatch.setattr(GradientPenalty, "__call__", lambda self, run_d, real, fake, step, seed, shift=0: (
        shifts.append(shift) or call(self, run_d, real, fake, step, seed, shift)))
    gan = GAN(Build_Gen("mlp", 8, (4, 4, 1)), constant_discriminator(0.0, (4, 4, 1)), loss="wgan-gp", n_critic=2)
    gan.compile()
    gan.train_step(tf.zeros((4, 4, 4, 1)))
    assert shifts == [0, 100]


def _images(n=6, size=16, channels=3, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype("float32"))


@pytest.mark.slow
@pytest.mark.parametrize("augment", [DiffAugment(), ADA(p=1.0), ADA(p=0.5)])
def test_augmentations_keep_shape_are_finite_and_let_gradients_through(augment):
    x = _images()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment(x, tf.constant(3, tf.int64), stream=10, seed=1)
        total = tf.reduce_sum(y * tf.random.stateless_normal(tf.shape(y), seed=[1, 2]))
    grad = tape.gradient(total, x)
    assert y.shape == x.shape and y.dtype == x.dtype and np.all(np.isfinite(y))
    assert grad is not None and np.all(np.isfinite(grad)) and float(tf.reduce_sum(tf.abs(grad))) > 0
    changed = np.abs(np.asarray(y) - np.asarray(x)).reshape(len(x), -1).max(axis=1) > 1e-3
    if isinstance(augment, DiffAugment):  # cutout zeroes a square of half the size in every image
        zeros = (np.asarray(y) == 0).all(axis=-1).reshape(len(x), -1).sum(axis=1)
        assert np.all(zeros >= (x.shape[1] // 2) ** 2), zeros
    if isinstance(augment, ADA) and float(augment.p) == 1.0:
        assert changed.all()  # every transform on every image
    np.testing.assert_array_equal(y, augment(x, tf.constant(3, tf.int64), stream=10, seed=1))  # keyed draws
    assert not np.allclose(y, augment(x, tf.constant(4, tf.int64), stream=10, seed=1))  # another step, other draws


def test_geometric_transforms_keep_the_range_and_the_pixels():
    x = _images()
    moved = shift(x, tf.constant([2, 0, -1, 0, 0, 0]), tf.constant([0, 3, -1, 0, 0, 0]))
    assert float(tf.reduce_max(tf.abs(moved))) <= 1.0
    np.testing.assert_array_equal(moved[0, 2:], x[0, :-2])  # down 2: rows move, the top fills with 0
    np.testing.assert_array_equal(moved[0, :2], np.zeros_like(moved[0, :2]))
    np.testing.assert_array_equal(moved[1, :, 3:], x[1, :, :-3])
    np.testing.assert_array_equal(moved[3:], x[3:])  # no shift: unchanged


def test_ada_is_the_identity_at_p_zero():
    x = _images()
    np.testing.assert_array_equal(ADA(p=0.0)(x, tf.constant(5, tf.int64), 10, 0), x)
    np.testing.assert_array_equal(get_augment("none")(x, 5, 10, 0), x)


def test_ada_p_rises_when_d_is_sure_of_the_reals_and_falls_otherwise():
    ada = ADA(target=0.6, interval=4, kimg=1)
    sure = tf.fill((64, 1), 3.0)
    for _ in range(8):
        ada.update(sure, 64)
    assert float(ada.p) == pytest.approx(2 * 64 * 4 / 1000)  # two adjustments of batch * interval / 1000
    unsure = tf.constant([[1.0]] * 32 + [[-1.0]] * 32)  # E[sign] = 0 < 0.6
    for _ in range(4):
        ada.update(unsure, 64)
    assert float(ada.p) == pytest.approx(64 * 4 / 1000)
    for _ in range(100):
        ada.update(-sure, 64)
    assert float(ada.p) == 0.0  # clipped at 0


@pytest.mark.slow
def test_ema_after_k_steps_is_the_closed_form_mix():
    keras.utils.set_random_seed(0)
    G = Build_Gen("mlp", 8)
    ema = GeneratorEMA(G, decay=0.9)
    expected = [w.copy() for w in weights(G)]
    trainable = {id(v) for v in G.trainable_weights}
    rng = np.random.default_rng(0)
    for step in range(1, 5):
        for v in G.weights:
            v.assign(v + rng.normal(size=v.shape).astype("float32") * 0.1)
        ema.update(step)
        beta = min(0.9, 0.5 ** (1 / (0.05 * step)))
        expected = [beta * e + (1 - beta) * np.array(v) if id(v) in trainable else np.array(v)
                    for e, v in zip(expected, G.weights)]
    for got, want in zip(weights(ema.average), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert float(ema.beta(20)) == pytest.approx(0.5) and float(ema.beta(10**6)) == pytest.approx(0.9)


@pytest.mark.slow
@pytest.mark.parametrize("logit,acc_real,acc_fake", [(5.0, 1.0, 0.0), (-5.0, 0.0, 1.0)])
def test_accuracies_read_the_sign_of_the_logits(logit, acc_real, acc_fake):
    gan = GAN(Build_Gen("mlp", 8), constant_discriminator(logit))
    gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    data = tf.data.Dataset.from_tensors(tf.zeros((16, 28, 28, 1))).repeat()
    logs = gan.fit(data, epochs=1, steps_per_epoch=2, verbose=0).history
    assert logs["d_acc_real"] == [acc_real] and logs["d_acc_fake"] == [acc_fake]


@pytest.mark.slow
def test_grids_samples_and_generator_keras_come_from_the_ema_generator(tmp_path, digits_npz):
    from PIL import Image

    from gan_keras.images import image_grid

    run = tmp_path / "ema"
    result = train(str(digits_npz), out=run, model="mlp", ema=0.9, epochs=1, steps_per_epoch=4, verbose=0)
    gan = result.trainer
    assert gan.sampler is gan.ema.average
    saved = keras.saving.load_model(run / "generator.keras", compile=False)
    for a, b in zip(weights(saved), weights(gan.sampler)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(weights(gan.sampler), weights(gan.generator)))
    grid = np.asarray(Image.open(run / "samples" / "epoch-0001.png"))
    expected = image_grid(np.asarray(gan.sampler(np.load(run / "fixed_noise.npy"), training=False)), cols=8)
    np.testing.assert_array_equal(grid, expected[..., 0])
    reader = tf.train.load_checkpoint(str(run / "checkpoints"))
    names = reader.get_variable_to_shape_map()
    assert any(n.startswith("generator_ema/") for n in names) and any(n.startswith("generator/") for n in names)


RECIPES = {
    "ada+ema+r1": dict(augment="ada", ada_target=0.3, ema=0.99, r1=1.0, real_label=0.9, label_noise=0.05),
    "wgan-gp+diffaug+share-fakes": dict(loss="wgan-gp", n_critic=2, augment="diffaug", share_fakes=True),
    "hinge": dict(loss="hinge"),
    "stylegan+conditional+r1": dict(model="stylegan", conditional=True, r1=1.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_a_resumed_run_with_the_new_options_equals_the_uninterrupted_one(tmp_path, digits_npz, recipe):
    settings = {**dict(model="dcgan", width=8, batch_size=16, steps_per_epoch=5, seed=2, verbose=0), **RECIPES[recipe]}
    train(str(digits_npz), out=tmp_path / "straight", epochs=3, **settings)
    train(str(digits_npz), out=tmp_path / "resumed", epochs=2, **settings)
    train(out=tmp_path / "resumed", resume=True, epochs=3, verbose=0)
    a, b = history(tmp_path / "straight"), history(tmp_path / "resumed")
    columns = [c for c in a if c not in TIMING_COLUMNS]
    assert {c: a[c] for c in columns} == {c: b[c] for c in columns}
    assert (tmp_path / "straight" / "samples" / "epoch-0003.png").read_bytes() == \
        (tmp_path / "resumed" / "samples" / "epoch-0003.png").read_bytes()
    if recipe.startswith("ada"):
        assert a["ada_p"][-1] > 0  # target 0.3 is below E[sign(D(real))] of a D that learns: p rose
        reader = tf.train.load_checkpoint(str(tmp_path / "resumed" / "checkpoints"))
        p = [n for n in reader.get_variable_to_shape_map() if n.startswith("augment/p")]
        assert p and reader.get_tensor(p[0]) == pytest.approx(a["ada_p"][-1], rel=1e-5)
        assert "d_penalty" in a
    if recipe.startswith("wgan"):
        assert all(v > 0 for v in a["d_penalty"])
        config = json.loads((tmp_path / "straight" / "config.json").read_text())
        assert config["loss"] == "wgan-gp" and config["n_critic"] == 2


def test_classic_refuses_the_new_options_and_targets_need_a_loss_with_targets(tmp_path, digits_npz):
    from gan_keras.training.config import RunConfig, validate

    with pytest.raises(UsageError, match="--augment, --ema need the fused trainer"):
        validate(RunConfig(trainer="classic", augment="ada", ema=0.999))
    with pytest.raises(UsageError, match="--share-fakes needs the fused trainer"):
        validate(RunConfig(trainer="classic", share_fakes=True))
    validate(RunConfig(trainer="classic", share_fakes=False))  # what the classic loop does anyway
    assert_one_line_error(run_cli_here("train", digits_npz, "--trainer", "classic", "--loss", "hinge"),
                          "--loss needs the fused")
    assert_one_line_error(run_cli_here("train", digits_npz, "--loss", "hinge", "--real-label", "0.9"),
                          "which the hinge loss has none of")
    assert_one_line_error(run_cli_here("train", digits_npz, "--ema", "1.5"), "ema is a decay in (0, 1)")


@pytest.mark.slow
def test_a_small_training_set_is_scored_against_held_out_reals_with_d_accuracy_on_both(tmp_path, digits_npz):
    """--limit N leaves the images beyond N unseen: the metric compares with them, and D's accuracy
    on training and held-out reals (the overfitting gap) goes to history.csv."""
    result = train(str(digits_npz), out=tmp_path / "small", model="mlp", limit=100, eval_every=1, epochs=2,
                   steps_per_epoch=3, verbose=0)
    rows = history(tmp_path / "small")
    assert len(rows["eval_swd"]) == 2  # an .npz of digits is scored with SWD
    for key in ("eval_d_acc_train", "eval_d_acc_heldout"):
        assert all(0.0 <= v <= 1.0 for v in rows[key]), key
    from gan_keras.metrics.in_run import EvalMetric

    probe = EvalMetric(np.zeros((5, 28, 28, 1), np.uint8), "mnist", 1, heldout=np.full((7, 28, 28, 1), 255, np.uint8))
    probe.set_model(result.trainer)
    # A D fixed to say "real" for bright images only: all held-out (white) right, all training (black) wrong.
    result.trainer.discriminator = constant_discriminator(0.0)
    dense = result.trainer.discriminator.layers[-1]
    dense.set_weights([np.full((784, 1), 1.0, np.float32), np.array([-1.0], np.float32)])
    assert probe._d_accuracy(probe.heldout) == 1.0 and probe._d_accuracy(probe.train_real) == 0.0
