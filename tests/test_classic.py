"""The Keras 3 freezing trap: ClassicGAN must update D in its D step and never in its combined step."""

import keras
import numpy as np
import pytest

from gan_keras import Build_Disc, Build_Gen, ClassicGAN, build_combined
from tests.conftest import changed, weights


def _spy(gan, log):
    """Record, for each D step and combined step, whether D's and G's weights changed."""
    D, G = gan.discriminator, gan.generator

    def wrap(name, fn):
        def step(*args, **kwargs):
            d_before, g_before = weights(D), weights(G)
            result = fn(*args, **kwargs)
            log.append((name, changed(d_before, weights(D)), changed(g_before, weights(G))))
            return result
        return step

    D.train_on_batch = wrap("d_step", D.train_on_batch)
    gan.combined.train_on_batch = wrap("combined_step", gan.combined.train_on_batch)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_d_updates_only_in_its_own_step_for_full_and_partial_batches(kind):
    gan = ClassicGAN(Build_Gen(kind, 16), Build_Disc(kind), label_noise=0.05)
    log = []
    _spy(gan, log)
    rng = np.random.default_rng(0)
    for batch in (128, 37, 128, 37):  # a partial batch retraces the train functions
        logs = gan.train_on_batch(rng.uniform(-1, 1, (batch, 28, 28, 1)).astype("float32"))
        assert set(logs) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
        assert all(np.isfinite(v) for v in logs.values())
    assert [entry[0] for entry in log] == ["d_step", "combined_step"] * 4
    for name, d_changed, g_changed in log:
        if name == "d_step":
            assert d_changed, "the discriminator step left D unchanged"
            assert not g_changed
        else:
            assert not d_changed, "the combined step changed D (weights or BatchNorm statistics)"
            assert g_changed


def test_the_keras2_pattern_trains_nothing_in_d_on_keras3():
    """Why ClassicGAN toggles the flag: freezing D once, Keras 2 style, silently stops D's training."""
    G, D = Build_Gen("mlp", 16), Build_Disc("mlp")
    D.compile(optimizer=keras.optimizers.Adam(2e-4, 0.5), loss="binary_crossentropy")
    build_combined(G, D)  # sets D.trainable = False, as the classic scripts do
    before = weights(D)
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        D.train_on_batch(np.zeros((37, 28, 28, 1), "float32"), np.ones((37, 1), "float32"))
    assert not changed(before, weights(D))


def test_combined_model_is_compiled_with_bce_and_frozen_d():
    G, D = Build_Gen("mlp", 16), Build_Disc("mlp")
    combined = build_combined(G, D)
    assert D.trainable is False
    assert "binary_crossentropy" in str(combined.loss)
    assert {id(v) for v in combined.trainable_variables} == {id(v) for v in G.trainable_variables}


@pytest.mark.slow
@pytest.mark.parametrize("options", [{}, {"real_label": 0.9}, {"label_noise": 0.2}])
def test_d_loss_is_the_cross_entropy_against_the_smoothed_and_flipped_targets(options):
    """D's loss of the first step is binary cross-entropy of its P(real) on [real; G(z)] against the
    targets the options make: 1 (or 0.9) for reals, 0 for fakes, a keyed share of them flipped."""
    from gan_keras.training.noise import Stream, latent_noise

    n, seed = 64, 5
    real = np.random.default_rng(0).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    gan = ClassicGAN(Build_Gen("mlp", 16), Build_Disc("mlp"), seed=seed, **options)
    fake = gan.generator.predict(latent_noise(seed, 0, n, 16, Stream.D_NOISE), batch_size=n, verbose=0)
    p = np.clip(np.asarray(gan.discriminator(np.concatenate([real, fake]), training=True)), 1e-7, 1 - 1e-7)
    real_label = options.get("real_label", 1.0)
    targets = np.concatenate([np.full((n, 1), real_label), np.zeros((n, 1))])
    if options.get("label_noise"):
        flip = np.random.default_rng([seed, 0, Stream.FLIP_REAL]).random((2 * n, 1)) < options["label_noise"]
        assert 10 < flip.sum() < 40  # about 0.2 of 128 flipped
        targets = np.where(flip, np.where(targets > 0, 0.0, real_label), targets)
    expected = -np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    np.testing.assert_allclose(gan.train_on_batch(real)["d_loss"], expected, rtol=1e-5)


@pytest.mark.slow
def test_fit_runs_callbacks_and_history():
    from gan_keras.data.pipeline import walk_batches

    gan = ClassicGAN(Build_Gen("mlp", 16), Build_Disc("mlp"))
    images = np.random.default_rng(0).uniform(-1, 1, (100, 28, 28, 1)).astype("float32")
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))))
    history = gan.fit(walk_batches(images, 32), epochs=2, steps_per_epoch=3, callbacks=[callback], verbose=0)
    assert [epoch for epoch, _ in seen] == [0, 1]
    assert len(history.history["d_loss"]) == 2 and "d_acc_fake" in seen[0][1]
