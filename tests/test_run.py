"""Run folders through the command line and `gan_keras.train`: files, resume, errors, reliability."""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_keras import UsageError, train
from gan_keras.runs.history import TIMING_COLUMNS
from tests.conftest import ROOT, assert_one_line_error, run_cli_here


def _rows(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_train_resume_sample_through_the_cli(tmp_path):
    run = tmp_path / "R"
    result = run_cli_here("train", "mnist", "--epochs", 2, "--steps-per-epoch", 20, "--sample-every", 1, "--out", run)
    assert result.returncode == 0, result.stderr
    for name in ("config.json", "history.csv", "losses.png", "progress.gif", "generator.keras", "fixed_noise.npy",
                 "samples/epoch-0001.png", "samples/epoch-0002.png", "checkpoints/checkpoint"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 2 and config["steps_per_epoch"] == 20 and config["image_shape"] == [28, 28, 1]
    rows = _rows(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) >= {"epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "seconds", "images_per_s"}
    noise = np.load(run / "fixed_noise.npy")
    assert noise.shape == (64, 100)
    from PIL import Image

    assert Image.open(run / "samples" / "epoch-0002.png").size == (8 * 30 + 2, 8 * 30 + 2)  # 8x8 grid
    assert Image.open(run / "progress.gif").n_frames == 2

    result = run_cli_here("train", "mnist", "--epochs", 3, "--resume", "--out", run)
    assert result.returncode == 0, result.stderr
    rows = _rows(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    np.testing.assert_array_equal(np.load(run / "fixed_noise.npy"), noise)
    assert Image.open(run / "progress.gif").n_frames == 3
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(run / "checkpoints"))
    assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 3
    assert reader.get_tensor("g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 60  # optimizer state went on

    result = run_cli_here("sample", run, "--n", 64, "--out", tmp_path / "s.npz")
    assert result.returncode == 0, result.stderr
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (64, 28, 28) and images.dtype == np.uint8 and images.std() > 0
    assert run_cli_here("sample", run, "--n", 9, "--out", tmp_path / "s.png").returncode == 0
    assert Image.open(tmp_path / "s.png").size == (3 * 30 + 2, 3 * 30 + 2)
    result = run_cli_here("sample", run, "--n", 16, "--beside-real", "--out", tmp_path / "beside.png")
    assert result.returncode == 0 and "beside real ones" in result.stdout, result.stderr
    width, height = Image.open(tmp_path / "beside.png").size
    assert width > 1.5 * height  # two grids side by side
    assert_one_line_error(run_cli_here("sample", run, "--beside-real", "--out", tmp_path / "b.npz"),
                          "give --out a .png")


def test_samples_beside_real_images_are_two_grids_left_and_right(tmp_path):
    from PIL import Image

    from gan_keras.tools.sample import beside_real_figure

    dark, light = -np.ones((16, 8, 8, 3), np.float32), np.ones((9, 8, 8, 3), np.float32)
    beside_real_figure(dark, light, tmp_path / "f.png", ("generated", "real"))
    pixels = np.asarray(Image.open(tmp_path / "f.png").convert("L"), np.float32)
    middle_rows = pixels[pixels.shape[0] // 3: 2 * pixels.shape[0] // 3]
    left, right = middle_rows[:, : pixels.shape[1] // 2], middle_rows[:, pixels.shape[1] // 2:]
    assert left.min() < 30 and right.min() > 200  # the black samples on the left, the white images on the right


def test_cli_errors_are_one_line_and_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli_here("train", "cifar11"), "unknown dataset")
    assert_one_line_error(run_cli_here("train", tmp_path / "empty"), "no images")
    assert_one_line_error(run_cli_here("train", "mnist", "--epochs", "0"), "epochs must be a positive")
    assert_one_line_error(run_cli_here("train", "mnist", "--eval-share", "1.5"),
                          "eval-share is a share of the wall clock")
    assert_one_line_error(run_cli_here("train", "mnist", "--resume", "--out", tmp_path / "nothing"), "not a run folder")
    assert_one_line_error(run_cli_here("train", "mnist", "--batch-size", "70000"), "larger than the dataset")
    assert_one_line_error(run_cli_here("train", "mnist", "--model", "vae"), "invalid choice")
    assert_one_line_error(run_cli_here("sample", tmp_path / "nothing", "--out", tmp_path / "x.png"), "does not exist")


@pytest.mark.slow
def test_resume_with_another_model_shape_is_refused(tmp_path, digits_npz):
    run = tmp_path / "run"
    train(str(digits_npz), out=run, model="mlp", epochs=1, steps_per_epoch=2, verbose=0)
    assert_one_line_error(run_cli_here("train", digits_npz, "--resume", "--out", run, "--latent-dim", 50), "latent_dim")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "latent_dim": 50}))  # a checkpoint of another shape
    assert_one_line_error(run_cli_here("train", digits_npz, "--resume", "--out", run, "--epochs", 2), "does not fit")
    assert_one_line_error(run_cli_here("train", digits_npz, "--out", run), "already holds a run")


@pytest.mark.slow
def test_time_budget_stops_cleanly(tmp_path, digits_npz):
    result = train(str(digits_npz), out=tmp_path / "r", model="mlp", steps_per_epoch=4, max_minutes=0.05,
                   verbose=0)  # no epochs given: train until the budget is spent
    assert result.stop_reason == "time"
    assert 1 <= result.epochs_done < 1000
    assert (tmp_path / "r" / "generator.keras").is_file()
    assert (tmp_path / "r" / "samples" / f"epoch-{result.epochs_done:04d}.png").is_file()
    assert len(_rows(tmp_path / "r")) == result.epochs_done


@pytest.mark.slow
def test_divergence_stops_keeps_the_last_good_checkpoint_and_says_how_to_resume(tmp_path, digits_npz):
    run = tmp_path / "r"
    train(str(digits_npz), out=run, model="mlp", epochs=1, steps_per_epoch=3, verbose=0)
    with pytest.raises(UsageError, match=r"diverged.*last good checkpoint \(epoch 1\).*--resume"):
        train(out=run, resume=True, epochs=3, lr=1e30, verbose=0)
    assert [r["epoch"] for r in _rows(run)] == ["1"]
    import tensorflow as tf

    assert tf.train.load_checkpoint(str(run / "checkpoints")).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 1
    result = train(out=run, resume=True, epochs=2, lr=1e-4, verbose=0)
    assert result.stop_reason is None and [r["epoch"] for r in _rows(run)] == ["1", "2"]


@pytest.mark.slow
def test_same_seed_same_history_and_grids(tmp_path, digits_npz):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train(str(digits_npz), out=tmp_path / name, model="dcgan", width=8, batch_size=16, epochs=2, steps_per_epoch=3,
              seed=seed, verbose=0)
        runs.append(([{k: v for k, v in r.items() if k not in TIMING_COLUMNS}
                      for r in _rows(tmp_path / name)],
                     (tmp_path / name / "samples" / "epoch-0002.png").read_bytes()))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]


@pytest.mark.slow
def test_classic_trainer_walking_the_data(tmp_path, digits_npz):
    result = train(str(digits_npz), out=tmp_path / "c", model="mlp", trainer="classic", walk_data=True,
                   real_label=0.9, label_noise=0.05, epochs=2, steps_per_epoch=3, verbose=0)
    assert [r["epoch"] for r in _rows(tmp_path / "c")] == ["1", "2"]
    assert result.stop_reason is None and (tmp_path / "c" / "generator.keras").is_file()


def _start_training(run, *extra):
    return subprocess.Popen([sys.executable, "-m", "gan_keras", "train", "mnist", "--model", "mlp", "--epochs", "50",
                             "--steps-per-epoch", "40", "--out", str(run), "--quiet", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_then_resume(tmp_path):
    run = tmp_path / "k"
    process = _start_training(run, "--checkpoint-every-steps", "15")
    _wait_for(run / "checkpoints" / "checkpoint", process)
    time.sleep(1.5)  # die somewhere later: mid-epoch, mid-save, anywhere
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_rows = _rows(run) if (run / "history.csv").is_file() else []
    result = run_cli_here("train", "mnist", "--epochs", len(killed_rows) + 2, "--resume", "--out", run)
    assert result.returncode == 0, result.stderr
    epochs = [int(r["epoch"]) for r in _rows(run)]
    assert epochs == list(range(1, len(killed_rows) + 3))  # no row missing, none twice
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(run / "checkpoints"))
    assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == epochs[-1]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_save_a_checkpoint_before_exiting(tmp_path, signum):
    run = tmp_path / "t"
    process = _start_training(run)
    _wait_for(run / "history.csv", process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    rows = _rows(run)
    import tensorflow as tf

    saved = tf.train.load_checkpoint(str(run / "checkpoints"))
    assert saved.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == len(rows)
    assert (run / "generator.keras").is_file()
    assert 1 <= len(rows) < 50


@pytest.mark.slow
def test_a_resumed_run_continues_exactly_like_an_uninterrupted_one(tmp_path, digits_npz):
    """Weights, optimizer state, noise and data order all continue: the histories match."""
    settings = dict(model="dcgan", steps_per_epoch=3, seed=5, verbose=0)
    train(str(digits_npz), out=tmp_path / "straight", epochs=3, **settings)
    train(str(digits_npz), out=tmp_path / "resumed", epochs=2, **settings)
    train(out=tmp_path / "resumed", resume=True, epochs=3, verbose=0)
    losses = [[{k: r[k] for k in ("epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake")}
               for r in _rows(tmp_path / n)]
              for n in ("straight", "resumed")]
    assert losses[0] == losses[1]
    assert (tmp_path / "straight" / "samples" / "epoch-0003.png").read_bytes() == \
        (tmp_path / "resumed" / "samples" / "epoch-0003.png").read_bytes()


@pytest.mark.slow
def test_eval_every_adds_the_metric_to_history_and_evaluate_prints_json(tmp_path):
    run = tmp_path / "e"
    result = train("mnist", out=run, model="mlp", epochs=2, steps_per_epoch=3, eval_every=1, limit=59_700, verbose=0)
    values = result.history["eval_domain_fid"]
    assert len(values) == 2 and all(v > 0 for v in values)
    evaluated = run_cli_here("evaluate", run, "--n", 500, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    record = json.loads(evaluated.stdout.strip().splitlines()[-1])
    # the same 300 held-out digits and the same seeded samples as --eval-every's last epoch: the same FID
    assert record["domain_fid"] == pytest.approx(values[-1], rel=1e-4)
    assert record["n"] == 300 and record["against"].startswith("held-out")  # only 300 images were never trained on
    assert_one_line_error(run_cli_here("evaluate", tmp_path / "nothing"), "not a run folder")


@pytest.mark.slow
def test_a_vanished_data_folder_is_one_clear_error_on_resume(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(8):
        Image.new("RGB", (20, 20), (30 * i, 0, 0)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    train(str(folder), out=run, image_size=32, model="dcgan", batch_size=4, epochs=1, steps_per_epoch=1, verbose=0)
    shutil.rmtree(folder)
    assert_one_line_error(run_cli_here("train", folder, "--resume", "--out", run, "--epochs", 2), "does not exist")


@pytest.mark.slow
def test_a_full_disk_while_saving_is_one_line_and_keeps_what_was_saved(tmp_path, digits_npz, monkeypatch, capsys):
    import errno

    from gan_keras import cli
    from gan_keras.runs import callbacks

    run = tmp_path / "r"
    train(str(digits_npz), out=run, model="mlp", epochs=1, steps_per_epoch=2, verbose=0)
    saved = sorted(p.name for p in (run / "checkpoints").iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(run / "samples" / "epoch-0002.png"))

    monkeypatch.setattr(callbacks, "save_png", disk_full)
    code = cli.main(["train", str(digits_npz), "--resume", "--out", str(run), "--epochs", "2", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: No space left on device")
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == saved  # the epoch-1 checkpoint stands
    monkeypatch.undo()
    result = train(out=run, resume=True, epochs=2, verbose=0)  # and the run goes on from it
    assert [r["epoch"] for r in _rows(run)] == ["1", "2"] and result.epochs_done == 2


def test_a_discriminator_that_wins_for_five_epochs_is_reported(capsys):
    from gan_keras.training.callbacks import RunStatus, StopGuard

    class Model:
        stop_training = False

    guard = StopGuard(RunStatus())
    guard.set_model(Model())
    for epoch in range(4):
        guard.on_epoch_end(epoch, {"d_acc_fake": 1.0, "g_loss": 3.0 + epoch})
    assert "won outright" not in capsys.readouterr().out
    guard.on_epoch_end(4, {"d_acc_fake": 1.0, "g_loss": 7.0})
    assert "won outright for 5 epochs" in capsys.readouterr().out


def test_saving_figures_leaves_the_matplotlib_backend_alone(tmp_path):
    """Notebooks show figures inline: training must not switch the backend to Agg under them."""
    import matplotlib

    from gan_keras.runs.plots import plot_history

    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plot_history({"epoch": [1, 2], "d_loss": [0.7, 0.6], "g_loss": [0.8, 0.9], "d_acc_real": [0.5, 0.6],
                      "d_acc_fake": [0.5, 0.4]}, tmp_path / "losses.png")
        assert matplotlib.get_backend() == "svg"
        assert (tmp_path / "losses.png").stat().st_size > 1000
    finally:
        matplotlib.use(previous)


def test_recipes_are_plotted_against_cumulative_steps(tmp_path):
    from gan_keras.runs.plots import plot_recipes

    nan = float("nan")
    histories = {name: {"epoch": [1, 2, 3], "steps": [100, 100, 50], "eval_swd": [90.0, nan, 40.0 + i],
                        "eval_d_acc_train": [0.5, nan, 0.9], "eval_d_acc_heldout": [0.4, nan, 0.2]}
                 for i, name in enumerate(("plain", "ada"))}
    fig = plot_recipes(histories, path=tmp_path / "curves.png")
    swd_lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in swd_lines] == ["plain", "ada"]
    assert list(swd_lines[1].get_xdata()) == [100, 250] and list(swd_lines[1].get_ydata()) == [90.0, 41.0]
    assert len(fig.axes[1].get_lines()) == 4  # training and held-out accuracy per run
    assert (tmp_path / "curves.png").stat().st_size > 1000


def _cut_short(path, fraction=0.5):
    """Damage a file as an interrupted copy does: keep only its first part."""
    with open(path, "r+b") as f:
        f.truncate(int(path.stat().st_size * fraction))


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, digits_npz):
    run = tmp_path / "r"
    train(str(digits_npz), out=run, model="mlp", epochs=2, steps_per_epoch=3, verbose=0)
    _cut_short(next((run / "checkpoints").glob("ckpt-2.data-*")))
    result = run_cli_here("train", digits_npz, "--resume", "--out", run, "--epochs", 3, "--quiet")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ckpt-2 is damaged" in warnings[0] and "ckpt-1" in warnings[0], result.stderr
    assert [r["epoch"] for r in _rows(run)] == ["1", "2", "3"]  # epoch 2 redone from the epoch-1 checkpoint
    import tensorflow as tf

    assert tf.train.load_checkpoint(str(run / "checkpoints")).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 3

    # sample: a damaged generator.keras and a damaged newest checkpoint still give images
    from gan_keras.runs.checkpoints import checkpoint_paths

    older, newest = checkpoint_paths(run / "checkpoints")  # ckpt-2 (rewritten on resume) and ckpt-3
    _cut_short(run / "generator.keras")
    _cut_short(next((run / "checkpoints").glob(f"{Path(newest).name}.data-*")))
    sampled = run_cli_here("sample", run, "--n", 4, "--out", tmp_path / "s.npz")
    assert sampled.returncode == 0, sampled.stderr
    assert "generator.keras is damaged" in sampled.stderr and f"{Path(newest).name} is damaged" in sampled.stderr
    assert np.load(tmp_path / "s.npz")["images"].shape == (4, 28, 28)

    # nothing usable left: one line, exit 2, for every command
    for data in (run / "checkpoints").glob("ckpt-*.data-*"):
        _cut_short(data)
    assert_one_line_error(run_cli_here("train", digits_npz, "--resume", "--out", run, "--epochs", 4),
                          "no usable checkpoint")
    assert_one_line_error(run_cli_here("sample", run, "--out", tmp_path / "t.png"), "no usable checkpoint")
    assert_one_line_error(run_cli_here("evaluate", run, "--n", 100), "no usable checkpoint")


@pytest.mark.slow
def test_a_damaged_config_json_is_one_line_for_every_command(tmp_path, digits_npz):
    run = tmp_path / "r"
    train(str(digits_npz), out=run, model="mlp", epochs=1, steps_per_epoch=2, verbose=0)
    _cut_short(run / "config.json")
    assert_one_line_error(run_cli_here("train", digits_npz, "--resume", "--out", run, "--epochs", 2),
                          "config.json is damaged")
    assert_one_line_error(run_cli_here("evaluate", run, "--n", 100), "config.json is damaged")
    (run / "generator.keras").unlink()  # sample needs the settings only to rebuild G from a checkpoint
    assert_one_line_error(run_cli_here("sample", run, "--out", tmp_path / "s.png"), "config.json is damaged")


def _tensorboard_events(folder):
    """{tag: [(step, value)]} of every event file under `folder`; images as their (height, width)."""
    import tensorflow as tf

    events = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    width, height = int(tensor[0]), int(tensor[1])  # [width, height, png bytes...]
                    events.setdefault(value.tag, []).append((event.step, (height, width)))
                else:
                    events.setdefault(value.tag, []).append((event.step, float(tensor)))
    return events


@pytest.mark.slow
def test_tensorboard_logs_scalars_and_grids_at_their_epochs_and_resume_appends(tmp_path, digits_npz):
    run = tmp_path / "tb"
    result = run_cli_here("train", digits_npz, "--model", "mlp", "--epochs", 2, "--steps-per-epoch", 3, "--tensorboard",
                     "--sample-every", 2, "--lr", "3e-4", "--quiet", "--out", run)
    assert result.returncode == 0, result.stderr
    events = _tensorboard_events(run / "tensorboard")
    rows = _rows(run)
    for tag in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "images_per_s"):
        assert [step for step, _ in events[tag]] == [1, 2], tag
        np.testing.assert_allclose([v for _, v in events[tag]], [float(r[tag]) for r in rows], rtol=1e-5)
    expected = [(1, pytest.approx(3e-4)), (2, pytest.approx(3e-4))]
    assert events["d_learning_rate"] == events["g_learning_rate"] == expected
    assert events["samples"] == [(2, (8 * 30 + 2, 8 * 30 + 2))]  # the 8x8 grid, written with the epoch-2 PNG

    resumed = run_cli_here("train", digits_npz, "--resume", "--epochs", 3, "--sample-every", 1, "--quiet", "--out", run)
    assert resumed.returncode == 0, resumed.stderr
    events = _tensorboard_events(run / "tensorboard")
    assert [step for step, _ in events["d_loss"]] == [1, 2, 3]  # the same timeline, on from epoch 3
    assert [step for step, _ in events["samples"]] == [2, 3]


def test_sizes_and_targets_out_of_range_are_one_line():
    assert_one_line_error(run_cli_here("train", "mnist", "--image-size", 0), "image-size must be a positive number")
    assert_one_line_error(run_cli_here("train", "mnist", "--real-label", 1.5), "real-label is the target")
    assert_one_line_error(run_cli_here("train", "mnist", "--real-label", 0), "real-label is the target")


@pytest.mark.slow
def test_a_second_writer_of_a_busy_run_folder_is_refused_and_the_first_run_finishes_intact(tmp_path):
    run = tmp_path / "busy"
    process = _start_training(run, "--epochs", "10")  # 400 MLP steps: still running when the second one asks
    _wait_for(run / "checkpoints" / "checkpoint", process)
    second = run_cli_here("train", "mnist", "--resume", "--epochs", 12, "--out", run)  # "continue it" by mistake
    assert_one_line_error(second, f"is being written by process {process.pid}")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert [r["epoch"] for r in _rows(run)] == [str(e) for e in range(1, 11)]  # one writer's history, whole
    assert (run / "generator.keras").is_file()


def test_recording_keeps_its_share_of_the_clock_however_long_the_run():
    """Simulated: 1 s epochs and a 0.3 s grid; grids come at the same rate early and late, within their share."""
    from gan_keras.training.recording import RECORD_SHARES, RecordingClock

    now = [0.0]
    clock = RecordingClock(now=lambda: now[0])
    recorded = []
    for epoch in range(2000):
        now[0] += 1.0  # the epoch's steps
        if clock.due("grids"):
            with clock.timing("grids"):
                now[0] += 0.3
            recorded.append(epoch)
    assert clock.spent["grids"] <= RECORD_SHARES["grids"] * now[0] + 0.3
    early, late = sum(e < 1000 for e in recorded), sum(e >= 1000 for e in recorded)
    assert len(recorded) > 20 and abs(early - late) <= 1
    assert clock.take_unreported() == pytest.approx(0.3 * len(recorded)) and clock.take_unreported() == 0
    with clock.timing("grids"):  # a GIF written inside a grid's record counts once, as the GIF
        now[0] += 0.1
        with clock.timing("gif"):
            now[0] += 0.5
    assert clock.last_cost == {"grids": pytest.approx(0.1), "gif": pytest.approx(0.5)}
    assert clock.take_unreported() == pytest.approx(0.6)


@pytest.mark.slow
def test_a_long_run_of_fast_steps_spends_a_bounded_share_recording(tmp_path, digits_npz, capsys):
    """A stand-in for a long run: 240 one-step epochs of the MLP. Recording per epoch does not grow with
    the epoch count (it did when every epoch re-encoded the whole GIF), and stays within its shares."""
    from PIL import Image

    from gan_keras.runs.callbacks import MAX_GIF_FRAMES
    from gan_keras.training.recording import RECORD_SHARES

    run = tmp_path / "long"
    started = time.monotonic()
    train(str(digits_npz), out=run, model="mlp", batch_size=16, steps_per_epoch=1, epochs=240, verbose=2)
    wall = time.monotonic() - started
    rows = _rows(run)
    record = np.array([float(r["record_s"]) for r in rows])
    assert len(rows) == 240
    assert record[2:].sum() <= sum(RECORD_SHARES.values()) * wall  # row 2 holds epoch 1's first records
    # Records come in lumps (a grid every so many epochs), so the halves differ by up to a record or two;
    # re-encoding the whole GIF every epoch cost seconds per epoch by the end.
    assert record[120:].sum() <= 1.5 * record[2:120].sum() + 0.5
    grids = sorted((run / "samples").glob("epoch-*.png"))
    assert grids[0].name == "epoch-0001.png" and grids[-1].name == "epoch-0240.png" and len(grids) < 240
    assert Image.open(run / "progress.gif").n_frames == min(len(grids), MAX_GIF_FRAMES)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "in 240 training steps" in last and "s recording (" in last, last


def test_the_progress_gif_holds_at_most_its_frames_first_and_last_included(tmp_path):
    from PIL import Image

    from gan_keras.runs.callbacks import MAX_GIF_FRAMES, SampleGrid

    grids = SampleGrid(np.zeros((4, 2)), tmp_path / "samples", tmp_path / "progress.gif")
    for epoch in range(1, 2 * MAX_GIF_FRAMES + 8):
        Image.new("RGB", (8, 8), (epoch, 0, 0)).save(tmp_path / "samples" / f"epoch-{epoch:04d}.png")
    grids.write_gif()
    gif = Image.open(tmp_path / "progress.gif")
    assert gif.n_frames == MAX_GIF_FRAMES
    reds = []
    for i in (0, MAX_GIF_FRAMES - 1):
        gif.seek(i)
        reds.append(gif.convert("RGB").getpixel((0, 0))[0])
    assert reds == [1, 2 * MAX_GIF_FRAMES + 7]
    assert "gif" in grids.clock.spent


@pytest.mark.slow
def test_eval_samples_sets_how_many_images_each_evaluation_compares(tmp_path, digits_npz, monkeypatch):
    from gan_keras import train
    from gan_keras.metrics import in_run
    from tests.conftest import assert_one_line_error, run_cli_here

    compared = []

    def counting_evaluate(generator, real_images, *args, **kwargs):
        compared.append((len(real_images), kwargs["n"]))
        return {"swd": 1.0}

    monkeypatch.setattr(in_run, "evaluate", counting_evaluate)
    train(str(digits_npz), out=tmp_path / "r", model="mlp", epochs=1, steps_per_epoch=1, eval_every=1, limit=400,
          eval_samples=37, verbose=0)
    train(str(digits_npz), out=tmp_path / "d", model="mlp", epochs=1, steps_per_epoch=1, eval_every=1, limit=400,
          verbose=0)
    assert compared == [(37, 37), (112, 112)]  # the default 2,000, here capped by the 112 held-out digits
    assert_one_line_error(run_cli_here("train", digits_npz, "--eval-samples", 0, "--out", tmp_path / "x"),
                          "eval-samples")


@pytest.mark.slow
def test_eval_every_keeps_the_best_generator_across_a_resume(tmp_path, digits_npz, monkeypatch):
    import keras

    from gan_keras.files import read_history
    from gan_keras.metrics import in_run
    from gan_keras.runs.best import best_summary, read_best
    from gan_keras.runs.loading import load_generator
    scripted, drawn = iter([5.0, 3.0, 4.0, 3.5, 1.0]), []
    z = np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32)

    def scripted_evaluate(generator, *args, **kwargs):
        drawn.append(np.asarray(generator(z, training=False)))
        return {"swd": next(scripted)}  # a folder of digits is scored by SWD

    monkeypatch.setattr(in_run, "evaluate", scripted_evaluate)
    run = tmp_path / "r"
    train(str(digits_npz), out=run, model="mlp", epochs=3, steps_per_epoch=2, eval_every=1, limit=400, verbose=0,
          eval_share=1.0)  # every epoch evaluated, however short
    assert len(drawn) == 3
    assert read_best(run) == {"epoch": 2, "column": "eval_swd", "value": 3.0, "lower_is_better": True}
    best = load_generator(run / "best")  # a run folder of its own: generator.keras and config.json
    np.testing.assert_allclose(np.asarray(best(z, training=False)), drawn[1], atol=1e-6)
    last = keras.saving.load_model(run / "generator.keras", compile=False)
    assert not np.allclose(np.asarray(last(z, training=False)), drawn[1], atol=1e-3)
    summary = best_summary(run, read_history(run / "history.csv"))
    assert "epoch 2 of 3" in summary and "the 1 evaluation after it did not beat it" in summary

    train(str(digits_npz), out=run, epochs=5, resume=True, verbose=0, eval_share=1.0)  # 3.5 does not beat 3; 1 does
    assert read_best(run)["epoch"] == 5 and read_best(run)["value"] == 1.0
    assert "still improving" in best_summary(run, read_history(run / "history.csv"))


def test_the_learning_rate_holds_then_falls_linearly_over_the_time_budget_or_the_epochs():
    from gan_keras.training.schedule import RunSchedule, progress_of, scheduled

    assert [round(scheduled(1.0, 0.1, f, 0.5), 6) for f in (0, 0.5, 0.75, 1.0, 1.5)] == [1, 1, 0.55, 0.1, 0.1]

    class Optimizer:
        learning_rate = None

    def setter(*optimizers):
        return lambda value: [setattr(o, "learning_rate", value) for o in optimizers]

    now = [100.0]
    d, g = Optimizer(), Optimizer()
    timed = RunSchedule({"lr": (2e-4, 2e-5, setter(d, g))}, begin=0.0, started=100.0, deadline=200.0,
                        clock=lambda: now[0])
    rates = []
    for t in (100.0, 150.0, 200.0):
        now[0] = t
        timed.on_epoch_begin(epoch=7)  # the time decides, not the epoch
        logs = {}
        timed.on_epoch_end(7, logs)
        rates.append((d.learning_rate, g.learning_rate, logs["lr"]))
    np.testing.assert_allclose(rates, [(2e-4,) * 3, (1.1e-4,) * 3, (2e-5,) * 3])
    by_epochs = RunSchedule({"lr": (1.0, 0.0, setter(d))}, begin=0.5, epochs=10)
    by_epochs.on_epoch_begin(5)
    assert d.learning_rate == 1.0
    by_epochs.on_epoch_begin(9)
    assert d.learning_rate == pytest.approx(0.2)
    # resumed by time at 60% of its schedules: the rest spread over the new budget, from where it stopped
    now = [0.0]
    by_time = RunSchedule({"lr": (1.0, 0.0, setter(d))}, begin=0.0, started=0.0, deadline=100.0, done=0.6,
                          clock=lambda: now[0])
    by_time.on_epoch_begin(0)
    assert d.learning_rate == pytest.approx(0.4)
    now[0] = 50.0
    logs = {}
    by_time.on_epoch_end(0, logs)
    assert logs["progress"] == pytest.approx(0.8) and by_time.columns == ("lr", "progress")
    assert progress_of({"progress": [0.3, 0.8, float("nan")]}) == 0.8 and progress_of({"lr": [1.0]}) == 0.0


def test_train_decays_the_rate_and_writes_it_to_history(tmp_path, digits_npz):
    from gan_keras import train
    from tests.conftest import assert_one_line_error, run_cli_here

    settings = dict(model="mlp", steps_per_epoch=1, lr=1e-3, lr_decay_start=0.5, lr_end=0.2, verbose=0)
    train(str(digits_npz), out=tmp_path / "r", epochs=4, **settings)
    np.testing.assert_allclose([float(row["lr"]) for row in _rows(tmp_path / "r")], [1e-3, 1e-3, 1e-3, 6e-4])
    train(str(digits_npz), out=tmp_path / "resumed", epochs=2, **settings)  # over --epochs: a resume continues it
    train(out=tmp_path / "resumed", resume=True, epochs=4, verbose=0)
    np.testing.assert_allclose([float(row["lr"]) for row in _rows(tmp_path / "resumed")], [1e-3, 1e-3, 1e-3, 6e-4])
    timed = train(str(digits_npz), out=tmp_path / "t", max_minutes=0.15, **settings)  # over the time budget
    rates = [float(row["lr"]) for row in _rows(tmp_path / "t")]
    assert timed.epochs_done >= 2 and rates == sorted(rates, reverse=True) and rates[-1] < 1e-3  # the last epoch
    assert float(_rows(tmp_path / "t")[-1]["progress"]) == 1.0  # it stopped past its budget: the schedule is done
    train(out=tmp_path / "t", resume=True, max_minutes=0.05, verbose=0)  # a finished schedule holds its end
    resumed = _rows(tmp_path / "t")[timed.epochs_done:]
    assert resumed and all(float(row["lr"]) == pytest.approx(2e-4) for row in resumed)
    assert_one_line_error(run_cli_here("train", digits_npz, "--lr-end", 2, "--out", tmp_path / "x"), "lr-end")
