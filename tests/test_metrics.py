import json

import numpy as np
import pytest
import scipy.linalg

from gan_keras import load_images
from gan_keras.metrics.distances import (
    fid,
    frechet_distance,
    kid,
    precision_recall,
    swd,
)
from gan_keras.metrics.evaluate import score
from gan_keras.metrics.features import at_common_size, feature_extractor


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    v1, v2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu1, np.diag(v1), mu1, np.diag(v1)) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 20, 20))
    s1, s2 = a @ a.T + np.eye(20), b @ b.T + np.eye(20)
    mu1, mu2 = rng.normal(size=20), rng.normal(size=20)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_kid_and_precision_recall_on_gaussian_features():
    rng = np.random.default_rng(2)
    real, same, shifted = rng.normal(size=(3, 1500, 16))
    assert abs(kid(real, same, subset_size=500)) < 0.01
    assert kid(real, shifted + 3) > 1.0
    precision, recall = precision_recall(real, same)
    assert precision > 0.7 and recall > 0.7  # k=3 manifolds of 1,500 points in 16-d miss some of a twin
    shifted_precision, _ = precision_recall(real, shifted + 2)
    assert shifted_precision < 0.2
    collapsed = real[:5].repeat(300, axis=0) + rng.normal(scale=0.01, size=(1500, 16))
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.1  # good samples, but only five modes


@pytest.fixture(scope="module")
def digits():
    return load_images("mnist")[:, :, :, :]


@pytest.mark.slow
def test_domain_fid_real_vs_real_near_zero_noise_far(digits):
    extractor = feature_extractor("mnist")
    a, b = extractor(digits[:2000]), extractor(digits[-2000:])
    noise = extractor(np.random.default_rng(0).integers(0, 256, (2000, 28, 28, 1), dtype=np.uint8))
    assert a.shape == (2000, 128)
    real_vs_real, noise_vs_real = fid(a, b), fid(a, noise)
    assert abs(kid(a, b)) < 0.05 * kid(a, noise)  # KID in the same feature space
    assert real_vs_real < 5.0  # about 3 at 2,000 samples (0.5 at 10,000): the small-sample bias
    assert noise_vs_real > 40 * real_vs_real


@pytest.mark.slow
def test_domain_precision_recall_of_one_repeated_class(digits):
    from gan_keras.data.load import load_digits

    labels = load_digits("mnist")[1]
    ones = digits[labels == 1][:1000]
    real = digits[:1000]
    pr = score(real, ones, "mnist", "pr")
    assert pr["recall"] < 0.3 and pr["precision"] > 0.5
    pr_real = score(real, digits[-1000:], "mnist", "pr")
    assert pr_real["recall"] > 0.6 and pr_real["precision"] > 0.6


@pytest.mark.slow
def test_swd_real_vs_real_small_noise_far():
    faces = load_images("anime")
    real_vs_real = swd(faces[:500], faces[-500:])
    noise = np.random.default_rng(0).integers(0, 256, (500, 64, 64, 3), dtype=np.uint8)
    noise_vs_real = swd(faces[:500], noise)
    assert len(real_vs_real["swd_levels"]) == 3  # 64 -> 32 -> 16
    assert noise_vs_real["swd"] > 5 * real_vs_real["swd"]


def test_inception_offline_is_one_clear_error(monkeypatch):
    import keras

    from gan_keras import UsageError
    from gan_keras.metrics.features import inception_model

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(UsageError, match=r"~/.keras/models/"):
        inception_model()


@pytest.mark.slow
def test_metric_features_stay_float32_during_a_mixed_precision_run(tmp_path, monkeypatch):
    import keras

    import gan_keras.data.load
    from gan_keras.metrics import features as metrics

    small = load_images("mnist")[:256, :, :, 0], np.arange(256) % 10
    monkeypatch.setattr(gan_keras.data.load, "load_digits", lambda *args, **kwargs: small)
    monkeypatch.setenv("GAN_KERAS_CACHE_DIR", str(tmp_path))  # a classifier trained afresh, not the cached one
    monkeypatch.setattr(metrics, "SHIPPED_CLASSIFIERS", tmp_path / "none")  # nor the shipped one
    monkeypatch.setattr(metrics, "_EXTRACTORS", {})
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as during `train --mixed-precision --eval-every`
    try:
        extractor = metrics.feature_extractor("mnist", verbose=0)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # the run's policy is back
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {layer.compute_dtype for layer in extractor.model.layers} == {"float32"}
    assert extractor(small[0][:4, :, :, None]).shape == (4, 128)


def test_a_smaller_run_is_judged_at_its_own_size():
    rng = np.random.default_rng(3)
    real = rng.integers(0, 256, size=(4, 8, 8, 3)).astype(np.uint8)
    fake = rng.integers(0, 256, size=(5, 4, 4, 3)).astype(np.uint8)
    real_small, fake_same = at_common_size(real, fake)
    block_means = real.astype(np.float64).reshape(4, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    assert real_small.shape == (4, 4, 4, 3) and real_small.dtype == np.uint8
    np.testing.assert_allclose(real_small, np.round(block_means), atol=1)
    assert fake_same is fake
    first, second = at_common_size(fake, real)  # either argument may be the larger one
    assert first is fake and second.shape == (4, 4, 4, 3)


@pytest.mark.slow
@pytest.mark.parametrize("name, at_least", [("mnist", 0.98), ("fashion_mnist", 0.86)])
def test_the_shipped_digit_classifiers_score_what_their_cards_say(name, at_least):
    from gan_keras import pretrained
    from gan_keras.data.load import load_digits
    from gan_keras.metrics import features as metrics

    model_path, card_path = pretrained.classifier_files(name)
    assert model_path.is_file() and card_path.is_file(), "run: python -m gan_keras train-classifiers"
    model, card = metrics.digit_classifier(name, verbose=0)
    assert card == json.loads(card_path.read_text())  # the shipped one, not a cached or a new one
    x, y = load_digits(name, "test")
    predicted = np.argmax(model.predict(x[..., None].astype("float32") / 127.5 - 1.0, batch_size=1000, verbose=0), 1)
    assert abs(float(np.mean(predicted == y)) - card["test_accuracy"]) < 1e-4
    assert card["test_accuracy"] >= at_least


def _index_generator(images):
    """A generator that draws images[argmax(z[:k])]: known images for known noise (k = len(images))."""
    import keras

    k = len(images)
    table = images.reshape(k, -1).astype(np.float32) / 127.5 - 1.0
    z = keras.Input((k,), name="z")
    one_hot = keras.layers.Lambda(lambda v: keras.ops.one_hot(keras.ops.argmax(v, axis=-1), k))(z)
    dense = keras.layers.Dense(table.shape[1], use_bias=False, trainable=False)
    model = keras.Model(z, keras.layers.Reshape(images.shape[1:])(dense(one_hot)))
    dense.set_weights([table])
    return model


@pytest.fixture(scope="module")
def digits_split():
    from gan_keras.data.load import load_digits

    images = load_digits("mnist")[0][:3000, :, :, None]
    return images[:2000], images[2000:2500], images[2500:2600]  # train, held out, unseen by either


def test_a_generator_that_returns_training_images_has_a_copy_rate_near_one(digits_split):
    from gan_keras.metrics.evaluate import evaluate

    train, heldout, unseen = digits_split
    copier = evaluate(_index_generator(train[:100]), heldout, "mnist", "copies", n=400, train_images=train)
    assert copier["copy_rate"] > 0.98 and copier["copy_ratio"] < 0.01
    new = evaluate(_index_generator(unseen), heldout, "mnist", "copies", n=400, train_images=train)
    assert new["copy_rate"] < 0.1 and 0.7 < new["copy_ratio"] < 1.3


def test_the_copies_figure_pairs_each_sample_with_its_nearest_training_image(digits_split, tmp_path):
    from PIL import Image

    from gan_keras.metrics.evaluate import evaluate

    train, heldout, _ = digits_split
    evaluate(_index_generator(train[:100]), heldout, "mnist", "copies", n=64, train_images=train,
             figure=tmp_path / "pairs.png")
    assert Image.open(tmp_path / "pairs.png").size[0] > 500


def test_repeats_report_the_spread_of_a_metric(digits_split):
    from gan_keras.metrics.evaluate import evaluate

    train, heldout, unseen = digits_split
    record = evaluate(_index_generator(unseen), train, "mnist", "swd", n=200, repeats=3)
    assert len(record["swd_runs"]) == 3 and record["swd"] == pytest.approx(np.mean(record["swd_runs"]))
    assert 0 < record["swd_sd"] == pytest.approx(np.std(record["swd_runs"], ddof=1), abs=1e-4)


def test_the_training_set_scored_against_held_out_images_is_the_floor_a_generator_is_read_against(digits_split):
    from gan_keras.metrics.evaluate import reference_scores

    train, heldout, _ = digits_split
    same = reference_scores(heldout, heldout[::-1].copy(), "mnist", "swd", n=400, repeats=2)
    shifted = reference_scores(heldout, 255 - train, "mnist", "swd", n=400, repeats=2)  # another distribution
    assert set(same) >= {"train_swd", "train_swd_sd", "train_swd_runs", "train_swd_levels"}
    assert len(same["train_swd_runs"]) == 2 and 0 < same["train_swd"] < 0.2 * shifted["train_swd"]


def test_evaluate_compares_with_held_out_or_training_images_as_asked(tmp_path, digits_npz):
    from gan_keras import train
    from gan_keras.metrics.evaluate import evaluate_run
    from tests.conftest import run_cli_here

    train(str(digits_npz), out=tmp_path / "r", model="mlp", epochs=1, steps_per_epoch=1, limit=300, verbose=0)
    held_out = evaluate_run(tmp_path / "r", "swd", n=2000)
    seen = evaluate_run(tmp_path / "r", "swd", n=2000, against_train=True)
    assert held_out["against"].startswith("held-out") and "train_swd" in held_out
    assert seen["against"] == "training images" and seen["n"] == 300 and "train_swd" not in seen
    assert held_out["n"] == len(np.load(digits_npz)["images"]) - 300 and seen["swd"] != held_out["swd"]
    printed = json.loads(run_cli_here("evaluate", tmp_path / "r", "--metric", "swd", "--n", 100, "--against-train",
                                      "--json").stdout)
    assert printed["against"] == "training images" and printed["n"] == 100


def test_evaluate_can_leave_out_the_real_images_another_dataset_holds(tmp_path, digits_npz):
    from gan_keras import train
    from gan_keras.errors import UsageError
    from gan_keras.metrics.evaluate import evaluate_run

    train(str(digits_npz), out=tmp_path / "r", model="mlp", epochs=1, steps_per_epoch=1, limit=300, verbose=0)
    images = np.load(digits_npz)["images"]
    np.savez(tmp_path / "seen.npz", images=images[300:350])  # 50 of the 212 held-out digits
    np.savez(tmp_path / "all.npz", images=images)
    record = evaluate_run(tmp_path / "r", "swd", n=2000, excluding=str(tmp_path / "seen.npz"))
    assert record["n"] == 212 - 50 and "less the 50 that are in" in record["against"]
    with pytest.raises(UsageError, match="every one"):
        evaluate_run(tmp_path / "r", "swd", n=2000, excluding=str(tmp_path / "all.npz"))


def test_copies_without_held_out_images_is_one_line(tmp_path, digits_npz):
    from gan_keras import train
    from tests.conftest import assert_one_line_error, run_cli_here

    train(str(digits_npz), out=tmp_path / "r", model="mlp", epochs=1, steps_per_epoch=1, verbose=0)
    assert_one_line_error(run_cli_here("evaluate", tmp_path / "r", "--metric", "copies", "--n", 50), "--limit")
    assert_one_line_error(run_cli_here("evaluate", tmp_path / "r", "--repeats", 0), "--repeats")


def _stand_in_ttur_graph(path):
    """A graph with TTUR's tensor names, ExpandDims:0 in and pool_3:0 out, whose pool_3 is a known
    function of the images: the channel means through a fixed (3, 64) matrix, as (N, 1, 1, 64)."""
    import tensorflow as tf

    projection = np.random.default_rng(0).normal(size=(3, 64)).astype(np.float32)  # 64, not 2048: a fast FID
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="ExpandDims")
        pooled = tf.matmul(tf.reduce_mean(images, axis=[1, 2]), tf.constant(projection))
        tf.reshape(pooled, [-1, 1, 1, 64], name="pool_3")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return projection


def test_ttur_features_feed_the_graph_as_ttur_does_and_score_known_sets(tmp_path):
    from gan_keras.metrics.features import TTURFeatures

    projection = _stand_in_ttur_graph(tmp_path / "graph.pb")
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (70, 20, 20, 3), dtype=np.uint8)
    b = rng.integers(0, 128, (70, 20, 20, 3), dtype=np.uint8)
    extractor = TTURFeatures(tmp_path / "graph.pb", batch_size=32)
    def expected(images):
        return images.astype(np.float64).mean(axis=(1, 2)) @ projection

    features = extractor(a)
    np.testing.assert_allclose(features, expected(a), rtol=1e-5, atol=1e-2)
    assert fid(features, extractor(b)) == pytest.approx(fid(expected(a), expected(b)), rel=1e-4)
    assert fid(features, extractor(b)) > 100 * abs(fid(features, extractor(a)))
    assert extractor(a[..., :1]).shape == (70, 64)  # grey images go in as RGB


def test_without_the_ttur_graph_offline_evaluate_says_so_once_and_scores_the_rest(tmp_path, monkeypatch):
    import warnings

    from gan_keras.metrics import features
    from gan_keras.metrics.evaluate import _WARNED, evaluate_run

    monkeypatch.setenv("HOME", str(tmp_path))  # no cached graph; the download fails on this machine
    monkeypatch.setattr(features, "TTUR_URL", "http://127.0.0.1:9/inception-2015-12-05.tgz")
    monkeypatch.setattr(features, "_TTUR_UNAVAILABLE", [])
    monkeypatch.setattr(features, "_EXTRACTORS", {})  # nothing cached by an earlier test in this process
    _WARNED.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = evaluate_run("pretrained:anime64", n=100)
        second = evaluate_run("pretrained:anime64", n=100)
    said = [str(w.message) for w in caught if "papers' Inception" in str(w.message)]
    assert len(said) == 1 and "put classify_image_graph_def.pb" in said[0]
    assert first["swd"] > 0 and "ttur_fid" not in first and second["swd"] == first["swd"]
    assert first["train_swd"] > 0  # the held-out faces' floor: real training faces scored the same way
