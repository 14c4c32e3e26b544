"""Which Keras backend runs the package, and the little that differs between them outside the step.

Keras 3 runs one model code on TensorFlow, JAX and PyTorch; `KERAS_BACKEND` picks (default
TensorFlow, Keras's own default). The training step's gradients differ per backend and live in
`gan_keras.training.engine`; this module answers "which one?", keeps a setting as a variable of the
right kind, and turns a TensorFlow-only feature into one line naming the backend it needs.

Example:
    >>> name() in BACKENDS
    True
"""

import os

from gan_keras.errors import UsageError

BACKENDS = ("tensorflow", "jax", "torch")


def name():
    """The Keras backend this process runs: `KERAS_BACKEND`, else Keras's configured one (before
    Keras is imported, the variable alone decides, so the command line can answer without it)."""
    import sys

    if "keras" not in sys.modules:
        return os.environ.get("KERAS_BACKEND", "tensorflow")
    import keras

    return keras.backend.backend()


def is_tensorflow():
    return name() == "tensorflow"


def require_tensorflow(what):
    """One line for a feature only TensorFlow has, on another backend."""
    if not is_tensorflow():
        raise UsageError(f"{what} needs TensorFlow; this process runs Keras on {name()} "
                         f"(run it with KERAS_BACKEND=tensorflow)")


def state_variable(value, name):
    """A float setting the compiled step reads and the run sets (a schedule, ADA's p): a `tf.Variable`
    every replica agrees on under TensorFlow (as before: checkpoints hold it by that name), a
    non-trainable `keras.Variable` on the other backends."""
    if is_tensorflow():
        import tensorflow as tf

        return tf.Variable(float(value), trainable=False, name=name, dtype=tf.float32,
                           aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    import keras

    return keras.Variable(float(value), dtype="float32", trainable=False, name=name)


def accelerated():
    """Whether the backend computes on a GPU or TPU (not the CPU)."""
    kind = name()
    if kind == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if kind == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def replicas_in_sync():
    """Replicas training in sync: tf.distribute's count on TensorFlow, else 1."""
    if not is_tensorflow():
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def to_numpy(tensor):
    """A tensor of any backend, or a variable (a tf.distribute one too), as a NumPy array."""
    import keras
    import numpy as np

    if hasattr(tensor, "numpy") and is_tensorflow():
        return np.asarray(tensor.numpy())
    return keras.ops.convert_to_numpy(tensor.value if isinstance(tensor, keras.Variable) else tensor)


def no_gradient():
    """A context in which no gradient is recorded (PyTorch's `no_grad`; the others record none outside
    their tape or traced function)."""
    import contextlib

    if name() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def versions():
    """{package: version} of Keras and the backend that runs it, for config.json."""
    import importlib.metadata

    import keras

    found = {"keras": keras.__version__, "backend": name()}
    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name()]
    try:
        found[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pass
    return found
