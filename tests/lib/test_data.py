"""Tests of course_lib.data: Keras-shaped loaders, integrity checks, caching.

Tests marked `data` read the real datasets from an offline mirror
(COURSE_DATA_DIR, as CI sets it) and are skipped without one, so that the tests
never touch the network. The others build small synthetic mirrors.
"""

import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import urllib.error

import keras
import numpy as np
import pytest
from PIL import Image

from course_lib import data


def _requires_mirror(name):
    if data.find_mirror(name) is None:
        pytest.skip(f"no offline copy of {name}: set COURSE_DATA_DIR to the course's data mirror")
    return data.find_mirror(name)


# ---------------------------------------------------------------------------
# The real datasets (offline mirror)


@pytest.mark.data
@pytest.mark.parametrize(
    "name, shapes",
    [
        ("mnist", ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))),
        ("fashion_mnist", ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,))),
        ("cifar10", ((50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3), (10000, 1))),
    ],
)
def test_loaders_return_keras_shapes_and_dtypes(name, shapes):
    _requires_mirror(name)
    (x_train, y_train), (x_test, y_test) = data.load_dataset(name)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == shapes
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
        assert array.flags.writeable
    assert set(np.unique(y_train)) == set(range(10))
    assert set(np.unique(y_test)) == set(range(10))


@pytest.mark.data
def test_fashion_mnist_equals_keras_loader_on_the_same_files(tmp_path):
    # keras.datasets.fashion_mnist reads these four gz files from its cache
    # folder without a hash check, so it can be pointed at the mirror's copy.
    mirror = _requires_mirror("fashion_mnist")
    keras_dir = tmp_path / "datasets" / "fashion-mnist"
    shutil.copytree(mirror, keras_dir)
    # Keras reads $KERAS_HOME (the folder of `keras.utils.get_file`'s cache) when it is imported,
    # so its loader runs in a fresh process (on the NumPy backend, the quickest to import).
    env = {**os.environ, "KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "numpy"}
    saved = tmp_path / "keras.npz"
    script = ("import sys, numpy, keras; (a, b), (c, d) = keras.datasets.fashion_mnist.load_data(); "
              "numpy.savez(sys.argv[1], x_train=a, y_train=b, x_test=c, y_test=d)")
    subprocess.run([sys.executable, "-c", script, str(saved)], env=env, check=True, capture_output=True)
    with np.load(saved) as arrays:
        expected = ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
    actual = data.load_fashion_mnist()
    for (x_e, y_e), (x_a, y_a) in zip(expected, actual):
        np.testing.assert_array_equal(x_a, x_e)
        np.testing.assert_array_equal(y_a, y_e)
        assert (x_a.dtype, y_a.dtype) == (x_e.dtype, y_e.dtype)


@pytest.mark.data
def test_cifar10_is_shuffled_and_cached(tmp_path, monkeypatch):
    _requires_mirror("cifar10")
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path))
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    # A slice mixes the classes (the mirror's archive is sorted by class).
    assert len(np.unique(y_train[:100])) == 10
    assert len(np.unique(y_test[:100])) == 10
    assert (np.bincount(y_train.ravel()) == 5000).all()
    caches = list((tmp_path / "cache").glob("cifar10-*.npz"))
    assert len(caches) == 1
    (x_again, y_again), _ = data.load_cifar10()
    np.testing.assert_array_equal(x_again, x_train)
    np.testing.assert_array_equal(y_again, y_train)


@pytest.mark.data
@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "delete"])
def test_damaged_mirror_file_raises_clear_error_and_is_left_in_place(tmp_path, monkeypatch, damage):
    mirror = _requires_mirror("mnist")
    copy = tmp_path / "mnist"
    shutil.copytree(mirror, copy)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    target = copy / "train-images-idx3-ubyte.gz"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:1000])
    elif damage == "flip_byte":
        raw = bytearray(target.read_bytes())
        raw[5000] ^= 0xFF
        target.write_bytes(bytes(raw))
    else:
        target.unlink()
    before = target.read_bytes() if target.exists() else None
    with pytest.raises(data.DatasetFileError) as info:
        data.load_mnist()
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert data.SHA256["mnist/train-images-idx3-ubyte.gz"] in message
    assert "COURSE_DATA_DIR" in message
    if damage == "delete":
        assert "missing" in message
        assert not target.exists()
    else:
        assert hashlib.sha256(before).hexdigest() in message
        assert target.read_bytes() == before  # neither repaired nor re-downloaded
    assert sorted(p.name for p in copy.iterdir() if p.name.endswith(".tmp")) == []


# ---------------------------------------------------------------------------
# Synthetic mirrors: the readers and the resolution order without real data


def _idx_bytes(array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _fake_idx_mirror(root, monkeypatch, folder="mnist"):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(20) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(10) % 10,
    }
    (root / folder).mkdir(parents=True)
    for filename, array in arrays.items():
        raw = _idx_bytes(array)
        (root / folder / filename).write_bytes(raw)
        monkeypatch.setitem(data.SHA256, f"{folder}/{filename}", hashlib.sha256(raw).hexdigest())
    return arrays


def test_idx_reader_round_trips_a_synthetic_mirror(tmp_path, monkeypatch):
    arrays = _fake_idx_mirror(tmp_path, monkeypatch)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert x_train.dtype == y_train.dtype == np.uint8
    assert data.data_source("mnist") == "offline mirror in $COURSE_DATA_DIR"


def _fake_cifar_mirror(root, monkeypatch, per_class=3):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for split in ("train", "test"):
            for label, name in enumerate(data.class_names("cifar10")):
                for i in range(per_class):
                    image = Image.fromarray(np.full((32, 32, 3), label * 20 + i, np.uint8))
                    jpeg = io.BytesIO()
                    image.save(jpeg, format="JPEG", quality=95)
                    info = tarfile.TarInfo(f"{split}/{name}/{i:04d}.jpg")
                    info.size = len(jpeg.getvalue())
                    archive.addfile(info, io.BytesIO(jpeg.getvalue()))
    (root / "cifar10").mkdir(parents=True)
    raw = buffer.getvalue()
    (root / "cifar10" / "cifar10_jpg.tar.gz").write_bytes(raw)
    monkeypatch.setitem(data.SHA256, "cifar10/cifar10_jpg.tar.gz", hashlib.sha256(raw).hexdigest())


def test_cifar10_decoder_labels_shuffle_and_atomic_cache(tmp_path, monkeypatch):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache_root"
    _fake_cifar_mirror(mirror, monkeypatch)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(mirror))
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(cache))
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    assert x_train.shape == (30, 32, 32, 3) and y_train.shape == (30, 1)
    assert x_test.shape == (30, 32, 32, 3) and y_test.shape == (30, 1)
    # Each image is a flat colour that encodes its label: labels follow images.
    np.testing.assert_allclose(x_train[:, 16, 16, 0] // 20, y_train[:, 0], atol=0)
    assert not np.array_equal(y_train[:, 0], np.sort(y_train[:, 0]))  # shuffled
    files = sorted(p.name for p in (cache / "cache").iterdir())
    assert len(files) == 1 and files[0].endswith(".npz")  # no temporary file left
    # The second load reads the cache, and gives the same arrays.
    monkeypatch.setattr(data, "_decode_cifar10_archive", lambda path: pytest.fail("cache not used"))
    (x_again, y_again), _ = data.load_cifar10()
    np.testing.assert_array_equal(x_again, x_train)
    np.testing.assert_array_equal(y_again, y_train)


def test_cache_write_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    def failing_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    target = tmp_path / "cache" / "x.npz"
    with pytest.raises(OSError, match="disk full"):
        data._atomic_savez(target, a=np.zeros(3))
    assert list((tmp_path / "cache").iterdir()) == []


def test_folder_in_mirror_is_authoritative_missing_file_is_an_error(tmp_path, monkeypatch):
    _fake_idx_mirror(tmp_path, monkeypatch)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: pytest.fail("must not download"))
    with pytest.raises(data.DatasetFileError, match="t10k-labels-idx1-ubyte.gz is missing"):
        data.load_mnist()


def test_without_mirror_falls_back_to_keras_download(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path))
    sentinel = ((np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.uint8)),) * 2
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: sentinel)
    assert data.load_mnist() is sentinel
    assert data.data_source("mnist") == "download through keras.datasets"


def test_failed_download_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path))

    def offline():
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(data.DatasetFileError, match="COURSE_DATA_DIR") as info:
        data.load_cifar10()
    assert "no network" in str(info.value)


def test_data_dir_that_is_not_a_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(data.DatasetFileError, match="COURSE_DATA_DIR is set to"):
        data.load_mnist()


# ---------------------------------------------------------------------------
# Digits, class names, subsets and bad input


def test_load_digits_is_keras_shaped_and_stratified():
    (x_train, y_train), (x_test, y_test) = data.load_digits()
    assert x_train.shape[1:] == (8, 8) and x_train.dtype == np.uint8
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 450
    assert y_train.shape == (len(x_train),) and x_train.max() == 16
    assert set(np.unique(y_test)) == set(range(10))


@pytest.mark.parametrize("bad", [0, 1, 1.5, "0.2", -0.1])
def test_load_digits_rejects_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=bad)


def test_class_names():
    assert data.class_names("cifar10")[3] == "cat"
    assert data.class_names("fashion_mnist")[9] == "Ankle boot"
    assert len(data.class_names("mnist")) == 10


@pytest.mark.parametrize("bad", ["imagenet", "MNIST", None, 3])
def test_unknown_dataset_name_is_rejected(bad):
    with pytest.raises(ValueError, match="`name` must be one of"):
        data.class_names(bad)
    with pytest.raises(ValueError, match="`name` must be one of"):
        data.load_dataset(bad)


@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_subset_is_stratified_reproducible_and_keeps_label_shape(label_shape):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 500).astype(np.uint8)
    if label_shape == "column":
        y = y.reshape(-1, 1)
    x = np.arange(500)
    xs, ys = data.subset(x, y, per_class=7, seed=3)
    assert ys.shape == ((35,) if label_shape == "flat" else (35, 1))
    assert (np.bincount(ys.reshape(-1)) == 7).all()
    np.testing.assert_array_equal(y[xs], ys)  # pairs stay together
    assert len(np.unique(xs)) == 35  # no example twice
    xs2, _ = data.subset(x, y, per_class=7, seed=3)
    np.testing.assert_array_equal(xs, xs2)
    xs3, _ = data.subset(x, y, per_class=7, seed=4)
    assert not np.array_equal(np.sort(xs), np.sort(xs3))


def test_subset_bad_input():
    x, y = np.zeros((10, 2)), np.array([0] * 5 + [1] * 5)
    with pytest.raises(ValueError, match="`per_class=6` is larger than class 0"):
        data.subset(x, y, per_class=6)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="per_class"):
            data.subset(x, y, per_class=bad)
    with pytest.raises(ValueError, match="same length"):
        data.subset(x[:9], y, per_class=1)
    with pytest.raises(TypeError, match="`y` must hold integer class labels"):
        data.subset(x, y.astype(float), per_class=1)
    for bad in (-1, 0.5, True):
        with pytest.raises(ValueError, match="`seed` must be None or a non-negative int"):
            data.subset(x, y, per_class=1, seed=bad)
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\)"):
        data.subset(x, np.zeros((10, 3), int), per_class=1)


# ---------------------------------------------------------------------------
# Training, validation and test splits


def test_split_validation_is_stratified_and_disjoint():
    x = np.arange(300).reshape(150, 2)
    y = np.repeat([0, 1, 2], 50).reshape(-1, 1)
    (xt, yt), (xv, yv) = data.split_validation(x, y, validation_size=30, seed=1)
    assert yt.shape == (120,) and np.bincount(yv).tolist() == [10, 10, 10]
    assert not set(xt[:, 0]) & set(xv[:, 0])
    assert set(xt[:, 0]) | set(xv[:, 0]) == set(x[:, 0])
    (xt2, _), _ = data.split_validation(x, y, validation_size=30, seed=1)
    np.testing.assert_array_equal(xt, xt2)
    with pytest.raises(ValueError, match="validation_size"):
        data.split_validation(x, y, validation_size=150)
    with pytest.raises(TypeError, match="`y` must hold integer class labels"):
        data.split_validation(x, y.astype("float32"), validation_size=30)
    with pytest.raises(ValueError, match="`seed` must be None or a non-negative int"):
        data.split_validation(x, y, validation_size=30, seed=-1)


@pytest.mark.data
def test_load_splits_takes_validation_from_the_training_set():
    if data.find_mirror("mnist") is None:
        pytest.skip("no offline copy of mnist: set COURSE_DATA_DIR to the course's data mirror")
    splits = data.load_splits("mnist", validation_size=1000, train_per_class=20, test_per_class=5)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    assert len(x_train) == 200 and len(x_val) == 1000 and len(x_test) == 50
    assert y_train.ndim == y_val.ndim == y_test.ndim == 1
    (full_train, _), (full_test, _) = data.load_mnist()
    train_rows = {row.tobytes() for row in full_train}
    assert all(image.tobytes() in train_rows for image in x_val)
    assert repr(splits) == "Splits(train=200, validation=1000, test=50)"


def test_the_harness_re_exports_the_splits():
    from course_lib import experiment

    for name in ("Splits", "split_validation", "load_splits"):
        assert getattr(experiment, name) is getattr(data, name)


def test_the_data_module_imports_neither_the_harness_nor_keras():
    # The splits live with the datasets: loading data loads no training harness, and Keras only
    # for a download.
    code = "import sys, course_lib.data; print(sorted({'course_lib.experiment', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
