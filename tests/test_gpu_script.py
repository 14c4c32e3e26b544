"""scripts/gpu_dcgan_jax.py rebuilds the `dcgan` family in stock Keras layers for GPU machines that
have JAX but no TensorFlow: its weights must load into the package's networks, in order."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from gan_keras.networks.build import Build_Disc, Build_Gen, discriminator_logits

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_dcgan_jax.py"
BACKEND_BEFORE = os.environ.get("KERAS_BACKEND")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("gpu_dcgan_jax", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # keras is already imported on TensorFlow: the script only builds layers
    return module


@pytest.mark.parametrize("width", [8, 32])
def test_the_script_networks_are_the_package_dcgan_weight_for_weight(script, width):
    rng = np.random.default_rng(width)
    pairs = [(script.build_generator(width), Build_Gen("dcgan", 100, (64, 64, 3), width)),
             (script.build_discriminator(width), discriminator_logits(Build_Disc("dcgan", (64, 64, 3), width)))]
    for theirs, ours in pairs:
        assert [tuple(w.shape) for w in theirs.weights] == [tuple(w.shape) for w in ours.weights]
        values = [rng.uniform(0.02, 0.1, w.shape).astype("float32") for w in theirs.weights]  # variances > 0
        theirs.set_weights(values)
        ours.set_weights(values)
        x = rng.normal(size=(3, *theirs.input_shape[1:])).astype("float32")
        np.testing.assert_allclose(np.asarray(theirs(x, training=False)), np.asarray(ours(x, training=False)),
                                   rtol=1e-4, atol=1e-4)


def test_importing_the_script_leaves_the_backend_of_the_importer_and_its_subprocesses(script):
    assert os.environ.get("KERAS_BACKEND") == BACKEND_BEFORE  # else a later test's subprocess would load JAX
