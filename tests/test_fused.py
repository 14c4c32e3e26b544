import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, Build_Disc, Build_Gen
from gan_keras.training.noise import latent_noise
from tests.conftest import changed, constant_discriminator, weights


def _gan(**options):
    keras.utils.set_random_seed(0)
    gan = GAN(Build_Gen("dcgan", 16), Build_Disc("dcgan"), **options)
    gan.compile()
    return gan


def _data(n=64):
    images = np.random.default_rng(0).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(images).batch(32, drop_remainder=True).repeat()


@pytest.mark.slow
def test_train_step_updates_both_networks_and_reports_balance():
    gan = _gan()
    d_before, g_before = weights(gan.discriminator), weights(gan.generator)
    history = gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0)
    assert changed(d_before, weights(gan.discriminator)) and changed(g_before, weights(gan.generator))
    assert set(history.history) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
    for values in history.history.values():
        assert np.isfinite(values[0])
    assert int(gan.d_optimizer.iterations.numpy()) == int(gan.g_optimizer.iterations.numpy()) == 2


@pytest.mark.slow
def test_same_seed_same_losses_and_other_seed_differs():
    runs = [_gan(seed=s).fit(_data(), epochs=1, steps_per_epoch=3, verbose=0).history for s in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0]["g_loss"] != runs[2]["g_loss"]


@pytest.mark.slow
@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_the_train_step_scores_d_against_the_smoothed_target(real_label):
    """D fixed at logit b (learning rate 0): d_loss is exactly 0.5 * (BCE(real_label, b) + BCE(0, b))."""
    b = 1.5
    gan = GAN(Build_Gen("mlp", 8), constant_discriminator(b), real_label=real_label)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    d_loss = gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0).history["d_loss"][0]
    softplus = np.log1p(np.exp(b))
    np.testing.assert_allclose(d_loss, 0.5 * ((softplus - real_label * b) + softplus), rtol=1e-6)


def test_noise_is_a_function_of_seed_step_and_stream():
    a = latent_noise(1, 7, 4, 8)
    np.testing.assert_array_equal(a, latent_noise(1, 7, 4, 8))
    assert not np.array_equal(a, latent_noise(1, 8, 4, 8))
    assert not np.array_equal(a, latent_noise(1, 7, 4, 8, stream=1))
    assert not np.array_equal(a, latent_noise(2, 7, 4, 8))


def test_float16_policy_wraps_each_optimizer_in_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = GAN(Build_Gen("mlp", 8), Build_Disc("mlp"))
        gan.compile()
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert gan.d_optimizer is not gan.g_optimizer
        images = gan.generator(np.zeros((2, 8), "float32"))
        assert images.dtype == "float32" and gan.discriminator(images).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("share", [True, False])
def test_share_fakes_lets_d_and_g_steps_score_one_generated_batch(share):
    """With share_fakes, D's step trains on G's images of the G step's noise, and G's step scores those
    same images by the updated D; without it, D's step draws its own batch."""
    from gan_keras.training.noise import Stream

    rng = np.random.default_rng(0)
    D = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    D.layers[-1].set_weights([rng.normal(size=(16, 1)).astype("float32"), np.array([0.1], "float32")])
    gan = GAN(Build_Gen("mlp", 8, (4, 4, 1)), D, seed=3, share_fakes=share)
    gan.compile()
    real = tf.constant(rng.uniform(-1, 1, (6, 4, 4, 1)).astype("float32"))
    g_before, d_before = weights(gan.generator), weights(D)
    logs = gan.train_step(real)
    d_after = weights(D)
    gan.generator.set_weights(g_before)
    g_batch = gan.generator(latent_noise(3, 0, 6, 8, Stream.G_NOISE), training=True)
    softplus = tf.math.softplus
    D.set_weights(d_before)
    d_loss_on_g_batch = 0.5 * float(tf.reduce_mean(softplus(-D(real))) + tf.reduce_mean(softplus(D(g_batch))))
    D.set_weights(d_after)
    assert np.isclose(float(logs["g_loss"]), float(tf.reduce_mean(softplus(-D(g_batch)))), rtol=1e-5)
    assert np.isclose(float(logs["d_loss"]), d_loss_on_g_batch, rtol=1e-5) == share


@pytest.mark.slow
def test_lazy_r1_taken_as_its_own_gradient_is_the_same_update_and_runs_with_diffaugment(monkeypatch):
    """TensorFlow takes R1's gradient on its own inside the cond (a tf.cond cannot differentiate a
    gradient of an augmented D taken inside it); without augmentation, where both ways run, the
    update is the one of the penalty inside the loss."""
    from gan_keras.training.losses import R1

    def one_step(separate, augment):
        monkeypatch.setattr(R1, "separate", lambda self: separate)
        gan = _gan(r1=1.0, augment=augment)
        history = gan.fit(_data(), epochs=1, steps_per_epoch=1, verbose=0).history
        return weights(gan.discriminator), history["d_penalty"][0]

    (inline, inline_penalty), (apart, apart_penalty) = one_step(False, "none"), one_step(True, "none")
    assert inline_penalty > 0 and apart_penalty == pytest.approx(inline_penalty, rel=1e-5)
    for a, b in zip(inline, apart):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    gan = _gan(r1=1.0, augment="diffaug")  # raised "Could not find external tensor capture" before
    penalty = gan.fit(_data(), epochs=1, steps_per_epoch=2, verbose=0).history["d_penalty"][0]
    assert R1(1.0).separate() and np.isfinite(penalty) and penalty > 0
