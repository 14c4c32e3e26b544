"""Choosing a `tf.distribute` strategy: TPU, several GPUs, several machines, or one device.

Example:
    >>> from gan_keras import GAN, Build_Disc, Build_Gen
    >>> strategy = make_strategy("auto")      # prints what it chose and the replica count
    strategy: ...
    >>> with strategy.scope():
    ...     gan = GAN(Build_Gen("dcgan"), Build_Disc("dcgan")); gan.compile()

`GAN_KERAS_CPU_REPLICAS=N` splits the CPU into N logical devices first, so that `mirrored` runs
with N replicas on a machine without GPUs (how the tests check distributed training).
"""

import contextlib
import os

from gan_keras import backend, registry
from gan_keras.errors import UsageError

declare = registry.declare
declare("strategy", "auto", help="TPU if attached, Mirrored on 2+ GPUs, else one device", any_backend=True)
declare("strategy", "default", help="one device", any_backend=True)
declare("strategy", "mirrored", help="all local GPUs (or GAN_KERAS_CPU_REPLICAS logical CPUs); on JAX, Keras's "
        "DataParallel over every device (JAX_NUM_CPU_DEVICES on a CPU)", jax=True)
declare("strategy", "multiworker", help="several machines (TF_CONFIG)")
declare("strategy", "tpu", help="a TPU")


class OneDevice:
    """The strategy of a backend other than TensorFlow: one device, no scope to enter."""

    num_replicas_in_sync = 1
    cluster_resolver = None

    def scope(self):
        return contextlib.nullcontext()


class JaxDataParallel(OneDevice):
    """`--strategy mirrored` on JAX: Keras's `DataParallel` over every device, set for the process. The
    variables are replicated and each batch split along its first axis; the compiled step computes the
    global batch's losses and batch-norm statistics, so N devices train like one (a test checks 2)."""

    def __init__(self):
        import keras

        self.devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=self.devices))
        self.num_replicas_in_sync = len(self.devices)


def split_cpu(replicas):
    """Split the first CPU into `replicas` logical devices (must run before TensorFlow starts)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # listing physical devices does not start the runtime
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError:  # the runtime already started: fine if it was split the same way before
        if len(tf.config.list_logical_devices("CPU")) < replicas:
            raise UsageError("GAN_KERAS_CPU_REPLICAS must be set before TensorFlow starts (a fresh process)") from None


def _tpu():
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError):
        return None


def make_strategy(name="auto", verbose=True):
    """A `tf.distribute.Strategy` by name; "auto": TPU if attached, Mirrored on >= 2 GPUs, else default."""
    registry.check("strategy", name)
    if not backend.is_tensorflow():
        return _other_backend_strategy(name, verbose)
    import tensorflow as tf

    cpu_replicas = int(os.environ.get("GAN_KERAS_CPU_REPLICAS", "0") or 0)
    if cpu_replicas > 1:
        split_cpu(cpu_replicas)
    gpus = tf.config.list_physical_devices("GPU")
    tpu_attached = bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"))
    if name == "tpu" or (name == "auto" and tpu_attached):
        strategy = _tpu()
        if strategy is None and name == "tpu":
            raise UsageError("--strategy tpu: no TPU found")
        name = "tpu" if strategy else name
    if name == "auto":
        name = "mirrored" if len(gpus) >= 2 or cpu_replicas > 1 else "default"
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        devices = None
        if not gpus and cpu_replicas > 1:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    elif name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError("--strategy multiworker needs TF_CONFIG (cluster and task) in the environment")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    if verbose:
        devices = ", ".join(sorted({d.device_type for d in tf.config.list_logical_devices()}))
        print(f"strategy: {name} ({type(strategy).__name__}), {strategy.num_replicas_in_sync} replica(s) on {devices}",
              flush=True)
    return strategy


def _other_backend_strategy(name, verbose):
    """JAX's DataParallel for `mirrored` (or `auto` with several devices), else one device."""
    import keras

    several = backend.name() == "jax" and len(keras.distribution.list_devices()) > 1
    if backend.name() == "jax" and (name in registry.where("strategy", jax=True) or (name == "auto" and several)):
        strategy = JaxDataParallel()
    elif name in registry.where("strategy", any_backend=True):
        strategy = OneDevice()
    else:
        backend.require_tensorflow(f"--strategy {name}")
    if verbose:
        print(f"strategy: {type(strategy).__name__} on {backend.name()}, {strategy.num_replicas_in_sync} device(s)",
              flush=True)
    return strategy


def is_chief(strategy):
    """True on the worker that writes files (always True off multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


declare("precision", "off", help="float32")
declare("precision", "auto", help="float16 on a GPU, bfloat16 elsewhere")
declare("precision", "bfloat16", help="bfloat16 compute, float32 weights")
declare("precision", "float16", help="float16 compute with loss scaling, float32 weights")


def precision_policy(mixed_precision=None):
    """The Keras dtype policy for a `--mixed-precision` choice.

    None or False: "float32". "bfloat16" / "float16": that compute dtype with float32 weights. True or
    "auto": float16 on a GPU (the fused trainer adds loss scaling per optimizer), bfloat16 elsewhere
    (TPUs, and CPUs with bfloat16 instructions).

    Example:
        >>> precision_policy("bfloat16")
        'mixed_bfloat16'
    """
    if mixed_precision in (None, False, "off"):
        return "float32"
    if mixed_precision in (True, "auto"):
        if backend.is_tensorflow():  # float16 with TensorFlow's loss scaling on a GPU
            import tensorflow as tf

            return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        return "mixed_bfloat16"
    registry.check("precision", mixed_precision)
    return f"mixed_{mixed_precision}"


@contextlib.contextmanager
def precision_scope(mixed_precision=None):
    """Set Keras's global dtype policy to `precision_policy(mixed_precision)`; restore it on exit.

    Example:
        >>> from gan_keras import Build_Gen
        >>> with precision_scope("bfloat16"):
        ...     G = Build_Gen("dcgan")      # computes in bfloat16, weights in float32
        >>> G.layers[1].compute_dtype, G.layers[1].variable_dtype
        ('bfloat16', 'float32')
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision_policy(mixed_precision))
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
