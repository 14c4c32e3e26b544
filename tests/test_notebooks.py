"""The notebooks' install cell: no invented address, a clear stop in Colab without one, and a
Colab-like run that installs from a local path and runs on."""

import json
import re
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Hosts the notebooks and docs may name: real places the data and libraries come from.
KNOWN_HOSTS = {"www.kaggle.com", "kaggle.com", "storage.googleapis.com", "keras.io", "www.tensorflow.org"}


def _first_code_cell(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


@pytest.mark.slow
def test_no_invented_address_anywhere():
    texts = {path: path.read_text() for path in [*NOTEBOOKS, ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                                                 *(ROOT / "gan_keras").glob("*.py")]}
    for path, text in texts.items():
        for url in re.findall(r"https?://([^/\s\"',)>\]]+)", text):
            if re.fullmatch(r"(127\.0\.0\.1|localhost)(:\d+)?", url):
                continue  # this machine: a page served by the reader
            assert url in KNOWN_HOSTS, f"{path.name} names {url}: only real, known places"
        assert not re.search(r"[\w.-]+\.git\b", text.replace(".github", "")), f"{path.name} names a git address"
    for notebook in NOTEBOOKS:
        assert 'GAN_KERAS_REPO = ""' in _first_code_cell(notebook), notebook.name


def _run_first_cell(notebook, repo, cwd):
    """Run a notebook's first code cell in a fresh Python, as Colab would (google.colab imported)."""
    cell = _first_code_cell(notebook).replace('GAN_KERAS_REPO = ""', f"GAN_KERAS_REPO = {repo!r}", 1)
    program = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n" + cell
    return subprocess.run([sys.executable, "-c", program], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_colab_without_a_repository_stops_with_one_sentence(tmp_path):
    result = _run_first_cell(NOTEBOOKS[0], "", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == ("Set GAN_KERAS_REPO in the first code cell to this repository's git URL "
                                     "(or its folder on your Drive), then run the notebook again.")


@pytest.mark.slow
def test_a_colab_like_run_installs_from_the_given_path_and_runs_on(tmp_path):
    """Notebook 01's first cell executed outside the clone with google.colab present and GAN_KERAS_REPO a
    local path, then a cell that draws with the package it installed (the rest of the notebook is nbval's)."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    first.source = first.source.replace('GAN_KERAS_REPO = ""', f"GAN_KERAS_REPO = {str(ROOT)!r}", 1)
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent("""\
        import sys, types
        sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's kernel has""")), first,
        nbformat.v4.new_code_cell(textwrap.dedent("""\
        import gan_keras as gk
        print("drew", gk.generate(gk.load_generator("pretrained:mnist"), 4).shape, "in", Path.cwd())"""))]
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = ["".join(o.get("text", "") for o in cell.outputs) for cell in notebook.cells if cell.cell_type == "code"]
    assert f"installed gan_keras from {ROOT}" in outputs[1]
    assert f"drew (4, 28, 28, 1) in {ROOT}" in outputs[2]  # the first cell moved into the repository
