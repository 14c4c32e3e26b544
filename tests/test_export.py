"""Export: every generator kind to SavedModel, LiteRT and ONNX, each artifact run in its own runtime
and compared with the Keras generator; a failed check leaves nothing; missing packages are one line."""

import numpy as np
import pytest

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.tools.export import (
    TOLERANCE,
    check_format,
    example_inputs,
    export_generator,
)
from tests.conftest import assert_one_line_error, run_cli_here

KINDS = {  # small networks of each kind the package trains
    "mlp": dict(kind="mlp", latent_dim=8, image_shape=(28, 28, 1), width=8),
    "dcgan": dict(kind="dcgan", latent_dim=8, image_shape=(32, 32, 3), width=8),
    "stylegan": dict(kind="stylegan", latent_dim=8, image_shape=(16, 16, 3), width=8),
    "conditional_dcgan": dict(kind="dcgan", latent_dim=8, image_shape=(28, 28, 1), width=8, num_classes=10),
}


@pytest.fixture(scope="module")
def generators():
    import keras

    from gan_keras.networks.build import Build_Gen
    from gan_keras.networks.layers import with_keras_layers

    keras.utils.set_random_seed(1)
    built = {}
    for name, spec in KINDS.items():
        G = Build_Gen(**spec)
        # as trained: weights of a useful scale (DCGAN's N(0, 0.02) start draws flat grey), BatchNorm's
        # moving statistics away from (0, 1), so inference differs from training
        rng = np.random.default_rng(2)
        for w in G.weights:
            if w.trainable and len(w.shape) >= 2 and "stylegan" not in spec["kind"]:
                w.assign(rng.normal(0, 1 / np.sqrt(np.prod(w.shape[:-1])), w.shape).astype(np.float32))
            elif "moving_mean" in w.path:
                w.assign(rng.uniform(-0.05, 0.05, w.shape).astype(np.float32))
            elif "moving_variance" in w.path:
                w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
        built[name] = with_keras_layers(G)
    return built


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", [n for n in registry.names("export") if not registry.info("export", n).get("page")])
def test_every_kind_exports_to_every_format_and_runs_there_as_in_keras(generators, kind, fmt, tmp_path):
    from gan_keras.networks.build import draw

    G = generators[kind]
    report = export_generator(G, tmp_path / "g", fmt)
    path = report["path"]
    assert path.exists() and path.name == "g" + registry.get("export", fmt).suffix
    assert report["max_abs_diff"] <= TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left beside it
    # run again, on other latents and another batch size than the export's own check
    inputs = example_inputs(G, n=7, seed=11)
    got = registry.get("export", fmt).run(path, inputs)
    expected = np.asarray(draw(G, inputs["z"], inputs.get("label")))
    assert got.shape == expected.shape == (7, *KINDS[kind]["image_shape"])
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    assert expected.std() > 0.05  # the generator draws something, so agreement means something


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dcgan", "stylegan"])
def test_a_generator_trained_in_bfloat16_exports_its_weights_in_float32(kind, tmp_path):
    import keras

    from gan_keras.networks.build import Build_Gen
    from gan_keras.tools.export import float32_copy
    from gan_keras.training.distribute import precision_scope

    with precision_scope("bfloat16"):  # as `train --mixed-precision bfloat16` builds and saves it
        G = Build_Gen(**KINDS[kind])
    G.save(tmp_path / "generator.keras")
    saved = keras.saving.load_model(tmp_path / "generator.keras", compile=False)
    assert {layer.dtype_policy.name for layer in saved.layers} >= {"mixed_bfloat16"}
    copy = float32_copy(saved)
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    for a, b in zip(saved.weights, copy.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert float32_copy(copy) is copy  # already float32: nothing to copy
    report = export_generator(saved, tmp_path / "g", "litert")  # LiteRT has no kernels for bfloat16 casts
    assert report["max_abs_diff"] <= TOLERANCE


@pytest.mark.slow
def test_a_failed_check_is_an_error_and_leaves_no_file(generators, tmp_path, monkeypatch):
    fmt = registry.get("export", "onnx")
    wrong = type(fmt)(fmt.name, fmt.keras_format, fmt.suffix, fmt.needs,
                      lambda path, inputs: fmt.run(path, inputs) + 1e-3)
    monkeypatch.setitem(registry._objects, ("export", "onnx"), wrong)
    with pytest.raises(UsageError, match=r"differs from the generator by 1\.0\de-03"):
        export_generator(generators["mlp"], tmp_path / "g.onnx", "onnx")
    assert list(tmp_path.iterdir()) == []
    broken = type(fmt)(fmt.name, fmt.keras_format, fmt.suffix, fmt.needs, lambda path, inputs: 1 / 0)
    monkeypatch.setitem(registry._objects, ("export", "onnx"), broken)
    with pytest.raises(UsageError, match=r"^the onnx export does not run in its own runtime: division by zero$"):
        export_generator(generators["mlp"], tmp_path / "g.onnx", "onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_package_is_one_line_naming_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(UsageError, match=r'--format onnx needs tf2onnx: pip install "gan_keras\[export\]"'):
        check_format("onnx")
    assert check_format("savedmodel").name == "savedmodel"  # needs nothing beyond TensorFlow


@pytest.mark.slow
def test_export_command_writes_a_checked_file_of_a_run(tmp_path):
    from gan_keras import train

    run = tmp_path / "run"
    train("mnist", out=run, model="mlp", epochs=1, steps_per_epoch=2, verbose=0)
    result = run_cli_here("export", run, "--format", "litert", "--out", tmp_path / "digits")
    assert result.returncode == 0, result.stderr
    assert "largest difference from the Keras generator" in result.stdout
    assert (tmp_path / "digits.tflite").is_file()
    assert_one_line_error(run_cli_here("export", tmp_path / "nowhere", "--format", "onnx", "--out", tmp_path / "x"),
                          "does not exist")
    assert_one_line_error(run_cli_here("export", run, "--format", "coreml", "--out", tmp_path / "x"),
                          "invalid choice: 'coreml'")
