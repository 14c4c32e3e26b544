"""The docs: docs/cli.md is the parser's own help, the README is a newcomer's page whose links resolve,
and every docstring example in the package runs (doctest) in a workspace with a small run folder and
a few image files, the names the examples use."""

import doctest
import importlib
import os
import re

import numpy as np
import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
EXAMPLE_MODULES = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                         for p in (ROOT / "gan_keras").rglob("*.py") if ">>>" in p.read_text())


def test_the_cli_reference_is_the_parsers_own_help():
    from gan_keras.cli.reference import PAGE, reference

    assert PAGE.read_text() == reference(), "run: python -m gan_keras.cli.reference"


def test_the_readme_is_a_short_page_and_the_reference_is_in_docs():
    readme = (ROOT / "README.md").read_text()
    words = len(re.sub(r"```.*?```", "", readme, flags=re.S).split())  # prose and tables; the code blocks run
    assert len(readme.split()) <= 1200 and words <= 900, (len(readme.split()), words)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", readme), "dated log lines belong in docs/benchmarks/"
    pages = {p.name for p in DOCS.glob("*.md")}
    assert {"cli.md", "recipe.md", "editing.md", "run-folder.md", "results.md", "CONTRIBUTING.md"} <= pages
    assert "BENCHMARKS.md" not in pages


def numbers(text):
    """The measured numbers of a page: decimals and thousands (4.85, 39.3, 29,611), not versions or sizes."""
    text = re.sub(r"```.*?```|\([^)]*\.(?:md|png|jpg|gif|ipynb)[^)]*\)", "", text, flags=re.S)
    return set(re.findall(r"(?<![\w.,-])\d{1,3}(?:,\d{3})+(?![\d.])|(?<![\w.,-])\d+\.\d+(?![\d.])", text))


def test_every_number_the_readme_states_is_on_the_results_page():
    assert numbers("SWD 39.3 ± 2.1 after 29,611 steps (python 3.11, 2.18-2.21)") >= {"39.3", "2.1", "29,611"}
    readme, results = (ROOT / "README.md").read_text(), (DOCS / "results.md").read_text()
    versions = set(re.findall(r"\d+\.\d+(?=-\d)|(?<=-)\d+\.\d+", readme))  # "TensorFlow 2.18-2.21"
    assert numbers(readme) - versions <= numbers(results)


def test_the_measurement_log_is_dated_pages_listed_in_its_index():
    log = DOCS / "benchmarks"
    pages = sorted(p.name for p in log.glob("*.md") if p.name != "README.md")
    assert len(pages) > 20 and all(re.fullmatch(r"20\d\d-\d\d-\d\d-[a-z0-9-]+\.md", p) for p in pages)
    index = (log / "README.md").read_text()
    assert all(f"]({p})" in index for p in pages)


def test_every_relative_link_of_the_readme_and_the_docs_resolves():
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+://", target):
                assert (page.parent / target).exists(), f"{page.name} links to {target}"


def anchors(page):
    """GitHub's anchors of a Markdown page's headings."""
    headings = re.findall(r"(?m)^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.S))
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_link_to_an_anchor_of_the_docs_names_a_heading_there():
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", page.read_text()):
            linked = (page.parent / target) if target else page
            assert anchor in anchors(linked), f"{page.name} links to {target}#{anchor}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder to run the examples in: a trained run `outputs/run`, an image `me.png`, a folder
    `my_faces/` and a folder of classes `flowers/`; the names the examples use besides."""
    from PIL import Image

    from gan_keras import train
    from gan_keras.data.load import load_images

    folder = tmp_path_factory.mktemp("examples")
    previous = os.getcwd()
    os.chdir(folder)
    faces = load_images("anime")[:12]
    Image.fromarray(faces[0]).save("me.png")
    for name, group in (("my_faces", faces[:8]), ("flowers/rose", faces[:4]), ("flowers/tulip", faces[4:8])):
        (folder / name).mkdir(parents=True)
        for i, face in enumerate(group):
            Image.fromarray(face).save(folder / name / f"{i}.png")
    train("mnist", out="outputs/run", epochs=1, steps_per_epoch=20, verbose=0)
    yield folder
    os.chdir(previous)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLE_MODULES)
def test_the_docstring_examples_run(name, workspace):
    module = importlib.import_module(name)
    if hasattr(module, "find_runtime"):  # the web page's example copies onnxruntime-web, which `npm install` brings
        from gan_keras.errors import UsageError

        try:
            module.find_runtime()
        except UsageError as e:
            if os.environ.get("GAN_KERAS_CI"):
                pytest.fail(f"onnxruntime-web is missing: .ci/run installs it ({e})")
            pytest.skip(f"onnxruntime-web is missing ({e})")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in doctest.DocTestFinder().find(module, name, extraglobs={"np": np}) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no example doctest finds"
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
