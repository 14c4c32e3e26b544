"""The package as `pip install .` builds it: the wheel holds the whole package tree (the shipped
generators included), and installed into a fresh virtual environment (no `-e`) it samples from a
shipped generator and from a trained run, in another folder."""

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gan_keras import train
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built as pip builds it for `pip install .`, from a copy of the source (a `build/` folder
    left in the clone by an earlier build would otherwise lend the wheel its stale files)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "gan_keras", source / "gan_keras", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("gan_keras-*.whl")
    return path


def _package_tree():
    """Every file of the package that a wheel must carry: modules and package data, whatever its suffix."""
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / "gan_keras").rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file_of_the_package(wheel):
    names = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("gan_keras/")}
    tree = _package_tree()
    assert "gan_keras/networks/dcgan.py" in tree  # the subpackage the old wheel left out
    assert "gan_keras/pretrained/mnist/weights.npz" in tree  # a shipped generator
    assert tree - names == set(), f"left out of the wheel: {sorted(tree - names)}"


@pytest.mark.slow
def test_the_wheel_installed_without_editable_mode_samples_from_another_folder(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c",
                                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    # TensorFlow and the rest come from this environment, after the venv's own site-packages.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                              "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr

    run = tmp_path / "run"
    train("mnist", out=run, model="mlp", epochs=1, steps_per_epoch=2, verbose=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import gan_keras.networks.dcgan as m; print(m.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout  # the installed copy, not the clone
    result = subprocess.run([str(python), "-m", "gan_keras", "sample", str(run), "--n", "16", "--out", "s.npz"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    images = np.load(elsewhere / "s.npz")["images"]
    assert images.shape == (16, 28, 28) and images.dtype == np.uint8 and images.std() > 0
    shipped = subprocess.run([str(python), "-m", "gan_keras", "sample", "pretrained:mnist", "--n", "8", "--out",
                              "digits.npz"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert shipped.returncode == 0, shipped.stderr
    digits = np.load(elsewhere / "digits.npz")["images"]
    assert digits.shape == (8, 28, 28) and digits.std() > 20  # trained digits: ink on black, not noise
