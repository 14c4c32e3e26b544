"""Every command on JAX and PyTorch, each in a process where TensorFlow cannot be imported: train,
exact resume, sample, project with tuning, evaluate and export; the classic frozen-discriminator loop
(`tests/backends/harness.py`). Every registered choice for one step: `test_backends_registry.py`."""

import json

import numpy as np
import pytest

from tests.backends.harness import OTHER_BACKENDS, cli, needs, ok, run
from tests.conftest import assert_one_line_error

pytestmark = pytest.mark.slow  # each test starts processes that build and train networks

@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_train_resume_sample_project_evaluate_and_export_without_tensorflow(backend, tmp_path):
    """Two epochs in one go equal one epoch resumed for a second, exactly; the run folder records the
    backend, and sample, project (with tuning), evaluate and export read it (another backend's resume
    is refused in one line: `test_backends.py`)."""
    needs(backend)
    common = ["train", "mnist", "--model", "mlp", "--augment", "diffaug", "--ema", "0.99", "--steps-per-epoch", "4",
              "--batch-size", "16", "--quiet"]
    ok(cli(backend, *common, "--epochs", "2", "--out", tmp_path / "straight"))
    ok(cli(backend, *common, "--epochs", "1", "--out", tmp_path / "resumed"))
    ok(cli(backend, *common, "--epochs", "2", "--resume", "--out", tmp_path / "resumed"))
    straight = np.load(sorted((tmp_path / "straight" / "checkpoints").glob("ckpt-*.npz"))[-1])
    resumed = np.load(sorted((tmp_path / "resumed" / "checkpoints").glob("ckpt-*.npz"))[-1])
    assert straight.files == resumed.files and len(straight.files) > 20
    for key in straight.files:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
    config = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert config["backend"] == backend and backend in config

    ok(cli(backend, "sample", tmp_path / "resumed", "--n", "4", "--out", tmp_path / "four.png"))
    assert (tmp_path / "four.png").stat().st_size > 100
    projected = ok(cli(backend, "project", tmp_path / "resumed", tmp_path / "four.png", "--out", tmp_path / "projected",
                       "--steps", "5", "--tune-steps", "2", "--starts", "1"))
    assert "PSNR" in projected.stdout and (tmp_path / "projected" / "latents.npz").is_file()
    evaluated = ok(cli(backend, "evaluate", tmp_path / "resumed", "--n", "200"))
    assert "domain_fid" in evaluated.stdout
    exported = cli(backend, "export", tmp_path / "resumed", "--format", "onnx", "--out", tmp_path / "g.onnx")
    if backend == "torch":
        ok(exported)
        assert (tmp_path / "g.onnx").is_file()
    else:
        assert_one_line_error(exported, "needs Keras on tensorflow or torch")


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_classic_loop_trains_d_then_g_through_the_frozen_combined_model(backend):
    needs(backend)
    code = """
import numpy as np, keras
from gan_keras import Build_Disc, Build_Gen
from gan_keras.training.classic import ClassicGAN
G, D = Build_Gen("mlp"), Build_Disc("mlp")
gan = ClassicGAN(G, D)
weights = lambda m: [keras.ops.convert_to_numpy(w).copy() for w in m.weights]
changed = lambda a, b: any(not np.array_equal(x, y) for x, y in zip(a, b))
images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
for _ in range(2):  # the second step reuses the traced functions: the flags must hold there too
    d0, g0 = weights(D), weights(G)
    gan.discriminator.trainable = True
    gan.discriminator.train_on_batch(images, np.ones((16, 1), "float32"))
    gan.discriminator.trainable = False
    d1 = weights(D)
    gan.combined.train_on_batch(np.random.default_rng(1).standard_normal((16, 100)).astype("float32"),
                                np.ones((16, 1), "float32"))
    print(changed(d0, d1), changed(d1, weights(D)), changed(g0, weights(G)))
"""
    lines = ok(run(backend, "-c", code)).stdout.split("\n")
    assert [line for line in lines if line] == ["True False True"] * 2
