"""What the benchmarks divide by: the FLOPs of one training step per image, and a CPU's float32 peak.

Example:
    >>> from gan_keras import Build_Disc, Build_Gen
    >>> model_flops(Build_Gen("mlp"), Build_Disc("mlp"))           # FLOPs per image of one training step
    20393984
"""

import numpy as np

from gan_keras.training.recipe import cpu_info

# the networks `bench` times: name -> (family, image shape)
MODELS = {"mlp": ("mlp", (28, 28, 1)), "dcgan": ("dcgan", (28, 28, 1)), "dcgan64": ("dcgan", (64, 64, 3))}


def model_flops(generator, discriminator, share_fakes=False):
    """Multiply-add FLOPs of one fused training step per image (dense and convolution layers only).

    A D step runs G forward once and D forward and backward on a real and a generated image; a G
    step runs G forward and backward and D forward and back to its input. Backward costs about
    twice the forward pass (gradients of inputs and of weights), once for D in the G step (inputs
    only). So per image: 4 forward passes of G and 8 of D, each counted as 2 FLOPs per multiply-add;
    3 of G when the two steps share one generated batch (`share_fakes`).
    """
    return 2 * ((3 if share_fakes else 4) * _forward_macs(generator) + 8 * _forward_macs(discriminator))


def _forward_macs(model):
    import keras

    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            macs += _forward_macs(layer)
        elif isinstance(layer, keras.layers.Dense):
            macs += int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel scatters a k x k x C_out patch
            macs += int(np.prod(layer.input.shape[1:3])) * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2D):  # each output pixel gathers a k x k x C_in patch
            macs += int(np.prod(layer.output.shape[1:3])) * int(np.prod(layer.kernel.shape))
    return macs


def cpu_peak_gflops(cores, cpuinfo="/proc/cpuinfo", fma_units=2):
    """The float32 FMA peak of `cores` cores from the processor's flags and clock, or None if unknown.

    cores x FMA units (2 on current x86 server cores) x float32 lanes (16 with AVX-512, 8 with AVX2)
    x 2 FLOPs per FMA x GHz. Example: 2 cores, AVX-512, 2.1 GHz -> 268.8 GFLOP/s.
    """
    fields = cpu_info(cpuinfo)
    flags, mhz = set(fields.get("flags", "").split()), fields.get("cpu MHz")
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else None
    if lanes is None or not mhz:
        return None
    return round(cores * fma_units * lanes * 2 * float(mhz) / 1000, 1)
