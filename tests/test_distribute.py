"""tf.distribute on a CPU machine: GAN_KERAS_CPU_REPLICAS splits the CPU into logical devices."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT, run_cli


def _history(run):
    from gan_keras.images import read_history

    return read_history(run / "history.csv")


def test_two_replicas_match_one_on_the_same_global_batch(tmp_path, digits_npz):
    common = ["train", digits_npz, "--model", "dcgan", "--epochs", 1, "--steps-per-epoch", 4, "--seed", 1, "--quiet"]
    one = run_cli(*common, "--strategy", "default", "--batch-size", 32, "--out", tmp_path / "one")
    two = run_cli(*common, "--strategy", "mirrored", "--batch-size", 16, "--out", tmp_path / "two",
                  env={"GAN_KERAS_CPU_REPLICAS": "2"})
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["replicas"] == 2 and config["global_batch_size"] == 32
    a, b = _history(tmp_path / "one"), _history(tmp_path / "two")
    for key in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        np.testing.assert_allclose(b[key], a[key], rtol=2e-3, atol=2e-3, err_msg=key)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_local_workers_train_together(tmp_path, digits_npz):
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                      "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "gan_keras", "train", str(digits_npz), "--model", "mlp", "--strategy", "multiworker",
             "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "16", "--out", str(tmp_path / "run"),
             "--quiet"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=300) for p in processes]
    for p, (out, err) in zip(processes, results):
        assert p.returncode == 0, err[-3000:]
    rows = _history(tmp_path / "run")
    assert rows["epoch"] == [1.0, 2.0]  # written once, by the chief (worker 0)
    assert (tmp_path / "run" / "generator.keras").is_file()
