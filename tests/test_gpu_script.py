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


@pytest.mark.parametrize("width, kind", [(8, "dcgan"), (32, "dcgan"), (8, "dcgan_mbstd")])
def test_the_script_networks_are_the_package_dcgan_weight_for_weight(script, width, kind):
    rng = np.random.default_rng(width)
    pairs = [(script.build_generator(width), Build_Gen(kind, 100, (64, 64, 3), width)),
             (script.build_discriminator(width, kind=kind), discriminator_logits(Build_Disc(kind, (64, 64, 3), width)))]
    for theirs, ours in pairs:
        assert [tuple(w.shape) for w in theirs.weights] == [tuple(w.shape) for w in ours.weights]
        values = [rng.uniform(0.02, 0.1, w.shape).astype("float32") for w in theirs.weights]  # variances > 0
        theirs.set_weights(values)
        ours.set_weights(values)
        x = rng.normal(size=(8, *theirs.input_shape[1:])).astype("float32")  # 8: two groups of the batch std
        np.testing.assert_allclose(np.asarray(theirs(x, training=False)), np.asarray(ours(x, training=False)),
                                   rtol=1e-4, atol=1e-4)


def test_importing_the_script_leaves_the_backend_of_the_importer_and_its_subprocesses(script):
    assert os.environ.get("KERAS_BACKEND") == BACKEND_BEFORE  # else a later test's subprocess would load JAX


def test_the_learning_rate_holds_then_decays_linearly_or_steps(script):
    linear = [script.learning_rate(1.0, f, 0.5, "linear", 0.1) for f in (0.0, 0.49, 0.5, 0.75, 1.0, 1.2)]
    np.testing.assert_allclose(linear, [1.0, 1.0, 1.0, 0.55, 0.1, 0.1])
    assert [script.learning_rate(1.0, f, 0.6, "step", 0.25) for f in (0.59, 0.6, 0.99)] == [1.0, 0.25, 0.25]
    assert script.learning_rate(2e-4, 0.99) == 2e-4  # no decay by default


def test_faces_travel_as_jpeg_and_come_back_close(script, tmp_path):
    ramp = np.linspace(0, 255, 32)
    images = np.stack([np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :] * k / 4, 255 - ramp[:, None]), -1)
                       for k in range(1, 5)]).astype("uint8")  # smooth pictures, 4 of them, each its own
    script.write_faces(images, tmp_path / "faces.npz", quality=95)
    back = script.read_faces(tmp_path / "faces.npz")
    assert back.shape == images.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - images).mean() < 2


def test_a_run_file_becomes_run_folders_the_package_restores(script, tmp_path):
    import json

    from gan_keras.runs.checkpoints import restore_networks

    width, rng = 8, np.random.default_rng(1)
    G, D = script.build_generator(width), script.build_discriminator(width, kind="dcgan_mbstd")
    final = [rng.uniform(0.02, 0.1, w.shape).astype("float32") for w in G.weights]
    arrays = {f"generator_ema/{i}": w for i, w in enumerate(final)}
    arrays.update({f"s100/generator_ema/{i}": w * 0 + 0.05 for i, w in enumerate(final)})
    arrays.update({f"discriminator/{i}": np.full(w.shape, 0.03, "float16") for i, w in enumerate(D.weights)})
    log = {"discriminator": "dcgan_mbstd", "width": width, "lr": 2e-4, "ema": 0.999, "batch_size": 64,
           "images": 7000, "policy": "float32", "steps": 200}
    np.savez(tmp_path / "run.npz", log=np.array(json.dumps(log)), **arrays)
    template = tmp_path / "template"
    template.mkdir()
    (template / "config.json").write_text(json.dumps({"dataset": "anime", "model": "dcgan", "width": 16}))
    folders = script.export_run_folders(tmp_path / "run.npz", tmp_path / "out", template)
    assert [Path(f).name for f in folders] == ["run_s100", "run"]
    config = json.loads((Path(folders[1]) / "config.json").read_text())
    assert (config["model"], config["width"], config["steps"], config["dataset"]) == ("dcgan_mbstd", 8, 200, "anime")
    ours_g, ours_d = Build_Gen("dcgan_mbstd", 100, (64, 64, 3), width), Build_Disc("dcgan_mbstd", (64, 64, 3), width)
    restore_networks(folders[1], generator=ours_g, discriminator=ours_d)
    for weight, expected in zip(ours_g.weights, final):
        np.testing.assert_allclose(weight.numpy(), expected, rtol=1e-3)  # float16 in the folder
    assert all(np.allclose(w.numpy(), 0.03, rtol=1e-3) for w in ours_d.weights)
    restore_networks(folders[0], generator=ours_g)
    assert all(np.allclose(w.numpy(), 0.05, rtol=1e-3) for w in ours_g.weights)


def test_batches_pass_over_the_data_in_a_new_order_each_time_or_at_random(script):
    order = script.BatchOrder(7, seed=3, epochs=True)
    taken = np.concatenate([order.take(5) for _ in range(7)])  # 35 = 5 passes, across the calls' edges
    passes = taken.reshape(5, 7)
    assert all(sorted(p) == list(range(7)) for p in passes)  # every image once a pass
    assert len({tuple(p) for p in passes}) > 1  # a new order each pass
    drawn = script.BatchOrder(7, seed=3, epochs=False).take(700)
    assert drawn.min() == 0 and drawn.max() == 6 and any(len(set(drawn[i:i + 7])) < 7 for i in range(0, 700, 7))
