"""Defaults chosen by measurement, per device and image size (docs/results.md; the runs: docs/benchmarks/).

A setting left unset (`None`) is chosen here. `choose` returns the config to train with and why
each value was picked; `train` writes the reasons to `config.json` under `"chosen"`. Settings that
fix what the checkpoint holds (the model, its width, the EMA generator, the augmentation) and those
that shape the run (the batch, the falling rate) are written into the saved config, so a resumed run
keeps them; the speed settings (precision, XLA, steps per call) stay unset there, so a run resumed on
another machine gets that machine's choice.

Example:
    >>> from gan_keras.training.config import RunConfig
    >>> effective, why = choose(RunConfig(dataset="anime"), (64, 64, 3), Device(accelerated=False), n_images=19_969)
    >>> effective.width, effective.ema, effective.augment, effective.batch_size, effective.lr_decay_start
    (16, 0.999, 'diffaug', 256, 0.0)
    >>> print(why["width"])      # the reason, also in the run's config.json
    on a CPU, 64x64 and larger: width 16 makes ~20x the steps of width 64; ...
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Device:
    """What the defaults depend on: an accelerator (GPU or TPU), replicas, bfloat16 in the CPU."""

    accelerated: bool
    replicas: int = 1
    native_bfloat16: bool = False
    backend: str = "tensorflow"

    @classmethod
    def of(cls, strategy):
        from gan_keras import backend

        accelerated = backend.accelerated() or type(strategy).__name__ == "TPUStrategy"
        return cls(accelerated, strategy.num_replicas_in_sync, cpu_has_bfloat16(), backend.name())


def cpu_info(cpuinfo="/proc/cpuinfo"):
    """The fields of the first processor in `/proc/cpuinfo` ("model name", "cpu MHz", "flags", ...);
    {} where the file cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the first processor's block
        if ":" in line:
            key, value = line.split(":", 1)
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU computes bfloat16 natively (AVX-512 BF16 or AMX); elsewhere it is emulated and slower."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_info(cpuinfo).get("flags", "").split()))


def auto_model(size, channels):
    """The default network for images of this size: "mlp" for grayscale up to 32x32, else "dcgan".

    On 2 CPU cores, 5 minutes of MNIST gave a domain FID of 6.58 with the MLP and 17.7-21 with DCGAN
    variants (README, "Defaults"); the MLP cannot scale to colour faces, where DCGAN is the choice.
    """
    return "mlp" if channels == 1 and size <= 32 else "dcgan"


# On a CPU a convolutional step is compute-bound and quality is bought with steps: the 64x64
# DCGAN at width 64 took 8.7 s a step on one core of the 2-core test machine, width 16 0.43 s.
# 30 minutes side by side (SWD against held-out faces, lower is better;
# docs/benchmarks/2026-11-24-anime-30min-default.md):
# width 64 717, width 32 + EMA 209, width 16 130, width 16 + EMA 107. Past ~1,500 steps this narrow D
# wins and the grid's colours drift; DiffAugment keeps it improving (4,000 steps: SWD 152 without, 50 with).
CPU_WIDTH_64PX = 16
EMA_DECAY = 0.999

# 30 minutes of all 20,969 faces on one core each, three seeds side by side (SWD against 1,000 held-out
# faces at the end; docs/benchmarks/2026-12-06-30min-all-faces-default-b256-r3gan.md): batch 64 at a
# constant rate 45.6 +- 13.1, batch 256 with the rate falling to a tenth over the run 29.7 +- 3.2. At
# batch 64 more steps took the faces away from real ones (D sure of every image), on the CPU and on an
# H200. Measured on 7,000 faces and more; a smaller set keeps more than one batch of 64 per pass.
LARGE_BATCH, LARGE_BATCH_MIN_IMAGES = 256, 7000
CHOSEN_ONCE = ("batch_size", "lr_decay_start")  # they shape the run: a resume keeps the first choice


def choose(config, image_shape, device, n_images=None):
    """(config with every unset setting chosen, {setting: why}) for these images (`n_images` of them,
    None: unknown) on this device."""
    from gan_keras.errors import UsageError

    if (config.steps_per_execution or 1) > 1 and device.replicas > 1:
        raise UsageError(f"--steps-per-execution {config.steps_per_execution} fails with {device.replicas} replicas "
                         "on Keras 3.15 (keras-team/keras#19246); leave it at 1 when distributing")
    size, channels = image_shape[0], image_shape[2]
    why, chosen = {}, {}
    model = config.model
    if model == "auto":
        model = chosen["model"] = auto_model(size, channels)
        why["model"] = ("the MLP: fastest to clean digits on a CPU (5 minutes of MNIST: domain FID 6.58 vs 19.5 "
                        "for DCGAN)" if model == "mlp" else "DCGAN: colour or larger than 32x32")
    from gan_keras import registry

    family = registry.info("network", model)
    convolutional = family.get("convolutional", False)  # the width and EMA defaults were measured on DCGAN
    big_on_cpu = convolutional and size >= 64 and not device.accelerated
    reference = registry.info("trainer", config.trainer).get("reference", False)  # the classic loop takes none
    if config.width is None:
        own = family.get("cpu_width")  # a family measured at its own CPU width
        chosen["width"] = (own or CPU_WIDTH_64PX) if big_on_cpu else 64
        why["width"] = (family.get("cpu_width_why", "") if big_on_cpu and own else
                        f"on a CPU, 64x64 and larger: width {CPU_WIDTH_64PX} makes ~20x the steps of width 64; in 30 "
                        "minutes side by side it drew faces (SWD 107 with EMA) where width 64 drew grey blobs "
                        "(SWD 717) and width 32 blurred faces (209) (docs/benchmarks/2026-11-24-anime-30min-default.md)"
                        if big_on_cpu else "the network's own width")
    measured_here = family.get("large_batch_on_cpu") and big_on_cpu and not reference
    large = measured_here and (n_images or 0) >= LARGE_BATCH_MIN_IMAGES
    measured = ("batch 256 with the rate falling to a tenth over the run: 30 minutes of faces, three seeds, SWD "
                "29.7 +- 3.2 against batch 64 at a constant rate 45.6 +- 13.1 "
                "(docs/benchmarks/2026-12-06-30min-all-faces-default-b256-r3gan.md)")
    if config.batch_size is None:
        chosen["batch_size"] = LARGE_BATCH if large else 64
        why["batch_size"] = (measured if large else
                             f"64: fewer than {LARGE_BATCH_MIN_IMAGES:,} images, where batch 256 was not measured"
                             if measured_here else "64, the DCGAN paper's")
    if config.lr_decay_start is None:
        falling = large and (config.batch_size or LARGE_BATCH) == LARGE_BATCH
        chosen["lr_decay_start"] = 0.0 if falling else 1.0
        why["lr_decay_start"] = (measured if falling else "1: a constant rate, unless asked for a schedule")
    if config.loss is None:
        from gan_keras.training.config import default_loss

        chosen["loss"] = default_loss(model)
        why["loss"] = (family.get("loss_why", f"{chosen['loss']}: this network's own") if "loss" in family
                       else "the DCGAN paper's, the measured default")
    if config.ema is None:
        own = family.get("ema_why")  # a family measured to gain from the average at any size
        use_ema = (family.get("style_based") or own or convolutional and size >= 64) and not reference
        chosen["ema"] = EMA_DECAY if use_ema else 0.0
        why["ema"] = ("off (not measured to help here)" if not use_ema else own if own else
                      f"{EMA_DECAY} with StyleGAN's ramp-up, as StyleGAN always does" if size < 64 else
                      f"{EMA_DECAY} with StyleGAN's ramp-up for 64x64 faces: the same 30-minute DCGAN run drew "
                      "smoother faces with it (SWD 107 vs 130), at no cost in steps")
    if config.augment is None:
        use_diffaug = (model == "dcgan" and size >= 64 or family.get("augment") == "diffaug") and not reference
        chosen["augment"] = "diffaug" if use_diffaug else "none"
        why["augment"] = ("DiffAugment, part of this network's recipe (FastGAN trains with it)"
                          if use_diffaug and model != "dcgan" else
                          "DiffAugment for 64x64 DCGAN faces: past ~1,500 steps D wins without it and the grid's "
                          "colours drift (30 minutes on one core each, SWD vs held-out faces: 152 without, 50 with; "
                          "R1 78, ADA 90) (docs/benchmarks/2026-11-24-anime-30min-default.md)" if use_diffaug else
                          "none (measured to pay off for 64x64 DCGAN faces and small data sets trained long)")
    if config.share_fakes is None:
        share = family.get("share_fakes_on_cpu", False) and big_on_cpu and not reference
        chosen["share_fakes"] = share
        why["share_fakes"] = ("on: G's step scores the batch D's step trained on, one pass of G fewer a step (12 "
                              "minutes of anime faces, two seeds side by side: 1.10x the images per second, final "
                              "SWD 58 vs 87 and 55 vs 46, grids as good or better; "
                              "docs/benchmarks/2026-12-02-default-step-profiled.md)" if share else
                              "off (the classic loop is the Keras 2 reference)" if reference else
                              "off: each step draws two batches (sharing measured only for 64x64 DCGANs on a CPU)")
    if config.mixed_precision is None:
        # why bfloat16 paid off for this family with the fused trainer, where it was measured
        measured = None if reference else family.get("cpu_bfloat16")
        bf16 = bool(device.native_bfloat16 and not device.accelerated and measured)
        chosen["mixed_precision"] = "bfloat16" if bf16 else "off"
        if bf16:
            why["mixed_precision"] = f"bfloat16: this CPU has bfloat16 instructions ({measured})"
        elif device.accelerated:
            why["mixed_precision"] = "float32"
        elif reference:
            why["mixed_precision"] = "float32 (the classic loop is the plain Keras 2 reference)"
        elif measured:
            why["mixed_precision"] = "float32: this CPU has no bfloat16 instructions"
        else:
            why["mixed_precision"] = f"float32 (bfloat16 not measured for {model})"
    if config.jit_compile is None and device.backend != "tensorflow":
        chosen["jit_compile"] = device.backend == "jax"
        why["jit_compile"] = ("jax.jit: without it JAX runs the step op by op" if device.backend == "jax" else
                              "PyTorch eager, Keras's default (torch.compile not measured here)")
    elif config.jit_compile is None:
        chosen["jit_compile"] = device.accelerated
        why["jit_compile"] = ("XLA on an accelerator" if device.accelerated else
                              "XLA off on a CPU (the DCGAN steps ran 1.3x-1.5x slower with it)")
    if config.steps_per_execution is None:
        several = device.accelerated and device.replicas == 1 and not reference
        chosen["steps_per_execution"] = 8 if several else 1
        why["steps_per_execution"] = ("8: a fast device idles while Python starts each step" if several else
                                      "1 (8 gained nothing on a CPU; several fail with replicas, keras#19246)")
    return dataclasses.replace(config, **chosen), why

