import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def weights(model):
    """Copies of every weight of a model (trainable and not, e.g. BatchNorm moving statistics)."""
    return [np.array(v) for v in model.weights]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def run_cli(*args, cwd=None, timeout=300, env=None):
    """Run `python -m gan_keras ARGS`; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "gan_keras", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def run_cli_here(*args):
    """`python -m gan_keras ARGS` run in this process, without a new interpreter's start-up: for the
    many one-line-error checks. Returns a CompletedProcess with the exit code, stdout and stderr."""
    import contextlib
    import io
    import warnings

    from gan_keras.cli import main

    out, err = io.StringIO(), io.StringIO()
    shown = warnings.showwarning  # main() installs its one-line warning printer
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        warnings.showwarning = shown
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def history(run):
    """The columns of a run folder's history.csv."""
    from gan_keras.files import read_history

    return read_history(run / "history.csv")


def assert_one_line_error(result, pattern):
    """The command failed with exit code 2 and one `error: ...` line naming `pattern`, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and pattern in last, last


def constant_discriminator(logit, image_shape=(28, 28, 1)):
    """A discriminator whose logit is `logit` for every image (zero kernel, bias `logit`)."""
    import keras

    return keras.Sequential([keras.Input(image_shape), keras.layers.Flatten(),
                             keras.layers.Dense(1, kernel_initializer="zeros",
                                                bias_initializer=keras.initializers.Constant(logit))])


@pytest.fixture
def digits_npz(tmp_path):
    """A small real dataset: 512 MNIST training digits as an .npz with keys 'images' and 'labels'."""
    from gan_keras.data.load import load_digits

    path = tmp_path / "digits.npz"
    images, labels = load_digits("mnist")
    np.savez(path, images=images[:512], labels=labels[:512])
    return path
