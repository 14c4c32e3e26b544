"""Speed options and the benchmark: they must change nothing but speed (timings are never asserted)."""

import json

import keras
import numpy as np
import pytest

from gan_keras.bench.flops import _forward_macs, model_flops
from gan_keras.errors import UsageError
from gan_keras.networks.build import Build_Disc, Build_Gen
from gan_keras.training.distribute import precision_policy
from gan_keras.training.recipe import cpu_has_bfloat16
from tests.conftest import assert_one_line_error, history, run_cli, run_cli_here


@pytest.mark.slow
def test_several_steps_per_call_train_exactly_like_one(tmp_path, digits_npz):
    common = ["train", digits_npz, "--model", "mlp", "--epochs", 2, "--seed", 3, "--quiet", "--batch-size", 32]
    one = run_cli_here(*common, "--steps-per-epoch", 8, "--out", tmp_path / "one")
    # 10 steps are not whole calls of 4: the epoch is rounded down to 8, not run on to 12.
    four = run_cli_here(*common, "--steps-per-epoch", 10, "--steps-per-execution", 4, "--checkpoint-every-steps", 3,
                   "--out", tmp_path / "four")
    assert one.returncode == 0, one.stderr
    assert four.returncode == 0, four.stderr
    config = json.loads((tmp_path / "four" / "config.json").read_text())
    assert config["steps_per_epoch"] == 8 and config["steps_per_execution_used"] == 4
    a, b = history(tmp_path / "one"), history(tmp_path / "four")
    assert b["steps"] == [8.0, 8.0]
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, err_msg=key)
    # Saves inside the epochs (after steps 4 and 8, every >= 3 steps) as well as at their ends.
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(tmp_path / "four" / "checkpoints"))
    assert int(state.model_checkpoint_path.rsplit("-", 1)[1]) == 6


@pytest.mark.slow
def test_several_steps_per_call_with_replicas_is_one_clear_error(tmp_path, digits_npz):
    result = run_cli("train", digits_npz, "--model", "mlp", "--strategy", "mirrored", "--steps-per-execution", 2,
                     "--epochs", 1, "--steps-per-epoch", 2, "--out", tmp_path / "r",
                     env={"GAN_KERAS_CPU_REPLICAS": "2"})
    assert_one_line_error(result, "keras-team/keras#19246")


@pytest.mark.slow
def test_bfloat16_run_trains_and_keeps_images_float32(tmp_path, digits_npz):
    run = tmp_path / "bf16"
    result = run_cli_here("train", digits_npz, "--model", "dcgan", "--width", 8, "--epochs", 1, "--steps-per-epoch", 3,
                     "--batch-size", 16, "--mixed-precision", "bfloat16", "--quiet", "--out", run)
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "config.json").read_text())["precision"] == "mixed_bfloat16"
    assert all(np.isfinite(history(run)["g_loss"]))
    generator = keras.saving.load_model(run / "generator.keras", compile=False)
    assert generator(np.zeros((2, 100), "float32")).dtype == "float32"
    kernel = next(v for v in generator.weights if "kernel" in v.path)
    assert kernel.dtype == "float32"  # weights stay float32; only the computation is bfloat16


def test_precision_policy_names():
    assert precision_policy(None) == precision_policy(False) == "float32"
    assert precision_policy("bfloat16") == "mixed_bfloat16"
    assert precision_policy("float16") == "mixed_float16"
    assert precision_policy("auto") == "mixed_bfloat16"  # no GPU here
    with pytest.raises(UsageError, match="float8"):
        precision_policy("float8")


def test_forward_flops_of_known_layers():
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert _forward_macs(dense) == 3 * 2
    conv = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, padding="same")])
    assert _forward_macs(conv) == 4 * 4 * (3 * 3 * 1 * 2)  # 16 output pixels, each a 3x3x1 patch x 2 filters
    strided = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, strides=2, padding="same")])
    assert _forward_macs(strided) == 2 * 2 * (3 * 3 * 1 * 2)
    up = keras.Sequential([keras.Input((2, 2, 2)), keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")])
    assert _forward_macs(up) == 2 * 2 * (3 * 3 * 2 * 1)  # 4 input pixels, each scattering 3x3x1 from 2 channels
    G, D = Build_Gen("mlp"), Build_Disc("mlp")
    assert model_flops(G, D) == 2 * (4 * _forward_macs(G) + 8 * _forward_macs(D))
    assert model_flops(G, D, share_fakes=True) == model_flops(G, D) - 2 * _forward_macs(G)  # one pass of G fewer
    assert _forward_macs(G) == 100 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784


@pytest.mark.slow
def test_bench_reports_loops_breakdown_and_share_of_peak_without_timing_assertions():
    result = run_cli_here("bench", "--models", "mlp", "--steps", 2, "--rounds", 1, "--json", "--peak-gflops", 100)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    ms = record["step_ms"]
    for loop in ("fused", "classic", "reference"):  # images/s and ms per step are one measurement
        assert record[f"{loop}_images_per_s"] == pytest.approx(64 / (ms[loop] / 1000), rel=2e-3), loop
    assert record["fused_vs_classic"] == pytest.approx(ms["classic"] / ms["fused"], abs=0.011)
    assert record["fused_gflop_per_s"] == pytest.approx(record["gflop_per_step"] / (ms["fused"] / 1000), rel=2e-3)
    assert record["peak_host_memory_mb"] > 100  # TensorFlow alone takes more
    G, D = Build_Gen("mlp"), Build_Disc("mlp")
    assert record["gflop_per_step"] == round(model_flops(G, D) * 64 / 1e9, 3)
    assert record["peak_gflops"] == 100 and record["share_of_peak"] == round(record["fused_gflop_per_s"] / 100, 4)
    assert set(record["step_ms"]) == {"input", "compute", "reference", "fused", "classic"}
    # what train chooses for MNIST: bfloat16 on a CPU with its instructions (measured for the MLP)
    assert record["precision"] == ("mixed_bfloat16" if cpu_has_bfloat16() else "float32") and record["steps"] == 2
    assert (record["width"], record["augment"], record["ema"]) == (64, "none", 0.999)  # what train chooses for MNIST
    assert_one_line_error(run_cli_here("bench", "--models", "resnet"), "unknown bench model")
    assert_one_line_error(run_cli_here("bench", "--rounds", 0), "--rounds must be positive")
    assert_one_line_error(run_cli_here("bench", "--threads", 0), "--threads must be positive")


@pytest.mark.slow
def test_bench_takes_the_recipe_of_train_and_profiles_the_step_by_op_class(tmp_path):
    result = run_cli_here("bench", "--models", "dcgan", "--width", 8, "--augment", "diffaug", "--steps", 2,
                          "--rounds", 1,
                     "--mixed-precision", "off", "--share-fakes", "--json", "--profile", tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert (record["width"], record["augment"], record["share_fakes"]) == (8, "diffaug", True)
    G, D = Build_Gen("dcgan", 100, (28, 28, 1), 8), Build_Disc("dcgan", (28, 28, 1), 8)
    assert record["gflop_per_step"] == round(model_flops(G, D, share_fakes=True) * 64 / 1e9, 3)  # what was built
    profile = record["profile"]
    for key in ("conv forward", "conv backward", "transposed conv forward", "XLA-compiled (augmentation)",
                "BatchNorm forward", "optimizers"):
        assert profile.get(key, 0) > 0, (key, profile)
    assert list(profile.values()) == sorted(profile.values(), reverse=True)


def test_cpu_peak_from_the_processor_flags_and_clock(tmp_path):
    from gan_keras.bench.training_step import cpu_peak_gflops

    def cpuinfo(flags, mhz="2100.000"):
        path = tmp_path / f"cpuinfo-{len(flags)}"
        path.write_text(f"processor\t: 0\ncpu MHz\t\t: {mhz}\nflags\t\t: {' '.join(flags)}\n")
        return path

    assert cpu_peak_gflops(2, cpuinfo(["fma", "avx2", "avx512f"])) == 2 * 2 * 16 * 2 * 2.1  # 268.8
    assert cpu_peak_gflops(1, cpuinfo(["fma", "avx2"], "2000.0")) == 64.0  # one AVX2 core at 2 GHz
    assert cpu_peak_gflops(1, cpuinfo(["sse4_2"])) is None
    assert cpu_peak_gflops(1, tmp_path / "missing") is None


def test_op_classes_of_a_training_step():
    from gan_keras.bench.profiling import op_class

    assert op_class("StatefulPartitionedCall/generator_dcgan/conv2d_transpose_3/conv_transpose",
                    "_MklNativeConv2DBackpropInput") == "transposed conv forward"
    assert op_class("gradient_tape/generator_dcgan/conv2d_transpose/conv_transpose/Conv2D",
                    "_MklNativeConv2D") == "transposed conv backward"
    assert op_class("discriminator/conv2d_1/convolution", "_MklNativeConv2D") == "conv forward"
    assert op_class("gradient_tape/discriminator/conv2d_1/convolution/Conv2DBackpropFilter",
                    "_MklNativeConv2DBackpropFilter") == "conv backward"
    # networks.subpixel's custom gradients, which TensorFlow does not put under gradient_tape/
    assert op_class("StatefulPartitionedCall/conv_gradient_2/MatMul", "_MklMatMul") == "conv backward"
    assert op_class("StatefulPartitionedCall/transposed_conv_gradient/Conv2D", "_MklNativeConv2D") == \
        "transposed conv backward"
    assert op_class("StatefulPartitionedCall/augment_2/stack", "Pack") == "augmentation (ops outside XLA)"
    assert op_class("StatefulPartitionedCall/ema/mul_3", "Mul") == "EMA update"
    assert op_class("StatefulPartitionedCall/adam/ResourceApplyAdam", "ResourceApplyAdam") == "optimizers"
    assert op_class("generator/batch_norm/FusedBatchNormV3", "_MklNativeFusedBatchNormV3") == "BatchNorm forward"
    assert op_class("x/FusedBatchNormGradV3", "_MklNativeFusedBatchNormGradV3") == "BatchNorm backward"
