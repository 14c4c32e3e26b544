"""tf.distribute on a CPU machine: GAN_KERAS_CPU_REPLICAS splits the CPU into logical devices."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.conftest import ROOT, history, run_cli


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [[], ["--augment", "ada", "--ada-target", "0.2", "--ema", "0.99",
                                         "--loss", "wgan-gp",
                                         "--conditional"]])
def test_two_replicas_match_one_on_the_same_global_batch(tmp_path, digits_npz, recipe):
    # float32: one replica normalises with the fused BatchNorm kernel, two with Keras's synchronized ops;
    # in bfloat16 (the default on a CPU with its instructions) their rounding can flip one image's accuracy.
    common = ["train", digits_npz, "--model", "dcgan", "--epochs", 1, "--steps-per-epoch", 4, "--seed", 1, "--quiet",
              "--mixed-precision", "off", *recipe]
    one = run_cli(*common, "--strategy", "default", "--batch-size", 32, "--out", tmp_path / "one")
    two = run_cli(*common, "--strategy", "mirrored", "--batch-size", 16, "--out", tmp_path / "two",
                  env={"GAN_KERAS_CPU_REPLICAS": "2"})
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["replicas"] == 2 and config["global_batch_size"] == 32
    a, b = history(tmp_path / "one"), history(tmp_path / "two")
    ada = "--augment" in recipe
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", *(["ada_p", "d_penalty"] if ada else [])):
        np.testing.assert_allclose(b[key], a[key], rtol=2e-3, atol=2e-3, err_msg=key)
    if ada:
        assert a["ada_p"][0] > 0
        generators = [keras.saving.load_model(tmp_path / name / "generator.keras") for name in ("one", "two")]
        z = np.random.default_rng(0).normal(size=(4, 100)).astype("float32")
        inputs = [keras.ops.convert_to_tensor(z),
                  keras.ops.convert_to_tensor(np.arange(4, dtype="int32"))]  # [z, label]
        np.testing.assert_allclose(generators[1](inputs), generators[0](inputs), atol=2e-3)  # the EMA Gs agree


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_workers(run, epochs, *extra):
    """Two local workers (TF_CONFIG on free 127.0.0.1 ports) training one run together."""
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                      "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "gan_keras", "train", *map(str, extra), "--model", "mlp", "--strategy",
             "multiworker", "--epochs", str(epochs), "--steps-per-epoch", "3", "--batch-size", "16",
             "--out", str(run), "--quiet"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    results = [p.communicate(timeout=300) for p in processes]
    for p, (_, err) in zip(processes, results):
        assert p.returncode == 0, err[-3000:]


@pytest.mark.slow
def test_two_local_workers_train_together_and_resume(tmp_path, digits_npz):
    run = tmp_path / "run"
    _train_workers(run, 2, digits_npz)
    rows = history(run)
    assert rows["epoch"] == [1.0, 2.0]  # written once, by the chief (worker 0)
    assert (run / "generator.keras").is_file()
    _train_workers(run, 3, digits_npz, "--resume")  # every worker restores from the chief's checkpoint
    assert history(run)["epoch"] == [1.0, 2.0, 3.0]
    config = json.loads((run / "config.json").read_text())
    assert config["replicas"] == 2 and config["global_batch_size"] == 32


@pytest.mark.parametrize("env", [{}, {"TPU_NAME": "my-tpu"}, {"COLAB_TPU_ADDR": "10.0.0.2:8470"}])
@pytest.mark.parametrize("name", ["auto", "default", "mirrored", "multiworker", "tpu"])
def test_strategy_choice_under_each_tpu_variable(monkeypatch, env, name):
    """Only "tpu", or "auto" with a TPU variable set, looks for a TPU; the others never go there."""
    import tensorflow as tf

    from gan_keras.errors import UsageError
    from gan_keras.training import distribute

    probes = []
    monkeypatch.setattr(distribute, "_tpu", lambda: probes.append(name))  # None: no TPU answers
    for variable in ("TPU_NAME", "COLAB_TPU_ADDR", "TF_CONFIG", "GAN_KERAS_CPU_REPLICAS"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    if name == "tpu":
        with pytest.raises(UsageError, match="no TPU found"):
            distribute.make_strategy(name, verbose=False)
    elif name == "multiworker":
        with pytest.raises(UsageError, match="TF_CONFIG"):
            distribute.make_strategy(name, verbose=False)
    else:
        strategy = distribute.make_strategy(name, verbose=False)
        expected = tf.distribute.MirroredStrategy if name == "mirrored" else type(tf.distribute.get_strategy())
        assert type(strategy) is expected
    assert probes == ([name] if name == "tpu" or (name == "auto" and env) else [])


def test_auto_takes_the_tpu_when_one_answers(monkeypatch):
    from gan_keras.training import distribute

    tpu = object()
    monkeypatch.setattr(distribute, "_tpu", lambda: tpu)
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert distribute.make_strategy("auto", verbose=False) is tpu
    assert distribute.make_strategy("tpu", verbose=False) is tpu
