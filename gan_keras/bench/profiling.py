"""Where a training step's time goes: TensorFlow's profiler trace, summed per class of op.

`profile_fit` traces a few `fit` steps with `tf.profiler` and `op_time_table` reads the trace
(the XSpace protobuf TensorFlow writes) back: every TensorFlow op that ran on a compute thread, and
every XLA-compiled cluster, is put in one class by its name and type (`op_class`), in milliseconds
per step. `python -m gan_keras bench --profile DIR` prints the table.

Example:
    >>> from gan_keras import GAN, Build_Disc, Build_Gen, load_dataset
    >>> gan = GAN(Build_Gen("dcgan"), Build_Disc("dcgan"))
    >>> gan.compile()
    >>> table = profile_fit(gan, load_dataset("mnist", repeat=True), steps=2, logdir="outputs/profile")
    >>> table["conv backward"] > 0          # ms per step
    True
"""

import collections
import re
from pathlib import Path

XLA_CLUSTER = "CpuExecutable::ExecuteAsyncOnStream"  # one XLA-compiled function (DiffAugment) running


def op_class(name, op_type):
    """The class of a TensorFlow op, from its full name (scopes) and its type.

    Example:
        >>> op_class("gradient_tape/generator/conv2d_transpose/conv_transpose/Conv2D", "_MklNativeConv2D")
        'transposed conv backward'
    """
    backward = "gradient_tape" in name
    custom = re.search(r"(^|/)(transposed_)?conv_gradient(_\d+)?/", name)  # networks.subpixel.GRADIENT_SCOPES
    if custom:
        return "transposed conv backward" if custom.group(2) else "conv backward"
    if re.search(r"(^|/)augment(_\d+)?/", name):
        return "augmentation (ops outside XLA)"
    if re.search(r"(^|/)ema(_\d+)?/", name):
        return "EMA update"
    if re.search(r"adam|optimizer|ResourceApply", name + " " + op_type, re.I):
        return "optimizers"
    if "conv2d_transpose" in name:  # G's upsampling: its forward pass is a Conv2DBackpropInput
        return "transposed conv backward" if backward else "transposed conv forward"
    if "Conv2D" in op_type:
        return "conv backward" if backward or "Backprop" in op_type else "conv forward"
    if "batch_normalization" in name or "BatchNorm" in op_type:
        return "BatchNorm backward" if backward or "Grad" in op_type else "BatchNorm forward"
    if "MatMul" in op_type:
        return "dense backward" if backward else "dense forward"
    if re.search(r"Relu|Tanh|Sigmoid|BiasAdd", op_type):
        return "activations and biases"
    if "Random" in op_type:
        return "noise"
    return "other element-wise" + (" backward" if backward else "")


def op_time_table(xplane_path, steps):
    """{op class: ms per step} from a profiler trace of `steps` steps, largest first.

    TensorFlow ops are the events "name:type" on the compute threads; an XLA cluster is one event
    there (`XLA_CLUSTER`), which the table calls "XLA-compiled (augmentation)".
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(xplane_path).read_bytes())
    totals = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                metadata = plane.event_metadata[event.metadata_id]
                if metadata.name == XLA_CLUSTER:
                    key = "XLA-compiled (augmentation)"
                elif ":" in metadata.name and "::" not in metadata.name:
                    key = op_class(metadata.name.rsplit(":", 1)[0], metadata.display_name)
                else:
                    continue
                totals[key] += event.duration_ps / 1e9 / steps
    return {key: round(ms, 2) for key, ms in totals.most_common()}


def profile_fit(trainer, dataset, steps, logdir):
    """Trace `steps` steps of `trainer.fit(dataset)` into `logdir`; returns `op_time_table` of them."""
    import tensorflow as tf

    trainer.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)  # traced and warm
    tf.profiler.experimental.start(str(logdir))
    try:
        trainer.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    finally:
        tf.profiler.experimental.stop()
    newest = max(Path(logdir).glob("plugins/profile/*/*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    return op_time_table(newest, steps)
