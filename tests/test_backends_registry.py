"""Every registered network, loss and augmentation takes one step on JAX and on PyTorch, in a process
where TensorFlow cannot be imported; those declared `tensorflow_only` say so in one line."""

import pytest

from tests.backends.harness import HERE, OTHER_BACKENDS, needs, ok, run

pytestmark = pytest.mark.slow  # each test starts a process that builds and trains networks


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_every_registered_network_loss_and_augmentation_takes_a_step(backend):
    needs(backend)
    result = ok(run(backend, HERE / "each_choice.py", timeout=600))
    lines = [line for line in result.stdout.splitlines() if ": " in line]
    assert len(lines) >= 15 and not any("FAILED" in line for line in lines), result.stdout
    # the TensorFlow-only ones say so and name the backend that runs them
    assert all("KERAS_BACKEND=tensorflow" in line for line in lines if "tensorflow only" in line)
