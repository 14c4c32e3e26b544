"""The files of a run folder, damaged or cut short, give one line naming the file; a write that fails
(a full disk) leaves neither a temporary file nor a half-written one behind."""

import json
import shutil

import numpy as np
import pytest

from gan_keras.errors import UsageError
from gan_keras.files import atomic_write, atomic_write_text, load_npz, read_json
from tests.conftest import assert_one_line_error, run_cli_here


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_a_damaged_json_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"a": 1, "b": ')
    with pytest.raises(UsageError, match=r"settings\.json is damaged .*; the settings cannot be read"):
        read_json(path, "the settings")
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match=r"settings\.json is damaged \(not a JSON object\)"):
        read_json(path, "the settings")
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(UsageError, match="is damaged"):
        read_json(path, "the settings")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_npz_file_is_one_line_naming_it(tmp_path, damage):
    path = tmp_path / "weights.npz"
    np.savez_compressed(path, a=np.arange(1000.0))
    assert load_npz(path, "x")["a"].shape == (1000,)
    if damage == "truncated":
        truncate(path)
    elif damage == "garbage":
        path.write_bytes(b"not a zip at all" * 10)
    else:
        path.write_bytes(b"")
    with pytest.raises(UsageError, match=r"weights\.npz is damaged .*; the shipped networks cannot be read"):
        load_npz(path, "the shipped networks")


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "config.json"
    atomic_write_text(path, "old")
    with pytest.raises(OSError), atomic_write(path) as tmp:
        tmp.write_text("half of the new")
        raise OSError(28, "No space left on device")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_saving_networks_on_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    import keras

    from gan_keras.runs import checkpoints

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "weights.npz"
    checkpoints.save_networks(path, generator=model)
    before = path.read_bytes()

    def disk_full(file, **arrays):
        open(file, "wb").write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    with pytest.raises(OSError):
        checkpoints.save_networks(path, generator=model)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory):
    """A copy of `pretrained:mnist` (config.json, weights.npz, the encoder's two files) to damage."""
    from gan_keras.runs.folder import run_folder

    folder = tmp_path_factory.mktemp("runs") / "mnist"
    shutil.copytree(run_folder("pretrained:mnist"), folder)
    return folder


@pytest.fixture
def run(shipped_copy, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(shipped_copy, folder)
    return folder


def test_truncated_weights_are_one_line_naming_the_file(run):
    truncate(run / "weights.npz")
    assert_one_line_error(run_cli_here("sample", run, "--out", run / "x.png"), "weights.npz is damaged")


def test_a_damaged_config_is_one_line_naming_the_file(run):
    truncate(run / "config.json")
    assert_one_line_error(run_cli_here("sample", run, "--out", run / "x.png"), "config.json is damaged")


@pytest.mark.parametrize("file, damage", [("encoder.npz", "garbage"), ("encoder.npz", "truncated"),
                                          ("encoder.json", "truncated"), ("encoder.json", "a list")])
def test_a_damaged_encoder_is_one_line_naming_the_file(run, file, damage):
    from gan_keras.tools.encoder import load_encoder

    path = run / file
    if damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    elif damage == "truncated":
        truncate(path)
    else:
        path.write_text("[]")
    with pytest.raises(UsageError, match=f"{file.replace('.', '[.]')} is damaged"):
        load_encoder(run)


def test_a_damaged_best_record_is_one_line_naming_it(run):
    from gan_keras.runs.best import read_best

    (run / "best").mkdir()
    (run / "best" / "best.json").write_text('{"epoch": 3, "col')
    with pytest.raises(UsageError, match=r"best\.json is damaged"):
        read_best(run)


def test_damaged_latents_and_directions_are_one_line_naming_the_file(run):
    from gan_keras.tools.directions import load_directions
    from gan_keras.tools.latent import load_latents

    latents, directions = run / "latents.npz", run / "directions.npz"
    shutil.copy(run / "weights.npz", latents)  # an .npz, but not of latents
    with pytest.raises(UsageError, match="is not a latents file"):
        load_latents(latents)
    latents.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(UsageError, match=r"latents\.npz is damaged"):
        load_latents(latents)
    directions.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(UsageError, match=r"directions\.npz is damaged"):
        load_directions(directions)
    shutil.copy(run / "weights.npz", directions)
    with pytest.raises(UsageError, match="is not a directions file"):
        load_directions(directions)


def test_pack_is_a_command_and_the_old_spelling_its_alias(tmp_path):
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"dataset": "mnist"}))
    (run / "generator.keras").write_bytes(b"")
    assert_one_line_error(run_cli_here("pack", run, "tiny", "--command", "c", "--licence", "l", "--best"),
                          "kept no best/ generator")
    alias = subprocess.run([sys.executable, "-m", "gan_keras.pretrained", "pack", str(run), "tiny", "--command", "c",
                            "--licence", "l", "--best"], capture_output=True, text=True, timeout=120)
    assert_one_line_error(alias, "kept no best/ generator")
