"""What tests/test_backends*.py share: running the package on a backend in a process of its own, with
TensorFlow blocked off it (`sitecustomize.py` beside this file)."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HERE = ROOT / "tests" / "backends"
OTHER_BACKENDS = ("jax", "torch")


def needs(backend):
    """Skip a test when `backend` is not installed, or fail it when GAN_KERAS_BACKENDS_REQUIRED is set (CI)."""
    if importlib.util.find_spec(backend) is None:
        if os.environ.get("GAN_KERAS_BACKENDS_REQUIRED"):
            pytest.fail(f"{backend} is not installed and GAN_KERAS_BACKENDS_REQUIRED is set")
        pytest.skip(f"{backend} is not installed")


def environment(backend, **extra):
    """KERAS_BACKEND=backend; off TensorFlow, TensorFlow blocked (tests/backends/sitecustomize.py)."""
    env = {**os.environ, "KERAS_BACKEND": backend, **extra}
    if backend != "tensorflow":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def run(backend, *args, timeout=300, **extra_env):
    """`python ARGS` on `backend` (a script, or -m gan_keras ...); the CompletedProcess."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=environment(backend, **extra_env))


def cli(backend, *args, timeout=300):
    return run(backend, "-m", "gan_keras", *args, timeout=timeout)


def ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result
