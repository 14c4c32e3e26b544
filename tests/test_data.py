import gzip
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_keras import UsageError, load_dataset, load_images
from gan_keras.data.folders import read_image_folder
from gan_keras.data.load import load_digits
from gan_keras.data.pipeline import walk_batches
from tests.conftest import assert_one_line_error, run_cli_here


@pytest.mark.slow
def test_mnist_from_the_data_dir():
    ds = load_dataset("mnist", batch_size=100)
    batch = next(iter(ds)).numpy()
    assert batch.shape == (100, 28, 28, 1) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0 and batch.min() < -0.99 and batch.max() > 0.99
    assert sum(1 for _ in ds) == 600  # 60,000 training digits, drop_remainder


@pytest.mark.slow
def test_fashion_mnist_gz_and_resize():
    x, y = load_digits("fashion_mnist")
    assert x.shape == (60000, 28, 28) and y.shape == (60000,) and x.dtype == np.uint8
    batch = next(iter(load_dataset("fashion_mnist", image_size=32, channels=3, batch_size=8))).numpy()
    assert batch.shape == (8, 32, 32, 3)
    np.testing.assert_allclose(batch[..., 0], batch[..., 2])  # grey to RGB: equal channels


@pytest.mark.slow
def test_anime_is_every_face_of_the_zip_and_anime8k_the_8000_of_the_npz():
    faces, eight = load_images("anime"), load_images("anime8k")
    assert faces.shape == (20969, 64, 64, 3) and faces.dtype == np.uint8 and eight.shape == (8000, 64, 64, 3)
    # the 8,000 are among the 20,969 (the same JPEGs; the npz was decoded from them: a few levels apart)
    index = {face.tobytes(): i for i, face in enumerate(faces[:, ::8, ::8, :] // 16)}
    found = sum(face.tobytes() in index for face in eight[:200, ::8, ::8, :] // 16)
    assert found >= 150, found


def test_a_zip_of_images_reads_in_the_natural_order_of_its_names_and_a_damaged_one_is_one_line(tmp_path):
    import zipfile

    from PIL import Image

    from gan_keras.data.folders import read_image_zip
    from gan_keras.errors import UsageError

    path = tmp_path / "faces.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for n in (10, 2, 1):
            image = np.full((8, 8, 3), n * 20, np.uint8)
            with archive.open(f"faces/{n}_2000.png", "w") as f:
                Image.fromarray(image).save(f, format="PNG")
        archive.writestr("faces/notes.txt", "not an image")
    images = read_image_zip(path, size=8, cache=tmp_path / "cache")
    assert [int(image[0, 0, 0]) for image in images] == [20, 40, 200]  # 1, 2, 10: not 1, 10, 2
    np.testing.assert_array_equal(read_image_zip(path, size=8, cache=tmp_path / "cache"), images)  # the cache
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(UsageError, match=r"faces\.zip is damaged"):
        read_image_zip(path, size=8)


def test_the_held_out_images_are_drawn_at_random_the_same_in_every_run():
    from gan_keras.data.load import heldout_mask, split_for_training

    items = np.arange(1000)
    train, held = split_for_training(items, heldout=100)
    assert len(train) == 900 and len(held) == 100 and not set(train) & set(held)
    assert held.min() < 100 and held.max() > 900  # from the whole file, not its tail
    np.testing.assert_array_equal(split_for_training(items, heldout=100)[1], held)  # every run: the same draw
    labels = items * 10
    np.testing.assert_array_equal(split_for_training(labels, heldout=100)[1], held * 10)  # labels follow
    train, held = split_for_training(items, limit=50, heldout=100)
    assert len(train) == 50 and len(held) == 100 and heldout_mask(1000, 100).sum() == 100
    assert len(split_for_training(items[:50], heldout=100)[1]) == 5  # at most a tenth: a small folder trains
    train, held = split_for_training(items, limit=700)
    assert train[-1] == 699 and held[0] == 700  # --limit alone: the first N, the rest held out


def test_train_anime_holds_out_its_declared_thousand_and_an_old_run_none(tmp_path):
    from gan_keras.runs.config import checked_config, load_config

    assert checked_config(None, False, {"dataset": "anime"}).heldout == 1000
    assert checked_config(None, False, {"dataset": "anime", "heldout": 0}).heldout == 0
    assert checked_config(None, False, {"dataset": "mnist"}).heldout == 0
    (tmp_path / "config.json").write_text('{"dataset": "anime", "limit": 7000}')  # written before --heldout
    assert load_config(tmp_path)[0].heldout == 0


def _online():
    import socket

    try:
        socket.create_connection(("www.kaggle.com", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_missing_data_offline_is_one_line_saying_what_to_download_and_where(tmp_path):
    """For real: this machine has no network, so the downloads fail as they would offline."""
    if _online():
        pytest.skip("online: the offline message is tested on machines without network")
    empty = tmp_path / "empty"
    for name, hint in (("anime", "kaggle.com/datasets/splcher/animefacedataset"), ("mnist", "mnist.npz"),
                       ("fashion_mnist", "t10k-labels-idx1-ubyte.gz")):
        with pytest.raises(UsageError, match="could not be downloaded") as error:
            load_images(name, directory=empty)
        assert hint in str(error.value) and str(empty) in str(error.value) and "\n" not in str(error.value)
    result = run_cli_here("train", "anime", "--data-dir", empty)
    assert_one_line_error(result, "unzip its images/ folder as")
    assert_one_line_error(run_cli_here("download", "anime", "--data-dir", empty), "could not be downloaded")


def test_without_kagglehub_the_message_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # import kagglehub -> ImportError
    with pytest.raises(UsageError, match="pip install kagglehub"):
        load_images("anime", directory=tmp_path)


def _fake_kaggle_download(handle, output_dir=None, force_download=False):
    """What kagglehub leaves in output_dir for the Anime Face Dataset: images/N_YEAR.jpg."""
    assert handle == "splcher/animefacedataset"
    images = Path(output_dir) / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(images / f"{i}_2000.jpg")
    return output_dir


@pytest.mark.slow
def test_after_the_download_anime_is_read_as_an_image_folder_and_trains(tmp_path, monkeypatch):
    import kagglehub

    from gan_keras import train

    calls = []
    monkeypatch.setattr(kagglehub, "dataset_download",
                        lambda *a, **k: calls.append(1) or _fake_kaggle_download(*a, **k))
    faces = load_images("anime", directory=tmp_path)
    assert faces.shape == (12, 64, 64, 3) and faces.dtype == np.uint8 and calls == [1]
    assert (tmp_path / "anime" / "images" / "0_2000.jpg").is_file()
    np.testing.assert_array_equal(load_images("anime", directory=tmp_path), faces)  # read again, no download
    assert calls == [1]
    result = train("anime", data_dir=str(tmp_path), out=tmp_path / "run", width=8, batch_size=4, epochs=1,
                   steps_per_epoch=2, verbose=0)
    assert result.epochs_done == 1 and (tmp_path / "run" / "generator.keras").is_file()


def test_download_command_puts_digits_where_the_loader_reads_them(tmp_path, monkeypatch):
    """keras.utils.get_file stands in for the network: it is handed the shared copy."""
    import keras

    from gan_keras.data import download
    from gan_keras.data.folders import data_dir

    source = data_dir()
    asked = []

    def get_file(name, origin, file_hash=None, cache_dir=None, cache_subdir=None):
        asked.append(origin)
        target = Path(cache_dir) / cache_subdir / name
        shutil.copy(source / ("mnist.npz" if name == "mnist.npz" else f"fashion-mnist/{name}"), target)
        return str(target)

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    assert download.download("mnist", tmp_path) == tmp_path / "mnist.npz"
    assert download.download("fashion_mnist", tmp_path) == tmp_path / "fashion-mnist"
    assert asked[0].endswith("/mnist.npz") and len(asked) == 5
    x, y = load_digits("fashion_mnist", "test", directory=tmp_path)
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert load_digits("mnist", directory=tmp_path)[0].shape == (60000, 28, 28)
    download.download("mnist", tmp_path)  # already there: nothing fetched
    assert len(asked) == 5
    with pytest.raises(UsageError, match="read-only|writable"):
        download.download("mnist", "/proc/gan_keras_cannot_write_here")


def test_shuffled_batches_differ_between_epochs(digits_npz):
    ds = load_dataset(digits_npz, batch_size=512, seed=1)
    first, second = (next(iter(ds)).numpy() for _ in range(2))
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(np.sort(first.ravel()), np.sort(second.ravel()))  # same images, new order


def test_npz_path_and_errors(tmp_path, digits_npz):
    assert load_images(digits_npz).shape == (512, 28, 28, 1)
    bad = tmp_path / "bad.npz"
    np.savez(bad, pixels=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(UsageError, match="no array 'images'"):
        load_images(bad)
    with pytest.raises(UsageError, match="larger than the dataset"):
        load_dataset(digits_npz, batch_size=513)
    with pytest.raises(UsageError, match="unknown dataset"):
        load_images("cifar11")


def test_walk_batches_moves_the_start_index_and_wraps():
    data = np.arange(10)
    batches = walk_batches(data, 4)
    assert [next(batches).tolist() for _ in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]


def _save(path, image, **kwargs):
    image.save(path, **kwargs)
    return path


@pytest.fixture
def messy_folder(tmp_path):
    """A folder with every kind of bad file beside good images of every mode."""
    folder = tmp_path / "faces"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (80, 120, 3), dtype=np.uint8))
    _save(folder / "rgb.jpg", rgb, quality=95)
    _save(folder / "sub" / "nested.png", rgb)
    _save(folder / "grey.png", Image.new("L", (50, 50), 128))
    _save(folder / "rgba.png", Image.new("RGBA", (40, 40), (255, 0, 0, 255)))
    _save(folder / "palette.png", Image.new("RGB", (40, 40), (0, 0, 255)).convert("P"))
    _save(folder / "cmyk.jpg", Image.new("CMYK", (40, 40), (0, 255, 255, 0)))  # red in CMYK
    _save(folder / "deep.png", Image.fromarray(np.full((30, 30), 65535, np.uint16)))  # 16-bit white
    _save(folder / "huge.jpg", Image.new("RGB", (4000, 3000), (0, 255, 0)))
    _save(folder / "tiny.bmp", Image.new("RGB", (2, 2), (10, 20, 30)))
    _save(folder / "face.webp", rgb)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image at all")
    jpeg = (folder / "rgb.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "readme.txt").write_text("ignored: not an image extension")
    return folder


def test_bad_files_are_skipped_with_one_warning_and_modes_convert(messy_folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = read_image_folder(messy_folder, size=32, channels=3)
    messages = [str(w.message) for w in caught if "unreadable" in str(w.message)]
    assert len(messages) == 1
    assert "skipped 3 unreadable of 13" in messages[0]
    for name in ("empty.jpg", "notes.png", "truncated.jpg"):
        assert name in messages[0]
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    names = sorted(p.relative_to(messy_folder).as_posix() for p in messy_folder.rglob("*")
                   if p.suffix in (".jpg", ".png", ".bmp", ".webp")
                   and p.name not in ("empty.jpg", "notes.png", "truncated.jpg"))
    by_name = dict(zip(names, images))
    assert np.all(by_name["grey.png"] == 128)  # grayscale -> three equal channels
    assert np.all(by_name["deep.png"] == 255)  # 16-bit white stays white, not clipped garbage
    assert tuple(by_name["rgba.png"][16, 16]) == (255, 0, 0)
    assert tuple(by_name["palette.png"][16, 16]) == (0, 0, 255)
    red = by_name["cmyk.jpg"][16, 16].astype(int)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert tuple(by_name["huge.jpg"][16, 16].astype(int)) == pytest.approx((0, 255, 0), abs=3)
    assert tuple(by_name["tiny.bmp"][16, 16]) == (10, 20, 30)


def test_decoded_folder_is_cached_until_a_file_changes(messy_folder, tmp_path):
    cache = tmp_path / "cache"

    def read():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            images = read_image_folder(messy_folder, size=16, channels=3, cache=cache)
        return images, [str(w.message) for w in caught if "unreadable" in str(w.message)]

    first, first_warnings = read()
    cached = list((cache / "folders").glob("faces-16x16x3-*.npz"))
    assert len(cached) == 1
    second, second_warnings = read()
    np.testing.assert_array_equal(second, first)
    assert second_warnings == first_warnings and "skipped 3 unreadable" in second_warnings[0]  # still told
    with np.load(cached[0]) as f:  # the second read came from the cache: poison it and read again
        poisoned = {"images": np.zeros_like(f["images"]), "skipped": f["skipped"]}
    np.savez(cached[0], **poisoned)
    assert read()[0].max() == 0
    _save(messy_folder / "tiny.bmp", Image.new("RGB", (2, 2), (200, 100, 50)))  # a changed file: decode again
    changed, _ = read()
    assert changed.max() > 0 and not np.array_equal(changed, first)
    remaining = list((cache / "folders").glob("*.npz"))
    assert len(remaining) == 1 and remaining != cached  # the new state's cache replaced the old one


def test_folder_to_grayscale_and_dataset(messy_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = next(iter(load_dataset(messy_folder, image_size=16, channels=1, batch_size=4))).numpy()
    assert batch.shape == (4, 16, 16, 1)


def test_folder_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        load_images(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(3):
        (broken / f"{i}.jpg").write_bytes(b"garbage")
    with pytest.raises(UsageError, match="none of the 3 image files"):
        load_images(broken)


def test_gz_digits_are_read_without_keras(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    header = (2051).to_bytes(4, "big") + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + images.tobytes())
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write((2049).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes([3, 7]))
    x, y = load_digits("fashion_mnist", directory=tmp_path)
    np.testing.assert_array_equal(x, images)
    assert y.tolist() == [3, 7]
    shutil.rmtree(folder)
