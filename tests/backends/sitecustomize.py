"""On PYTHONPATH, TensorFlow cannot be imported, as on the GPU machines this project is lent (they
have JAX and PyTorch, no TensorFlow): `import tensorflow` fails and `find_spec` finds nothing."""

import sys

sys.modules["tensorflow"] = None
