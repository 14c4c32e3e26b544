"""The relativistic loss, added through the registry alone: its closed form, the G step handing it
D's logits on the real batch, and `train --loss relativistic` from the command line."""

import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, Build_Gen, registry
from gan_keras.training.losses import get_loss
from tests.conftest import constant_discriminator, history, run_cli_here


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def test_the_relativistic_loss_is_its_closed_form():
    real, fake = np.array([[2.0], [0.5], [1.0]], "float32"), np.array([[-1.0], [0.3], [0.0]], "float32")
    loss = get_loss("relativistic")
    r_vs_f, f_vs_r = real - fake.mean(), fake - real.mean()
    d = _softplus(-r_vs_f).mean() + _softplus(f_vs_r).mean()  # BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x)
    g = _softplus(-f_vs_r).mean() + _softplus(r_vs_f).mean()
    np.testing.assert_allclose(float(loss.d_loss(tf.constant(real), tf.constant(fake))), d, rtol=1e-6)
    np.testing.assert_allclose(float(loss.g_loss(tf.constant(fake), tf.constant(real))), g, rtol=1e-6)
    assert registry.info("loss", "relativistic") == {"uses_targets": False, "g_sees_real": True}


def test_the_g_step_reads_d_on_the_real_batch():
    """G's reported loss is the closed form at D's logits on the real batch and on G's images of the
    step's own noise, which it can only be if the step handed the loss the real logits."""
    from gan_keras.training.noise import Stream, latent_noise

    rng = np.random.default_rng(0)
    D = constant_discriminator(0.0, (4, 4, 1))
    D.layers[-1].set_weights([rng.normal(size=(16, 1)).astype("float32"), np.array([0.5], "float32")])
    gan = GAN(Build_Gen("mlp", 8, (4, 4, 1)), D, loss="relativistic", seed=3)
    gan.compile()
    real = tf.constant(rng.uniform(-1, 1, (6, 4, 4, 1)).astype("float32"))
    g_before = [w.numpy() for w in gan.generator.weights]
    logs = gan.train_step(real)  # D steps first, then G reads the updated D
    after = [w.numpy() for w in gan.generator.weights]
    gan.generator.set_weights(g_before)
    fake = gan.generator(latent_noise(3, 0, 6, 8, Stream.G_NOISE), training=True)
    gan.generator.set_weights(after)
    real_logits, fake_logits = D(real).numpy(), D(fake).numpy()
    expected = (_softplus(-(fake_logits - real_logits.mean())).mean()
                + _softplus(real_logits - fake_logits.mean()).mean())
    np.testing.assert_allclose(float(logs["g_loss"]), expected, rtol=1e-5)


@pytest.mark.slow
def test_train_takes_the_new_loss_from_the_command_line(tmp_path, digits_npz):
    result = run_cli_here("train", digits_npz, "--loss", "relativistic", "--model", "mlp", "--epochs", "2",
                          "--steps-per-epoch", "5", "--batch-size", "16", "--out", tmp_path / "run", "--quiet")
    assert result.returncode == 0, result.stderr
    runs = history(tmp_path / "run")
    assert len(runs["g_loss"]) == 2 and all(np.isfinite(runs["g_loss"]))
