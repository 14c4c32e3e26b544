"""A generator in a web page: `export --format web` writes a folder that draws faces in any browser,
offline, from a static server or straight from the disk (file://), with a slider per direction.

The folder:

    index.html, page.js, page.css   the page (plain HTML and JavaScript, no build step)
    generator.js                    window.GAN = {...}: one JSON object with the ONNX graphs (base64), the
                                    latent size, the directions and check cases drawn by Keras
    runtime/                        onnxruntime-web's JavaScript and WebAssembly (the WebAssembly and its
                                    loader as strings in ort-wasm.js, so that file:// needs no fetch)

A DCGAN or MLP is one graph, z (and a class) -> image. A style-based generator is two, the mapping
z -> w and the synthesis w -> image, so that the page truncates and moves w as the package does.
On load the page draws the check cases and puts the largest difference from Keras's images on
`<body data-max-diff>`, then sets `data-state="ready"`.

onnxruntime-web comes from npm: `npm install` in the repository (package.json pins the version) puts it
in node_modules/, where the exporter finds it; or set GAN_KERAS_ORT_WEB to a folder holding its
dist files.

Example:
    >>> from gan_keras.runs.loading import load_generator
    >>> report = export_web(load_generator("pretrained:mnist"), "outputs/mnist_web", run="pretrained:mnist")
    >>> sorted(p.name for p in report["path"].iterdir())
    ['generator.js', 'index.html', 'page.css', 'page.js', 'runtime']
    >>> report["parts"], report["directions"]
    (['synthesis'], 6)
"""

import base64
import json
import os
import shutil
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.tools.export import Format, check_format, export_model, float32_copy

PAGE = Path(__file__).parent / "web_page"  # index.html, page.js, page.css: copied as they are
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
TOLERANCE = 1e-3  # the page's images against Keras's (WebAssembly's float32 kernels sum in another order)
ENV = "GAN_KERAS_ORT_WEB"


def find_runtime():
    """(folder, version) of onnxruntime-web's dist files: $GAN_KERAS_ORT_WEB, else node_modules/ in the
    current folder or the repository. One UsageError line that says how to get them when missing."""
    if os.environ.get(ENV):
        candidates = [Path(os.environ[ENV])]
    else:
        here = [Path.cwd(), Path(__file__).resolve().parents[2]]
        candidates = [root / "node_modules" / "onnxruntime-web" / "dist" for root in here]
    for folder in candidates:
        if all((folder / name).is_file() for name in RUNTIME_FILES):
            package = folder.parent / "package.json"
            version = json.loads(package.read_text())["version"] if package.is_file() else "unknown"
            return folder, version
    raise UsageError(f"--format web copies onnxruntime-web into the page, and it is not in {candidates[0]}: run "
                     f"`npm install` in the repository (package.json names it), or set {ENV} to a folder with "
                     f"{', '.join(RUNTIME_FILES)}")


def page_parts(generator):
    """The Keras models the page runs, by name: {"synthesis": G} for a DCGAN or MLP; for a style-based G
    {"mapping": z (and label) -> w, "synthesis": w -> image (the same w for every layer)}."""
    import keras

    from gan_keras.networks.build import CLASS_EMBEDDING, LABEL, num_classes
    from gan_keras.networks.stylegan import MAPPING, SYNTHESIS
    from gan_keras.tools import latent

    if not latent.is_style_based(generator):
        return {"synthesis": generator}
    z = keras.Input((int(generator.inputs[0].shape[-1]),), name="z")
    inputs, x = z, z
    if num_classes(generator):
        label = keras.Input((), dtype="int32", name=LABEL)
        inputs, x = [z, label], keras.layers.Concatenate()([z, generator.get_layer(CLASS_EMBEDDING)(label)])
    mapping = keras.Model(inputs, generator.get_layer(MAPPING)(x), name="mapping")
    w = keras.Input((latent.latent_size(generator, "w"),), name="w")
    images = generator.get_layer(SYNTHESIS)(keras.layers.RepeatVector(latent.num_ws(generator))(w))
    return {"mapping": mapping, "synthesis": keras.Model(w, images, name="synthesis")}


def check_cases(generator, found, n=4, seed=0):
    """`n` cases the page must draw as Keras does: a seeded z, a class, slider amounts and truncation psi,
    with the image the package's own functions draw for them (`latent.render`, `edit.edit_latents`)."""
    from gan_keras.networks.build import num_classes
    from gan_keras.tools import latent
    from gan_keras.tools.edit import edit_latents

    rng = np.random.default_rng(seed)
    classes, style = num_classes(generator), latent.is_style_based(generator)
    cases = []
    for i in range(n):
        z = rng.standard_normal(int(generator.inputs[0].shape[-1])).astype(np.float32)
        label = i % classes if classes else 0
        amounts = [0.0] * len(found) if i == 0 else np.round(rng.uniform(-2, 2, len(found)), 2).tolist()
        psi = (1.0, 1.0, 0.7, 0.5)[i % 4] if style else 1.0
        labels = np.array([label]) if classes else None
        if style:
            w = latent.to_w(generator, z[None], labels)
            current, space = latent.truncate(w, latent.mean_w(generator, labels=labels), psi), "w"
        else:
            current, space = z[None], "z"
        for k, amount in enumerate(amounts):
            if amount:
                current, space = edit_latents(current, space, found.vectors[k], found.std[k], [amount])
        image = latent.render(generator, current, space, labels if space == "z" else None)[0]
        cases.append({"z": _b64(z), "label": label, "amounts": amounts, "psi": psi, "image": _b64(image)})
    return cases


def _b64(array):
    return base64.b64encode(np.ascontiguousarray(array, np.float32).tobytes()).decode("ascii")


def _onnx_part(model, name, folder):
    """The ONNX bytes of one part, checked in onnxruntime against Keras (`export.export_model`)."""
    import keras

    fmt = check_format("onnx")
    rng = np.random.default_rng(0)
    inputs = {}
    for tensor in model.inputs:
        key = tensor.name.split(":")[0]
        if "int" in str(tensor.dtype):
            inputs[key] = np.zeros(3, np.int32)
        else:
            inputs[key] = rng.standard_normal((3, *tensor.shape[1:])).astype(np.float32)
    names = [t.name.split(":")[0] for t in model.inputs]
    args = [inputs[key] for key in names]

    def keras_output():
        return keras.ops.convert_to_numpy(model(args if len(args) > 1 else args[0], training=False))

    path = Path(folder) / f"{name}.onnx"
    export_model(model, path, fmt, inputs, keras_output)
    return {"inputs": names, "onnx": base64.b64encode(path.read_bytes()).decode("ascii")}


def export_web(generator, out, found=None, run="", class_names=None, k=6):
    """Write the page for `generator` into folder `out` (replaced if it holds an earlier export).

    `found`: a `directions.Directions` in the generator's default space (z, or w for a style-based G);
    default: the top `k` SeFa directions. Returns {"path", "parts", "directions", "bytes"}.
    """
    import tempfile

    from gan_keras.networks.build import num_classes
    from gan_keras.networks.layers import with_keras_layers
    from gan_keras.tools import latent
    from gan_keras.tools.directions import sefa

    runtime, version = find_runtime()
    out = Path(out)
    if out.exists() and not (out / "generator.js").is_file():
        raise UsageError(f"{out} exists and is not a web export: choose a new folder")
    if not out.parent.is_dir():
        raise UsageError(f"folder {out.parent} does not exist")
    generator = float32_copy(generator)
    space = latent.default_space(generator)
    found = found if found is not None else sefa(generator, k=k, run=str(run))
    if found.space != space:
        raise UsageError(f"the page moves the generator's {space}; these directions are in {found.space} "
                         f"(find them with `directions RUN` without --space)")
    classes = num_classes(generator)
    names = list(class_names or [])[:classes] or [f"class {i}" for i in range(classes)]
    shape = [int(s) for s in generator.outputs[0].shape[1:]]
    style = latent.is_style_based(generator)
    facts = {
        "format": 1,
        "title": f"{str(run).removeprefix('pretrained:') or 'generator'}: a generator in your browser",
        "about": f"{'x'.join(map(str, shape))} images from the {found.vectors.shape[1]}-d {space} of a "
                 f"{generator.name.removeprefix('generator_')} generator{f' of {classes} classes' if classes else ''}; "
                 f"{len(found)} {found.method} directions",
        "run": str(run), "runtime_version": version, "tolerance": TOLERANCE,
        "image_shape": shape, "latent_dim": int(generator.inputs[0].shape[-1]),
        "class_names": names or None,
        "w_dim": latent.latent_size(generator, "w") if style else None,
        "w_avg": [latent.mean_w(generator, labels=c if classes else None).tolist()
                  for c in range(max(classes, 1))] if style else None,
        "directions": {"space": found.space, "method": found.method, "names": list(found.names)[:len(found)]
                       or [f"{found.method} {i}" for i in range(len(found))],
                       "vectors": found.vectors.tolist(), "std": np.asarray(found.std).tolist()},
        "checks": check_cases(generator, found),
    }
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        parts = page_parts(with_keras_layers(generator))
        facts["models"] = {name: _onnx_part(model, name, tmp) for name, model in parts.items()}
        page = Path(tmp) / "page"
        shutil.copytree(PAGE, page)
        (page / "generator.js").write_text("// Written by `python -m gan_keras export --format web`: the generator's "
                                           "graphs (ONNX, base64) and facts, as one JSON object.\nwindow.GAN = "
                                           + json.dumps(facts) + ";\n")
        write_runtime(runtime, version, page / "runtime")
        if out.exists():
            shutil.rmtree(out)
        os.replace(page, out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"path": out, "parts": sorted(parts), "directions": len(found), "bytes": size}


def write_runtime(dist, version, folder):
    """onnxruntime-web into `folder`: its loader script as it is, and its WebAssembly build (the .mjs
    module and the .wasm binary) as strings in ort-wasm.js, which a page opened from file:// can load."""
    folder.mkdir()
    shutil.copy(dist / "ort.wasm.min.js", folder / "ort.wasm.min.js")
    glue = (dist / "ort-wasm-simd-threaded.mjs").read_text()
    binary = base64.b64encode((dist / "ort-wasm-simd-threaded.wasm").read_bytes()).decode("ascii")
    (folder / "ort-wasm.js").write_text(
        f"// onnxruntime-web {version} (MIT License, Copyright (c) Microsoft Corporation): its WebAssembly build, "
        "ort-wasm-simd-threaded.mjs and .wasm, as strings.\n"
        f"window.ORT_WASM = {{glue: {json.dumps(glue)}, wasm: \"{binary}\"}};\n")


def write_web(generator, out, directions=None, run="", class_names=None):
    """`export --format web`: the page, with `directions` (a directions.npz) or SeFa's."""
    from gan_keras.tools.directions import load_directions

    found = load_directions(directions, generator)[0] if directions else None
    report = export_web(generator, out, found, run=run, class_names=class_names)
    report["format"] = "web"
    return report


registry.declare("export", "web", Format("web", "onnx", "", (("tf2onnx", "tf2onnx", "tensorflow"),
                                                             ("onnx", "onnx", "torch"), ("onnxruntime", "onnxruntime")),
                                         None, write_web, backends=("tensorflow", "torch")), page=True)
