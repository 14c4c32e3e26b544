import gzip
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from gan_keras import UsageError, load_dataset, load_images
from gan_keras.data import load_digits, read_image_folder, walk_batches


def test_mnist_from_the_data_dir():
    ds = load_dataset("mnist", batch_size=100)
    batch = next(iter(ds)).numpy()
    assert batch.shape == (100, 28, 28, 1) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0 and batch.min() < -0.99 and batch.max() > 0.99
    assert sum(1 for _ in ds) == 600  # 60,000 training digits, drop_remainder


def test_fashion_mnist_gz_and_resize():
    x, y = load_digits("fashion_mnist")
    assert x.shape == (60000, 28, 28) and y.shape == (60000,) and x.dtype == np.uint8
    batch = next(iter(load_dataset("fashion_mnist", image_size=32, channels=3, batch_size=8))).numpy()
    assert batch.shape == (8, 32, 32, 3)
    np.testing.assert_allclose(batch[..., 0], batch[..., 2])  # grey to RGB: equal channels


def test_anime_npz():
    images = load_images("anime")
    assert images.shape == (8000, 64, 64, 3) and images.dtype == np.uint8


def test_data_dir_argument_wins_and_missing_data_is_one_clear_error(tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(UsageError, match="GAN_KERAS_DATA_DIR"):
        load_images("mnist", directory=tmp_path)
    with pytest.raises(UsageError, match="anime_faces_64.npz"):
        load_images("anime", directory=tmp_path)


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
                   if p.suffix in (".jpg", ".png", ".bmp", ".webp") and p.name not in ("empty.jpg", "notes.png", "truncated.jpg"))
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
