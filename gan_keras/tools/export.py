"""A trained generator outside Python: SavedModel, LiteRT (.tflite) and ONNX through Keras's own
exporters (`keras.Model.export`), each checked in its own runtime before it is kept.

Every generator kind exports: the MLP, the DCGAN, the style-based one (its custom layers trace to
plain TensorFlow ops) and conditional ones (two inputs, `z` float32 (N, latent_dim) and `label`
int32 (N,)). The artifact takes the same named inputs and returns images in [-1, 1], (N, H, W, C).

Example:
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:mnist")
    >>> report = export_generator(G, "outputs/mnist.onnx", "onnx")   # written, run in onnxruntime, compared
    >>> report["max_abs_diff"] < 1e-4
    True

Using the artifacts (no gan_keras needed):

    sess = onnxruntime.InferenceSession("anime64.onnx")
    images = sess.run(None, {"z": z})[0]

    runner = ai_edge_litert.interpreter.Interpreter(model_path="anime64.tflite").get_signature_runner()
    images = runner(z=z)["output_0"]

    images = tf.saved_model.load("anime64_savedmodel").serve(z)
"""

import importlib.util
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_keras import backend, registry
from gan_keras.errors import UsageError

TOLERANCE = 1e-4  # float32 artifacts must reproduce the Keras generator to this (largest |difference|)


@dataclass(frozen=True)
class Format:
    """An export format: Keras's name for it, the file suffix, what it needs, and how to run it."""

    name: str
    keras_format: str
    suffix: str  # "" for a folder
    needs: tuple  # (import name, pip name) pairs, or (import name, pip name, the one backend that needs it)
    run: Callable | None  # (path, inputs dict) -> images
    write: Callable | None = None  # a format that writes more than one file: (generator, out, **options) -> report
    backends: tuple = backend.BACKENDS  # the Keras backends that export it


def _run_savedmodel(path, inputs):
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    (images,) = serve(**{k: tf.constant(v) for k, v in inputs.items()}).values()
    return np.asarray(images)


def _litert_interpreter():
    if importlib.util.find_spec("ai_edge_litert") is not None:
        from ai_edge_litert.interpreter import Interpreter
    else:  # TensorFlow's own copy of the interpreter
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


def _run_litert(path, inputs):
    runner = _litert_interpreter()(model_path=str(path)).get_signature_runner()
    (images,) = runner(**inputs).values()
    return np.asarray(images)


def _run_onnx(path, inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, inputs)[0])


registry.declare("export", "savedmodel", Format("savedmodel", "tf_saved_model", "", (), _run_savedmodel,
                                                backends=("tensorflow",)))
registry.declare("export", "litert", Format("litert", "litert", ".tflite", (), _run_litert, backends=("tensorflow",)))
# Keras exports ONNX through tf2onnx on TensorFlow and torch.onnx on PyTorch; from JAX only with jax2onnx
registry.declare("export", "onnx", Format("onnx", "onnx", ".onnx",
                                          (("tf2onnx", "tf2onnx", "tensorflow"), ("onnx", "onnx", "torch"),
                                           ("onnxruntime", "onnxruntime")),
                                          _run_onnx, backends=("tensorflow", "torch")))


def check_format(name):
    """The `Format` called `name`; one UsageError line for an unknown one or a missing package."""
    fmt = registry.get("export", name)
    if backend.name() not in fmt.backends:
        raise UsageError(f"--format {name} needs Keras on {' or '.join(fmt.backends)}; this process runs it on "
                         f"{backend.name()} (set KERAS_BACKEND={fmt.backends[0]})")
    missing = [need[1] for need in fmt.needs
               if (len(need) < 3 or need[2] == backend.name()) and importlib.util.find_spec(need[0]) is None]
    if missing:
        raise UsageError(f"--format {name} needs {' and '.join(missing)}: pip install \"gan_keras[export]\" "
                         f"(or pip install {' '.join(missing)})")
    return fmt


def example_inputs(generator, n=4, seed=0):
    """Named inputs for a check: N(0, 1) noise `z` and, for a conditional generator, the classes in turn."""
    from gan_keras.networks.build import LABEL, num_classes

    latent_dim = int(generator.inputs[0].shape[-1])
    inputs = {"z": np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)}
    classes = num_classes(generator)
    if classes:
        inputs[LABEL] = (np.arange(n) % classes).astype(np.int32)
    return inputs


def _keras_images(generator, inputs):
    from gan_keras.networks.build import LABEL, draw

    return np.asarray(draw(generator, inputs["z"], inputs.get(LABEL)))


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def export_generator(generator, path, format="onnx", n=4, seed=0, tolerance=TOLERANCE):
    """Write `generator` to `path` in `format`, run the artifact in its runtime on `n` seeded latents,
    and keep it only if it draws what the Keras generator draws (largest |difference| <= `tolerance`).

    Returns {"path", "format", "max_abs_diff", "inputs"}. A failed export or check raises UsageError
    and leaves no file behind.
    """
    from gan_keras.networks.layers import with_keras_layers

    fmt = check_format(format)
    if fmt.write:
        raise UsageError(f"{format} writes a folder of several files: use run_export or its own writer")
    generator = float32_copy(with_keras_layers(generator))  # Keras's own layers: plain ops in the artifact
    path = Path(path)
    if fmt.suffix and path.suffix != fmt.suffix:
        path = path.with_name(path.name + fmt.suffix)
    inputs = example_inputs(generator, n, seed)
    diff = export_model(generator, path, fmt, inputs, lambda: _keras_images(generator, inputs), tolerance)
    return {"path": path, "format": format, "max_abs_diff": diff, "inputs": sorted(inputs)}


def export_model(model, path, fmt, inputs, expected, tolerance=TOLERANCE):
    """Export `model` to `path` in `fmt` (a `Format`), run it on `inputs` in that format's runtime and keep
    it only if it matches `expected()` (the Keras model's output) to `tolerance`. Returns the largest
    |difference|; anything wrong raises one UsageError line and leaves no file behind."""
    import logging

    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{fmt.suffix}")
    _remove(tmp)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    expected()  # also builds a model loaded from .keras: export needs a call
    try:
        try:
            with warnings.catch_warnings():  # tf2onnx's look-up of np.object warns on NumPy 2
                warnings.simplefilter("ignore", FutureWarning)
                model.export(str(tmp), format=fmt.keras_format, verbose=False)
        except Exception as e:  # the converter names the op or layer it cannot take
            layer = _first_custom_layer(model)
            raise UsageError(f"{fmt.name} cannot take this generator{f' (layer {layer})' if layer else ''}: "
                             f"{str(e).strip().splitlines()[0][:300]}") from None
        want = np.asarray(expected())
        try:
            got = fmt.run(tmp, inputs)
        except Exception as e:  # e.g. LiteRT without kernels for an op the converter kept
            raise UsageError(f"the {fmt.name} export does not run in its own runtime: "
                             f"{str(e).strip().splitlines()[0][:300]}") from None
        if got.shape != want.shape:
            raise UsageError(f"the {fmt.name} export draws images of shape {got.shape}, the generator {want.shape}")
        diff = float(np.max(np.abs(got.astype(np.float64) - want)))
        if not diff <= tolerance:
            raise UsageError(f"the {fmt.name} export differs from the generator by {diff:.2e} (more than "
                             f"{tolerance:g}); nothing written")
        _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)
    return diff


def float32_copy(model):
    """`model` itself when it computes in float32, else the same weights in a float32 copy.

    A generator trained with `--mixed-precision` is saved with its layers' bfloat16 or float16
    policies; the export runtimes need a float32 graph (LiteRT's interpreter has no kernels for
    the casts), and an artifact should draw at full precision anyway.
    """
    import keras

    config = keras.saving.serialize_keras_object(model)
    if not _to_float32(config):
        return model
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def _to_float32(config):
    """Set every dtype policy in a serialized model to float32, in place; whether any was not."""
    changed = False
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") != "float32":
            config["config"]["name"] = "float32"
            changed = True
        for value in config.values():
            changed = _to_float32(value) or changed
    elif isinstance(config, list):
        for value in config:
            changed = _to_float32(value) or changed
    return changed


def _first_custom_layer(model):
    """The first layer (searching sub-models) that is not one of Keras's own, for an error message."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            inner = _first_custom_layer(layer)
            if inner:
                return inner
        elif not type(layer).__module__.startswith("keras"):
            return f"{layer.name} ({type(layer).__name__})"
    return None


def run_export(run, out, format="onnx", directions=None):
    """Export the generator of `run` (a run folder or "pretrained:NAME") to `out` in `format`, checked in
    that format's runtime (`export_generator`; for the web page, in the browser when it opens);
    prints what it wrote. Returns the report.

    Example:
        >>> report = run_export("pretrained:mnist", "outputs/mnist.tflite", "litert")
        wrote outputs/mnist.tflite (litert, inputs: z); checked in its runtime: largest difference ...
    """
    from gan_keras.runs.config import load_config
    from gan_keras.runs.loading import load_generator

    fmt = check_format(format)  # a missing package: one line before anything loads
    if directions and not fmt.write:
        raise UsageError(f"--directions is for --format web (the page's sliders), not {format}")
    if fmt.write:
        report = fmt.write(load_generator(run), out, directions=directions, run=run,
                           class_names=load_config(run)[1].get("class_names"))
        print(f"wrote {report['path']}/ ({report['bytes'] / 1e6:.1f} MB: {', '.join(report['parts'])}, "
              f"{report['directions']} sliders); open {report['path']}/index.html, or serve the folder: "
              f"python -m http.server -d {report['path']}")
        return report
    report = export_generator(load_generator(run), out, format)
    print(f"wrote {report['path']} ({format}, inputs: {', '.join(report['inputs'])}); checked in its runtime: "
          f"largest difference from the Keras generator {report['max_abs_diff']:.1e}")
    return report
