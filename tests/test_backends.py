"""The package on JAX and PyTorch, each in a process where TensorFlow cannot be imported (the GPU
machines' situation): every registered choice for one step, train and exact resume, sample,
evaluate, export, the classic frozen-discriminator loop, and one step that computes the same on all
three backends. A backend that is not installed is skipped, unless GAN_KERAS_BACKENDS_REQUIRED is set
(CI sets it: there a skip would hide a failure)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, assert_one_line_error

HERE = ROOT / "tests" / "backends"
pytestmark = pytest.mark.slow  # each test starts processes that build and train networks
OTHER_BACKENDS = ("jax", "torch")


def needs(backend):
    if importlib.util.find_spec(backend) is None:
        if os.environ.get("GAN_KERAS_BACKENDS_REQUIRED"):
            pytest.fail(f"{backend} is not installed and GAN_KERAS_BACKENDS_REQUIRED is set")
        pytest.skip(f"{backend} is not installed")


def environment(backend):
    """KERAS_BACKEND=backend; off TensorFlow, TensorFlow blocked (tests/backends/sitecustomize.py)."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    if backend != "tensorflow":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def run(backend, *args, timeout=300):
    """`python ARGS` on `backend` (a script, or -m gan_keras ...); the CompletedProcess."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environment(backend))


def cli(backend, *args, timeout=300):
    return run(backend, "-m", "gan_keras", *args, timeout=timeout)


def ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_tensorflow_cannot_be_imported_in_these_processes(backend):
    needs(backend)
    result = run(backend, "-c", "import importlib.util, gan_keras, keras; print(keras.backend.backend()); "
                                "print(importlib.util.find_spec('tensorflow')); import tensorflow")
    assert result.returncode == 1 and result.stdout.split() == [backend, "None"], result.stdout + result.stderr
    assert "ModuleNotFoundError" in result.stderr


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_every_registered_network_loss_and_augmentation_takes_a_step(backend):
    needs(backend)
    result = ok(run(backend, HERE / "each_choice.py", timeout=600))
    lines = [line for line in result.stdout.splitlines() if ": " in line]
    assert len(lines) >= 15 and not any("FAILED" in line for line in lines), result.stdout
    # the TensorFlow-only ones say so and name the backend that runs them
    assert all("KERAS_BACKEND=tensorflow" in line for line in lines if "tensorflow only" in line)


def test_one_step_computes_the_same_on_the_three_backends(tmp_path):
    """From the same weights, images, noise and augmentation draws (NumPy's, patched in), one D and G
    step (nonsaturating loss, DiffAugment, R1, batch norm in both, a moving average) gives the same
    losses and updated weights on TensorFlow, JAX and PyTorch, within float32's rounding."""
    for backend in OTHER_BACKENDS:
        needs(backend)
    saved = {}
    for backend in ("tensorflow", *OTHER_BACKENDS):
        ok(run(backend, HERE / "one_step.py", tmp_path / f"{backend}.npz", "nonsaturating", "diffaug"))
        saved[backend] = dict(np.load(tmp_path / f"{backend}.npz"))
    reference = saved["tensorflow"]
    start = dict(np.load(tmp_path / "tensorflow.npz"))
    for backend in OTHER_BACKENDS:
        assert saved[backend].keys() == reference.keys()
        for key, value in reference.items():
            np.testing.assert_allclose(saved[backend][key], value, rtol=1e-4, atol=1e-4, err_msg=f"{backend} {key}")
    assert float(start["log/d_penalty"]) > 0  # R1 was computed (its input gradient on every backend)


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_train_resume_sample_project_evaluate_and_export_without_tensorflow(backend, tmp_path):
    """Two epochs in one go equal one epoch resumed for a second, exactly; the run folder records the
    backend, resumes on no other, and sample, project (with tuning), evaluate and export read it."""
    needs(backend)
    common = ["train", "mnist", "--steps-per-epoch", "4", "--batch-size", "16", "--quiet"]
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

    other = "torch" if backend == "jax" else "jax"
    if importlib.util.find_spec(other):
        assert_one_line_error(cli(other, *common, "--epochs", "3", "--resume", "--out", tmp_path / "resumed"),
                              f"KERAS_BACKEND={backend}")
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
    assert_one_line_error(cli(backend, "export", tmp_path / "resumed", "--format", "litert", "--out",
                              tmp_path / "g.tflite"), "needs Keras on tensorflow")


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_tensorflow_run_folder_says_which_backend_reads_it(backend, tmp_path):
    needs(backend)
    ok(cli("tensorflow", "train", "mnist", "--model", "mlp", "--epochs", "1", "--steps-per-epoch", "2", "--quiet",
           "--out", tmp_path / "tf"))
    assert_one_line_error(cli(backend, "train", "mnist", "--epochs", "2", "--resume", "--out", tmp_path / "tf"),
                              "KERAS_BACKEND=tensorflow")
    # generator.keras holds no synchronized batch norm: it loads on every backend
    saved = tmp_path / "tf" / "generator.keras"
    result = ok(run(backend, "-c", f"import keras, numpy as np; G = keras.saving.load_model(r'{saved}'); "
                                   "print(G(np.zeros((2, 100), 'float32')).shape)"))
    assert "(2, 28, 28, 1)" in result.stdout.replace("torch.Size([", "(").replace("])", ")")


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



def test_jax_data_parallel_on_two_devices_equals_one_device(tmp_path):
    """`--strategy mirrored` on JAX (Keras's DataParallel; two CPU devices here) trains one step as one
    device does: the global batch's losses, gradients and batch-norm statistics."""
    needs("jax")
    ok(run("jax", HERE / "one_step.py", tmp_path / "one.npz", "nonsaturating", "diffaug"))
    two = subprocess.run([sys.executable, HERE / "one_step.py", tmp_path / "two.npz", "nonsaturating", "diffaug",
                          "data-parallel"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**environment("jax"), "JAX_NUM_CPU_DEVICES": "2"})
    ok(two)
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    for key in one.files:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-5, err_msg=key)
