"""Test-session settings shared by the unit tests and the notebooks (nbval starts their kernels
from this process, so they inherit the environment set here)."""

import os
from pathlib import Path

_SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"
if "GAN_KERAS_DATA_DIR" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["GAN_KERAS_DATA_DIR"] = str(_SHARED_DATA)
os.environ.setdefault("GAN_KERAS_SMOKE", "1")  # notebooks: small settings under test
# Feature classifiers are cached inside the (untracked) outputs/, never in a shared data folder.
os.environ.setdefault("GAN_KERAS_CACHE_DIR", str(Path(__file__).resolve().parent / "outputs" / "cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    """The notebooks (collected by nbval) are slow tests: `pytest -m "not slow"` leaves them out."""
    import pytest

    for item in items:
        if item.nodeid.endswith(".ipynb") or ".ipynb::" in item.nodeid:
            item.add_marker(pytest.mark.slow)
