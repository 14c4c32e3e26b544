"""The package on JAX and PyTorch, each in a process where TensorFlow cannot be imported (the GPU
machines' situation): TensorFlow really is blocked, one step computes the same on all three backends
and on two JAX devices as on one, and a TensorFlow run folder says which backend reads it. The
commands themselves: `test_backends_commands.py`. A backend that is not installed is skipped, unless
GAN_KERAS_BACKENDS_REQUIRED is set (CI sets it: there a skip would hide a failure)."""

import numpy as np
import pytest

from tests.backends.harness import HERE, OTHER_BACKENDS, cli, needs, ok, run
from tests.conftest import assert_one_line_error

pytestmark = pytest.mark.slow  # each test starts processes that build and train networks

@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_tensorflow_cannot_be_imported_in_these_processes(backend):
    needs(backend)
    result = run(backend, "-c", "import importlib.util, gan_keras, keras; print(keras.backend.backend()); "
                                "print(importlib.util.find_spec('tensorflow')); import tensorflow")
    assert result.returncode == 1 and result.stdout.split() == [backend, "None"], result.stdout + result.stderr
    assert "ModuleNotFoundError" in result.stderr


@pytest.fixture(scope="module")
def one_step_files(tmp_path_factory):
    """{backend: the .npz of one step (tests/backends/one_step.py) on it}, TensorFlow's, JAX's, PyTorch's."""
    for backend in OTHER_BACKENDS:
        needs(backend)
    folder = tmp_path_factory.mktemp("one_step")
    for backend in ("tensorflow", *OTHER_BACKENDS):
        ok(run(backend, HERE / "one_step.py", folder / f"{backend}.npz", "nonsaturating", "diffaug"))
    return {backend: folder / f"{backend}.npz" for backend in ("tensorflow", *OTHER_BACKENDS)}


def test_one_step_computes_the_same_on_the_three_backends(one_step_files):
    """From the same weights, images, noise and augmentation draws (NumPy's, patched in), one D and G
    step (nonsaturating loss, DiffAugment, R1, batch norm in both, a moving average) gives the same
    losses and updated weights on TensorFlow, JAX and PyTorch, within float32's rounding."""
    saved = {backend: dict(np.load(path)) for backend, path in one_step_files.items()}
    reference = saved["tensorflow"]
    for backend in OTHER_BACKENDS:
        assert saved[backend].keys() == reference.keys()
        for key, value in reference.items():
            np.testing.assert_allclose(saved[backend][key], value, rtol=1e-4, atol=1e-4, err_msg=f"{backend} {key}")
    assert float(reference["log/d_penalty"]) > 0  # R1 was computed (its input gradient on every backend)


@pytest.fixture(scope="module")
def tensorflow_run(tmp_path_factory):
    """A run folder TensorFlow trained (the MLP, two steps)."""
    folder = tmp_path_factory.mktemp("tensorflow_run") / "tf"
    ok(cli("tensorflow", "train", "mnist", "--model", "mlp", "--epochs", "1", "--steps-per-epoch", "2", "--quiet",
           "--out", folder))
    return folder


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_tensorflow_run_folder_says_which_backend_reads_it(backend, tensorflow_run):
    needs(backend)
    assert_one_line_error(cli(backend, "train", "mnist", "--epochs", "2", "--resume", "--out", tensorflow_run),
                          "KERAS_BACKEND=tensorflow")
    # generator.keras holds no synchronized batch norm: it loads on every backend
    saved = tensorflow_run / "generator.keras"
    result = ok(run(backend, "-c", f"import keras, numpy as np; G = keras.saving.load_model(r'{saved}'); "
                                   "print(G(np.zeros((2, 100), 'float32')).shape)"))
    assert "(2, 28, 28, 1)" in result.stdout.replace("torch.Size([", "(").replace("])", ")")


def test_jax_data_parallel_on_two_devices_equals_one_device(one_step_files, tmp_path):
    """`--strategy mirrored` on JAX (Keras's DataParallel; two CPU devices here) trains one step as one
    device does: the global batch's losses, gradients and batch-norm statistics."""
    ok(run("jax", HERE / "one_step.py", tmp_path / "two.npz", "nonsaturating", "diffaug", "data-parallel",
           JAX_NUM_CPU_DEVICES="2"))
    one, two = np.load(one_step_files["jax"]), np.load(tmp_path / "two.npz")
    for key in one.files:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-5, err_msg=key)
