"""Speed options and the benchmark: they must change nothing but speed (timings are never asserted)."""

import json

import keras
import numpy as np
import pytest

from gan_keras.bench import _forward_macs, model_flops
from gan_keras.distribute import precision_policy
from gan_keras.errors import UsageError
from gan_keras.models import Build_Disc, Build_Gen
from tests.conftest import assert_one_line_error, history, run_cli, run_cli_here


def test_several_steps_per_call_train_exactly_like_one(tmp_path, digits_npz):
    common = ["train", digits_npz, "--model", "mlp", "--epochs", 2, "--seed", 3, "--quiet", "--batch-size", 32]
    one = run_cli(*common, "--steps-per-epoch", 8, "--out", tmp_path / "one")
    # 10 steps are not whole calls of 4: the epoch is rounded down to 8, not run on to 12.
    four = run_cli(*common, "--steps-per-epoch", 10, "--steps-per-execution", 4, "--checkpoint-every-steps", 3,
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


def test_several_steps_per_call_with_replicas_is_one_clear_error(tmp_path, digits_npz):
    result = run_cli("train", digits_npz, "--model", "mlp", "--strategy", "mirrored", "--steps-per-execution", 2,
                     "--epochs", 1, "--steps-per-epoch", 2, "--out", tmp_path / "r",
                     env={"GAN_KERAS_CPU_REPLICAS": "2"})
    assert_one_line_error(result, "keras-team/keras#19246")


def test_bfloat16_run_trains_and_keeps_images_float32(tmp_path, digits_npz):
    run = tmp_path / "bf16"
    result = run_cli("train", digits_npz, "--model", "dcgan", "--width", 8, "--epochs", 1, "--steps-per-epoch", 3,
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
    assert _forward_macs(G) == 100 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784


def test_bench_reports_loops_and_breakdown_without_timing_assertions():
    result = run_cli("bench", "--models", "mlp", "--steps", 2, "--rounds", 1, "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("fused_images_per_s", "classic_images_per_s", "reference_images_per_s", "fused_vs_classic",
                "input_pipeline_images_per_s", "peak_host_memory_mb", "gflop_per_step", "fused_tflop_per_s"):
        assert record[key] > 0, key
    assert set(record["step_ms"]) == {"input", "compute", "reference", "fused", "classic"}
    assert record["precision"] == "float32" and record["steps"] == 2
    assert_one_line_error(run_cli_here("bench", "--models", "resnet"), "unknown bench model")
    assert_one_line_error(run_cli_here("bench", "--rounds", 0), "--rounds must be positive")
