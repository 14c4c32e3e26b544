"""Class-conditional GANs: the label path of G, the projection D, class grids, conditional accuracy,
`sample --class` and the one-line errors."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gan_keras.errors import UsageError
from gan_keras.images import image_grid, to_uint8
from gan_keras.networks.build import (
    Build_Disc,
    Build_Gen,
    class_grid_inputs,
    discriminator_logits,
    draw,
    num_classes,
)
from gan_keras.runs.train import train
from gan_keras.tools.sample import generate
from gan_keras.training.fused import GAN
from tests.conftest import assert_one_line_error, run_cli_here


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_only_the_class_changes_the_image_and_the_noise_leaves_the_class_code_alone(kind):
    G = Build_Gen(kind, 8, (28, 28, 1), width=8, num_classes=10)
    z = keras.random.normal((4, 8), seed=1)
    three, five = tf.fill((4,), 3), tf.fill((4,), 5)
    assert num_classes(G) == 10
    as_three, as_five = np.asarray(G([z, three])), np.asarray(G([z, five]))
    assert np.abs(as_three - as_five).max() > 0.01 * np.abs(as_three).max()  # same noise, other class
    code = keras.Model(G.inputs, G.get_layer("z_and_class").output)
    other_z = keras.random.normal((4, 8), seed=2)
    a, b = np.asarray(code([z, three])), np.asarray(code([other_z, three]))
    np.testing.assert_array_equal(a[:, 8:], b[:, 8:])  # the class code does not see the noise
    np.testing.assert_array_equal(a[:, 8:], np.tile(G.get_layer("class_embedding").embeddings[3], (4, 1)))
    np.testing.assert_array_equal(a[:, :8], np.asarray(z))  # and the noise passes untouched


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_the_projection_discriminator_adds_the_label_embedding_dotted_with_its_features(kind):
    """logit(x, a) - logit(x, b) = <E[a] - E[b], features(x)>, the projection of Miyato and Koyama."""
    D = Build_Disc(kind, (28, 28, 1), width=8, num_classes=10)
    logits = discriminator_logits(D)
    x = keras.random.uniform((3, 28, 28, 1), -1, 1, seed=0)
    projection = D.get_layer("class_projection")
    score_input = D.get_layer("score").input
    feats = np.asarray(keras.Model(D.inputs[0], score_input)(x))
    table = np.asarray(projection.embeddings)
    difference = np.asarray(logits([x, tf.fill((3,), 2)])) - np.asarray(logits([x, tf.fill((3,), 7)]))
    np.testing.assert_allclose(difference[:, 0], feats @ (table[2] - table[7]), rtol=1e-4, atol=1e-5)
    assert np.abs(difference).max() > 1e-4


@pytest.mark.slow
def test_a_conditional_pair_must_agree_and_train_on_labelled_batches():
    with pytest.raises(ValueError, match="same num_classes"):
        GAN(Build_Gen("mlp", 8, num_classes=10), Build_Disc("mlp"))
    gan = GAN(Build_Gen("mlp", 8, num_classes=10), Build_Disc("mlp", num_classes=10))
    gan.compile()
    images = tf.zeros((4, 28, 28, 1))
    with pytest.raises(ValueError, match="trains on \\(images, labels\\) batches"):
        gan.train_step(images)
    logs = gan.train_step((images, tf.constant([0, 1, 2, 3])))
    assert np.isfinite(float(logs["d_loss"]))


@pytest.mark.slow
def test_conditional_grids_have_one_row_per_class_drawn_from_the_shared_noise(tmp_path):
    run = tmp_path / "cond"
    result = train("mnist", out=run, conditional=True, limit=512, epochs=1, steps_per_epoch=3, verbose=0)
    config = json.loads((run / "config.json").read_text())
    assert config["conditional"] and config["class_names"] == [str(i) for i in range(10)]
    grid = np.asarray(Image.open(run / "samples" / "epoch-0001.png"))
    assert grid.shape[:2] == (10 * 30 + 2, 10 * 30 + 2)  # 10 rows (classes) x 10 columns (noise), 28 px + 2
    z, labels = class_grid_inputs(np.load(run / "fixed_noise.npy"), 10)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 10))
    np.testing.assert_array_equal(z[:10], z[10:20])  # the same noise in every row
    expected = image_grid(np.asarray(draw(result.trainer.sampler, z, labels)), cols=10)
    np.testing.assert_array_equal(grid, expected[..., 0])


def prototype_generator(prototypes, ignore_class=None):
    """A conditional "generator" that draws, for each label, a fixed real image of that class, or
    with `ignore_class`, always the image of that one class whatever it is asked for."""
    z, label = keras.Input((4,), name="z"), keras.Input((), dtype="int32", name="label")
    table = keras.layers.Embedding(10, 28 * 28, name="class_embedding", trainable=False)
    drawn = label if ignore_class is None else keras.layers.Lambda(lambda y: y * 0 + ignore_class)(label)
    images = keras.layers.Reshape((28, 28, 1))(table(drawn))
    model = keras.Model([z, label], images)
    table.set_weights([prototypes.reshape(10, -1).astype("float32") / 127.5 - 1.0])
    return model


@pytest.mark.slow
def test_conditional_accuracy_of_a_perfect_and_a_class_ignoring_generator():
    from types import SimpleNamespace

    from gan_keras.data.load import load_digits
    from gan_keras.metrics.conditional import per_class_fid
    from gan_keras.metrics.evaluate import evaluate
    from gan_keras.metrics.in_run import EvalMetric

    images, labels = load_digits("mnist", "test")
    images, labels = images[:2000, ..., None], labels[:2000]
    prototypes = np.stack([images[labels == c][0] for c in range(10)])
    scores = evaluate(prototype_generator(prototypes), images, "mnist", n=1000, real_labels=labels)
    assert scores["conditional_accuracy"] > 0.98
    assert len(scores["domain_fid_per_class"]) == 10
    ignoring = evaluate(prototype_generator(prototypes, ignore_class=3), images, "mnist", n=1000, real_labels=labels)
    assert 0.05 < ignoring["conditional_accuracy"] < 0.15  # right only when 3 was asked for
    metric = EvalMetric(images, "mnist", every=1, n=500, labels=labels)  # --eval-every reads the same number
    metric.set_model(SimpleNamespace(sampler=prototype_generator(prototypes), stop_training=False))
    logs = {}
    metric.on_epoch_end(0, logs)
    assert logs["eval_cond_acc"] > 0.98

    features = np.random.default_rng(1).normal(size=(400, 4))
    split = np.repeat([0, 1], 200)
    assert per_class_fid(features, split, features, split) == pytest.approx([0.0, 0.0], abs=1e-6)
    shifted = per_class_fid(features, split, features + np.where(split[:, None] == 1, 3.0, 0.0), split)
    assert shifted[0] == pytest.approx(0.0, abs=1e-6) and shifted[1] == pytest.approx(4 * 9.0, rel=1e-6)


@pytest.mark.slow
def test_sample_class_and_evaluate_on_a_conditional_run(tmp_path, digits_npz):
    run = tmp_path / "cond"
    train("mnist", out=run, conditional=True, limit=512, epochs=1, steps_per_epoch=2, verbose=0)
    result = run_cli_here("sample", run, "--class", 7, "--n", 12, "--out", tmp_path / "sevens.npz")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "sevens.npz") as f:
        sevens, drawn_for = f["images"], f["labels"]
    assert sevens.shape == (12, 28, 28) and list(drawn_for) == [7] * 12
    G = keras.saving.load_model(run / "generator.keras", compile=False)  # the saved model, read back
    np.testing.assert_array_equal(sevens, to_uint8(generate(G, 12, labels=7))[..., 0])
    result = run_cli_here("evaluate", run, "--n", 500, "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    from gan_keras.metrics.evaluate import evaluate_run

    same = evaluate_run(run, n=500)  # the command prints what the Python API computes, class by class
    assert scores["conditional_accuracy"] == pytest.approx(same["conditional_accuracy"])
    assert scores["domain_fid_per_class"] == pytest.approx(same["domain_fid_per_class"])
    assert len(scores["domain_fid_per_class"]) == 10 and np.all(np.isfinite(scores["domain_fid_per_class"]))
    assert "held-out" in scores["against"]
    assert_one_line_error(run_cli_here("sample", run, "--class", 10, "--out", tmp_path / "x.png"),
                          "class 10 is outside this run's classes 0-9")


def test_labels_come_from_class_subfolders_in_sorted_order(tmp_path):
    from gan_keras.data.load import load_labeled_images

    folder = tmp_path / "colours"
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255)), ("green", (0, 255, 0))):
        (folder / name / "deeper").mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), colour).save(folder / name / ("deeper" if i else ".") / f"{i}.png")
    (folder / "green" / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        images, labels, classes = load_labeled_images(folder, image_size=16)
    assert classes == ["blue", "green", "red"] and images.shape == (9, 16, 16, 3)
    for image, label in zip(images, labels):
        assert np.argmax(image.reshape(-1, 3).mean(0)) == {"blue": 2, "green": 1, "red": 0}[classes[label]]
    Image.new("RGB", (20, 20)).save(folder / "loose.png")
    with pytest.warns(UserWarning, match="skipped 1"), pytest.raises(UsageError, match="1 images lie directly in it"):
        load_labeled_images(folder, image_size=16)


@pytest.mark.slow
def test_bad_conditional_input_is_one_line(tmp_path, digits_npz):
    unlabelled = tmp_path / "unlabelled.npz"
    np.savez(unlabelled, images=np.zeros((64, 28, 28), np.uint8))
    assert_one_line_error(run_cli_here("train", unlabelled, "--conditional"), "has no array 'labels'")
    negative = tmp_path / "negative.npz"
    np.savez(negative, images=np.zeros((64, 28, 28), np.uint8), labels=np.arange(64) - 1)
    assert_one_line_error(run_cli_here("train", negative, "--conditional"), "labels must be 0, 1, 2")
    assert_one_line_error(run_cli_here("train", "anime", "--conditional"), "anime has no class labels")
    assert_one_line_error(run_cli_here("train", digits_npz, "--conditional", "--trainer", "classic"),
                          "--conditional needs the fused trainer")
    run = tmp_path / "plain"
    train(str(digits_npz), out=run, model="mlp", epochs=1, steps_per_epoch=1, verbose=0)
    assert_one_line_error(run_cli_here("sample", run, "--class", 3, "--out", tmp_path / "x.png"),
                          "not class-conditional")
    assert_one_line_error(run_cli_here("train", digits_npz, "--out", run, "--resume", "--conditional"),
                          "trained with conditional=False")
