"""`export --format web`: the folder, its facts (redrawn here the way the page draws them), its errors,
and the page itself in headless Chromium served on 127.0.0.1: it computes what Keras computes, a
slider changes the face, and nothing is loaded from anywhere else.

The browser tests need Debian's chromium and the Python package playwright, and every test here
needs onnxruntime-web (`npm install`); `.ci/run` installs all three and sets GAN_KERAS_CI, which
turns a missing one into a failure instead of a skip.

GAN_KERAS_WEB_REPORT=FOLDER: the browser tests also write there a screenshot per generator kind and
timings.json (folder size, time to first faces, time per slider move), for the README.
"""

import functools
import http.server
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gan_keras.errors import UsageError
from tests.conftest import assert_one_line_error, run_cli_here

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require(what, present):
    if not present:
        if os.environ.get("GAN_KERAS_CI"):
            pytest.fail(f"{what} is missing: .ci/run installs it")
        pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def runtime():
    from gan_keras.tools.web import find_runtime

    try:
        return find_runtime()
    except UsageError as e:
        require(f"onnxruntime-web ({e})", False)


def read_facts(folder):
    """window.GAN of an exported folder, as a dict."""
    text = (Path(folder) / "generator.js").read_text()
    return json.loads(text[text.index("window.GAN = ") + len("window.GAN = "):].rstrip().rstrip(";"))


def floats(text):
    import base64

    return np.frombuffer(base64.b64decode(text), np.float32)


def draw_as_the_page(facts, z, label, amounts, psi):
    """What page.js computes, in NumPy and onnxruntime: an independent reading of generator.js."""
    import base64

    import onnxruntime

    sessions = {name: (onnxruntime.InferenceSession(base64.b64decode(part["onnx"]), providers=["CPUExecutionProvider"]),
                       part["inputs"]) for name, part in facts["models"].items()}
    label = np.array([label], np.int32)
    latent = z[None].astype(np.float32)
    if "mapping" in sessions:
        session, inputs = sessions["mapping"]
        w = session.run(None, {"z": latent, **({"label": label} if "label" in inputs else {})})[0]
        centre = np.asarray(facts["w_avg"][label[0] if len(facts["w_avg"]) > 1 else 0], np.float32)
        latent = centre + psi * (w - centre)
    directions = facts["directions"]
    for k, amount in enumerate(amounts):
        latent = latent + amount * directions["std"][k] * np.asarray(directions["vectors"][k], np.float32)
    session, inputs = sessions["synthesis"]
    feeds = {inputs[0]: latent.astype(np.float32), **({"label": label} if "label" in inputs else {})}
    return session.run(None, feeds)[0][0]


@pytest.fixture(scope="module")
def style_generators(tmp_path_factory):
    """A small conditional style-based generator from a fresh (two-step) run: the mapping and the
    synthesis as two graphs, truncation and the class menu."""
    from gan_keras.runs.loading import load_generator
    from gan_keras.runs.train import train

    return {"stylegan_conditional": load_generator(train("mnist", limit=256, model="stylegan", conditional=True,
                                                         width=8, batch_size=16, epochs=1, steps_per_epoch=2,
                                                         out=tmp_path_factory.mktemp("fresh") / "run",
                                                         verbose=0).out)}


@pytest.fixture(scope="module")
def exports(runtime, style_generators, tmp_path_factory):
    """One export per generator kind: the shipped MLP, conditional MLP and DCGAN, and a fresh style-based one."""
    from gan_keras.runs.config import load_config
    from gan_keras.runs.loading import load_generator
    from gan_keras.tools.web import export_web

    root = tmp_path_factory.mktemp("web")
    folders = {}
    for kind, run in [("mlp", "pretrained:mnist"), ("mlp_conditional", "pretrained:mnist_conditional"),
                      ("dcgan", "pretrained:anime64")]:
        folders[kind] = export_web(load_generator(run), root / kind, run=run,
                                   class_names=load_config(run)[1].get("class_names"))["path"]
    for kind, G in style_generators.items():
        folders[kind] = export_web(G, root / kind, run=kind, k=3)["path"]
    return folders


@pytest.mark.slow
def test_the_folder_holds_the_page_the_runtime_and_facts_that_redraw_keras_images(exports):
    for kind, folder in exports.items():
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["generator.js", "index.html", "page.css", "page.js", "runtime"], kind
        assert sorted(p.name for p in (folder / "runtime").iterdir()) == ["ort-wasm.js", "ort.wasm.min.js"]
        facts = read_facts(folder)
        assert sorted(facts["models"]) == (["mapping", "synthesis"] if "stylegan" in kind else ["synthesis"])
        assert (facts["class_names"] is not None) == kind.endswith("conditional")
        assert len(facts["checks"]) == 4 and any(any(c["amounts"]) for c in facts["checks"])
        for check in facts["checks"]:
            drawn = draw_as_the_page(facts, floats(check["z"]), check["label"], check["amounts"], check["psi"])
            expected = floats(check["image"]).reshape(facts["image_shape"])
            assert np.max(np.abs(drawn - expected)) < 1e-4, kind
        if kind.startswith("stylegan"):
            assert {c["psi"] for c in facts["checks"]} == {1.0, 0.7, 0.5}


@pytest.mark.slow
def test_the_shipped_class_names_reach_the_page(exports):
    assert read_facts(exports["mlp_conditional"])["class_names"][:3] == ["0", "1", "2"]


def test_export_web_from_the_command_line_with_saved_directions(runtime, tmp_path):
    assert run_cli_here("directions", "pretrained:mnist", "--k", 3, "--out", tmp_path / "dirs").returncode == 0
    done = run_cli_here("export", "pretrained:mnist", "--format", "web", "--out", tmp_path / "page",
                        "--directions", tmp_path / "dirs" / "directions.npz")
    assert done.returncode == 0, done.stderr
    assert "python -m http.server" in done.stdout
    facts = read_facts(tmp_path / "page")
    with np.load(tmp_path / "dirs" / "directions.npz") as saved:
        np.testing.assert_array_equal(np.asarray(facts["directions"]["vectors"], np.float32), saved["vectors"])
    again = run_cli_here("export", "pretrained:mnist", "--format", "web", "--out", tmp_path / "page")
    assert again.returncode == 0, again.stderr  # an earlier export is replaced
    assert len(read_facts(tmp_path / "page")["directions"]["names"]) == 6


def test_bad_input_is_one_line(runtime, tmp_path, monkeypatch):
    (tmp_path / "notes").mkdir()
    assert_one_line_error(run_cli_here("export", "pretrained:mnist", "--format", "web", "--out", tmp_path / "notes"),
                          "not a web export")
    assert_one_line_error(run_cli_here("export", "pretrained:mnist", "--format", "onnx", "--out", tmp_path / "g",
                                       "--directions", tmp_path / "d.npz"), "--directions is for --format web")
    assert_one_line_error(run_cli_here("export", "pretrained:mnist", "--format", "web", "--out", tmp_path / "p",
                                       "--directions", tmp_path / "missing.npz"), "does not exist")
    monkeypatch.setenv("GAN_KERAS_ORT_WEB", str(tmp_path))
    assert_one_line_error(run_cli_here("export", "pretrained:mnist", "--format", "web", "--out", tmp_path / "p"),
                          "npm install")
    assert not (tmp_path / "p").exists()


def test_directions_of_another_space_are_refused(runtime, tmp_path):
    from gan_keras.networks.build import Build_Gen
    from gan_keras.tools.directions import Directions
    from gan_keras.tools.web import export_web

    in_z = Directions(np.eye(8, dtype=np.float32)[:2], "z", "test", np.ones(2), np.ones(2))
    with pytest.raises(UsageError, match="in z"):
        export_web(Build_Gen("stylegan", 8, (16, 16, 3), width=8), tmp_path / "p", in_z)
    assert not (tmp_path / "p").exists()


# ---------------------------------------------------------------------------------------------
# In the browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    require("chromium (apt install chromium)", CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require("playwright (pip install playwright)", False)
    with sync_playwright() as p:
        # no background networking: Chromium's own calls home would fail on a closed machine anyway
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def serve(folder):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1000, "height": 640})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=120_000)
    assert page.get_attribute("body", "data-state") == "ready", page.get_attribute("body", "data-error")
    return page, requests


def large_face(page):
    return page.evaluate("document.getElementById('large').toDataURL()")


def move(page, control, presses=10):
    """Move a slider by keyboard as a user would; returns the large face's redraw time in ms."""
    draws = int(page.get_attribute("body", "data-draws"))
    page.focus(f"input[data-control='{control}']")
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"Number(document.body.dataset.draws) >= {draws + presses}")
    return float(page.get_attribute("body", "data-draw-ms"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "mlp_conditional", "dcgan", "stylegan_conditional"])
def test_the_page_draws_what_keras_draws_and_its_sliders_move_the_face(browser, exports, kind):
    folder = exports[kind]
    server = serve(folder)
    origin = f"http://127.0.0.1:{server.server_port}"
    try:
        started = time.perf_counter()
        page, requests = open_page(browser, f"{origin}/index.html")
        ready_s = time.perf_counter() - started
        assert float(page.get_attribute("body", "data-max-diff")) < 1e-3
        assert "bad" not in (page.get_attribute("footer", "class") or "")
        facts = read_facts(folder)
        before = large_face(page)
        move_ms = move(page, facts["directions"]["names"][0])
        assert large_face(page) != before
        if facts["models"].get("mapping"):
            before = large_face(page)
            page.focus("input[data-control='truncation']")
            page.keyboard.press("Home")  # psi 0: the mean face
            page.wait_for_function("document.querySelector(\"input[data-control='truncation']\").value === '0'")
            page.wait_for_timeout(200)
            assert large_face(page) != before
        if facts["class_names"]:
            grid = page.evaluate("[...document.querySelectorAll('#grid canvas')].map(c => c.toDataURL())")
            draws = int(page.get_attribute("body", "data-draws"))
            page.select_option("select[data-control='class']", "1")
            page.wait_for_function(f"Number(document.body.dataset.draws) > {draws}")
            assert page.evaluate("[...document.querySelectorAll('#grid canvas')].map(c => c.toDataURL())") != grid
        with page.expect_download() as download:
            page.click("#download")
        assert download.value.suggested_filename.endswith(".png")
        outside = [url for url in requests if not url.startswith((origin, f"blob:{origin}", "data:"))]
        assert outside == []
        report = os.environ.get("GAN_KERAS_WEB_REPORT")
        if report:
            Path(report).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(report) / f"web_{kind}.png"))
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            timings = Path(report) / "timings.json"
            rows = json.loads(timings.read_text()) if timings.is_file() else {}
            rows[kind] = {"folder_mb": round(size / 1e6, 1), "ready_s": round(ready_s, 2),
                          "first_faces_ms": float(page.get_attribute("body", "data-first-faces-ms")),
                          "slider_move_ms": move_ms, "max_diff": float(page.get_attribute("body", "data-max-diff")),
                          "chromium": browser.version}
            timings.write_text(json.dumps(rows, indent=1))
        page.close()
    finally:
        server.shutdown()


@pytest.mark.slow
def test_the_page_opens_from_the_disk_too(browser, exports):
    page, requests = open_page(browser, (exports["dcgan"] / "index.html").as_uri())
    assert float(page.get_attribute("body", "data-max-diff")) < 1e-3
    assert all(url.startswith(("file://", "blob:null/", "data:")) for url in requests)
    page.close()


@pytest.mark.slow
def test_the_notebook_explorer_moves_the_face_in_jupyterlab(browser, tmp_path):
    """Notebook 08's explorer (`Explorer.widget()`) in JupyterLab served on 127.0.0.1: a slider moved by
    its readout redraws the face, through the kernel, as a person using it would see."""
    import secrets
    import socket
    import subprocess
    import sys
    import urllib.request

    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from gan_keras.tools.directions import sefa\n"
        "from gan_keras.tools.explorer import Explorer\n"
        "from gan_keras.tools.sample import load_generator\n"
        "G = load_generator('pretrained:mnist')\n"
        "Explorer(G, sefa(G, k=3), scale=6).widget()")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "explorer.ipynb")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         "--allow-root"],  # CI runs as root
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is up
        page.click(".jp-Notebook .jp-Cell .cm-content")
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector(".widget-hslider", timeout=180_000)
        face = "() => { const img = document.querySelector('.jupyter-widgets img'); const c = " \
               "document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight; " \
               "c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL(); }"
        page.wait_for_function("document.querySelector('.jupyter-widgets img')?.naturalWidth > 0")
        before = page.evaluate(face)
        readout = page.locator(".widget-hslider .widget-readout").first
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("2.5")
        page.keyboard.press("Enter")
        page.wait_for_function(f"({face})() !== {json.dumps(before)}", timeout=60_000)
        report = os.environ.get("GAN_KERAS_WEB_REPORT")
        if report:
            page.screenshot(path=str(Path(report) / "explorer_jupyterlab.png"))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
