"""Defaults chosen per device and image size (gan_keras.training.recipe), and how a run records them."""

import json

import numpy as np
import pytest

from gan_keras.networks.build import Build_Gen
from gan_keras.training.config import RunConfig
from gan_keras.training.recipe import Device, choose, cpu_has_bfloat16

CPU = Device(accelerated=False)
GPU = Device(accelerated=True)


@pytest.mark.parametrize("flags, expected", [("fpu avx2 fma", False), ("fpu avx512f avx512_bf16", True),
                                             ("fpu amx_bf16 amx_tile", True)])
def test_bfloat16_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert cpu_has_bfloat16(cpuinfo) is expected
    assert cpu_has_bfloat16(tmp_path / "missing") is False


def test_faces_on_a_cpu_get_the_narrow_dcgan_with_ema_and_diffaugment():
    config, why = choose(RunConfig(dataset="anime"), (64, 64, 3), CPU)
    assert (config.model, config.width, config.ema, config.augment) == ("dcgan", 16, 0.999, "diffaug")
    assert (config.mixed_precision, config.jit_compile, config.steps_per_execution) == ("off", False, 1)
    assert config.share_fakes is True and config.loss == "nonsaturating"
    assert set(why) == {"model", "loss", "width", "ema", "augment", "mixed_precision", "jit_compile",
                        "steps_per_execution", "share_fakes", "batch_size", "lr_decay_start"}
    assert all(isinstance(reason, str) and reason for reason in why.values())
    assert (config.batch_size, config.lr_decay_start) == (64, 1.0)  # the number of faces unknown


def test_many_faces_on_a_cpu_get_batch_256_and_a_rate_falling_over_the_run():
    config, why = choose(RunConfig(dataset="anime"), (64, 64, 3), CPU, n_images=19_969)
    assert (config.batch_size, config.lr_decay_start) == (256, 0.0)
    assert "three seeds" in why["batch_size"] and why["lr_decay_start"] == why["batch_size"]
    few, why = choose(RunConfig(), (64, 64, 3), CPU, n_images=1_000)  # small data sets: not measured
    assert (few.batch_size, few.lr_decay_start) == (64, 1.0) and "fewer than 7,000" in why["batch_size"]
    for elsewhere in (choose(RunConfig(), (64, 64, 3), GPU, n_images=19_969)[0],
                      choose(RunConfig(), (28, 28, 1), CPU, n_images=60_000)[0],
                      choose(RunConfig(trainer="classic"), (64, 64, 3), CPU, n_images=19_969)[0],
                      choose(RunConfig(model="stylegan"), (64, 64, 3), CPU, n_images=19_969)[0]):
        assert (elsewhere.batch_size, elsewhere.lr_decay_start) == (64, 1.0)
    # what the user set stays; the falling rate comes with the batch it was measured with
    assert choose(RunConfig(batch_size=64), (64, 64, 3), CPU, n_images=19_969)[0].lr_decay_start == 1.0
    config, why = choose(RunConfig(lr_decay_start=0.5), (64, 64, 3), CPU, n_images=19_969)
    assert (config.batch_size, config.lr_decay_start) == (256, 0.5) and "lr_decay_start" not in why


def test_fastgan_gets_its_own_recipe_unless_told_otherwise():
    config, why = choose(RunConfig(dataset="anime", model="fastgan"), (64, 64, 3), CPU)
    assert (config.loss, config.augment, config.width, config.ema) == ("fastgan", "diffaug", 8, 0.999)
    assert "reconstructs" in why["loss"] and "width 8" in why["width"]
    assert choose(RunConfig(dataset="anime", model="fastgan", loss="hinge"), (64, 64, 3), CPU)[0].loss == "hinge"


def test_bfloat16_only_where_the_cpu_has_it_and_wide_networks_on_an_accelerator():
    assert choose(RunConfig(), (64, 64, 3), Device(False, native_bfloat16=True))[0].mixed_precision == "bfloat16"
    config, _ = choose(RunConfig(), (64, 64, 3), GPU)
    assert (config.width, config.mixed_precision, config.jit_compile, config.steps_per_execution) == \
        (64, "off", True, 8)
    assert choose(RunConfig(), (64, 64, 3), Device(True, replicas=2))[0].steps_per_execution == 1
    assert config.share_fakes is False  # measured on a CPU only


def test_digits_keep_the_measured_mnist_default():
    config, why = choose(RunConfig(), (28, 28, 1), CPU)
    assert (config.model, config.width, config.ema, config.augment, config.mixed_precision, config.share_fakes) == \
        ("mlp", 64, 0.999, "none", "off", False)
    assert "5 minutes of MNIST" in why["ema"]  # the MLP's own measurement, not the faces'
    assert choose(RunConfig(trainer="classic"), (28, 28, 1), CPU)[0].ema == 0.0  # the Keras 2 reference has none
    assert choose(RunConfig(model="dcgan"), (28, 28, 1), CPU)[0].ema == 0.0  # not measured for small DCGANs
    # bfloat16 where the CPU has it: measured for the MLP (steps and domain FID), not for the tutorial's model
    config, why = choose(RunConfig(), (28, 28, 1), Device(False, native_bfloat16=True))
    assert config.mixed_precision == "bfloat16" and "three pairs of runs" in why["mixed_precision"]
    config, why = choose(RunConfig(model="tutorial"), (28, 28, 1), Device(False, native_bfloat16=True))
    assert config.mixed_precision == "off" and why["mixed_precision"] == "float32 (bfloat16 not measured for tutorial)"
    config, why = choose(RunConfig(trainer="classic"), (28, 28, 1), Device(False, native_bfloat16=True))
    assert config.mixed_precision == "off" and "Keras 2 reference" in why["mixed_precision"]
    assert choose(RunConfig(model="dcgan"), (28, 28, 1), CPU)[0].width == 64  # measured: 64 beat 32 on MNIST
    stylegan = choose(RunConfig(model="stylegan"), (64, 64, 3), CPU)[0]
    assert (stylegan.augment, stylegan.share_fakes) == ("none", False)  # not measured there
    classic = choose(RunConfig(trainer="classic"), (64, 64, 3), CPU)[0]
    assert (classic.augment, classic.share_fakes) == ("none", False)  # the Keras 2 reference


def test_what_the_user_set_is_never_overridden():
    config, why = choose(RunConfig(model="dcgan", width=32, ema=0.0, augment="none", mixed_precision="bfloat16",
                                   jit_compile=True), (64, 64, 3), CPU)
    assert (config.width, config.ema, config.augment, config.mixed_precision, config.jit_compile) == \
        (32, 0.0, "none", "bfloat16", True)
    assert not {"model", "width", "ema", "augment", "mixed_precision", "jit_compile"} & set(why)


@pytest.mark.slow
def test_a_run_records_the_choices_and_a_resume_keeps_the_shape(tmp_path):
    from gan_keras.runs.train import train

    faces = np.random.default_rng(0).integers(0, 256, (70, 64, 64, 3), dtype=np.uint8)
    np.savez(tmp_path / "faces.npz", images=faces)
    run = tmp_path / "run"
    train(str(tmp_path / "faces.npz"), out=run, epochs=1, steps_per_epoch=1, verbose=0)
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"], saved["width"], saved["ema"], saved["augment"]) == ("dcgan", 16, 0.999, "diffaug")
    assert saved["mixed_precision"] is None and saved["jit_compile"] is None  # chosen again on the next machine
    assert saved["chosen"]["width"]["value"] == 16 and "CPU" in saved["chosen"]["width"]["why"]
    assert (saved["batch_size"], saved["lr_decay_start"]) == (64, 1.0)  # 70 images: a resume keeps the choice
    result = train(out=run, resume=True, epochs=2, verbose=0)
    assert result.epochs_done == 2
    # the resumed G is the width-16 DCGAN the first run chose, weight for weight
    assert result.trainer.generator.count_params() == Build_Gen("dcgan", 100, (64, 64, 3), 16).count_params()
    assert {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k in ("width", "augment")} \
        == {"width": 16, "augment": "diffaug"}
