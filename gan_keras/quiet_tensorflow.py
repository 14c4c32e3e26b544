"""TensorFlow's log lines, quieted at the source: its C++ start-up lines (the CUDA stub, oneDNN, CPU
features, grappler's remapper) go to stderr, some before its own log level applies, and would fill a
terminal or a notebook's outputs with lines that say nothing about the run.

Example:
    >>> tf = import_tensorflow()      # what the notebooks' first cell and `train` do
    >>> tf.__name__
    'tensorflow'
"""

import logging
import os
import sys


def quiet_tensorflow():
    """Before TensorFlow loads: C++ lines below FATAL off, Python's tensorflow logger at ERROR."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def import_tensorflow():
    """Import TensorFlow with stderr silenced for the import only (where the lines printed before its
    log level applies come from); an import that fails still raises its error. Returns the module."""
    quiet_tensorflow()
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return sys.modules["tensorflow"]
