"""The course's datasets, loaded offline first.

Each loader returns what the matching `keras.datasets` loader returns:
`(x_train, y_train), (x_test, y_test)` as uint8 NumPy arrays, images
channels-last, labels shaped as Keras shapes them (`(N,)` for MNIST and
Fashion-MNIST, `(N, 1)` for CIFAR-10).

Where the data comes from, in this order:

1. the folder named by the environment variable `COURSE_DATA_DIR` (an offline
   mirror: `mnist/`, `fashion-mnist/` with the four original IDX `.gz` files,
   `cifar10/cifar10_jpg.tar.gz`);
2. the course's data folder (`data/` in a clone of the repository, else
   `~/.cache/course_lib/data`), laid out the same way;
3. the official download through `keras.datasets` (needs a network; this is
   the path students on a laptop or in Colab take).

A dataset folder that exists in a mirror is used, and must be complete: every
file is checked against its published SHA-256 when it is loaded. A missing,
truncated or corrupted file raises `DatasetFileError` naming the file, the
expected and actual hash and the fix; the file is left where it is and nothing
is downloaded over it.

CIFAR-10 comes as 60,000 JPEG files; decoding them takes a while, so the
decoded arrays are cached as an `.npz` keyed by the archive's hash, written
atomically (a temporary file, then a rename).

The experiments' splits come from here too: `load_splits` returns training,
validation and test sets (`Splits`), the validation set carved out of the
training data, stratified (`split_validation`), never out of the test set.
`subset` draws a stratified subset, to fit a CPU budget.
"""

import collections
import gzip
import hashlib
import io
import os
import struct
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np

from course_lib._checks import check_number, check_positive_int, check_seed, class_indices

__all__ = [
    "DATA_DIR_ENV",
    "CACHE_DIR_ENV",
    "DATASETS",
    "SHA256",
    "DatasetFileError",
    "class_names",
    "data_cache_dir",
    "find_mirror",
    "data_source",
    "sha256_of",
    "verify_file",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "load_digits",
    "load_dataset",
    "subset",
    "Splits",
    "split_validation",
    "load_splits",
]

DATA_DIR_ENV = "COURSE_DATA_DIR"
CACHE_DIR_ENV = "COURSE_CACHE_DIR"

DATASETS = ("mnist", "fashion_mnist", "cifar10", "digits")

# Folder of each dataset inside a mirror.
_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist", "cifar10": "cifar10"}

_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_CIFAR10_ARCHIVE = "cifar10_jpg.tar.gz"

# Published SHA-256 of every mirror file (the mirror's SHA256SUMS). The MNIST
# files are the original IDX bytes recompressed with `gzip -n -9`; the
# Fashion-MNIST files are Zalando's originals; the CIFAR-10 archive is a JPEG
# re-encoding of the original images.
SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "mnist/train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "mnist/t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "mnist/t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    "fashion-mnist/train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "fashion-mnist/train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "fashion-mnist/t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    "cifar10/cifar10_jpg.tar.gz": "5fb32038fb4f48b9e8d4e6361668348ac479344991b58761a062e3916b008c60",
}

_CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "digits": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ),
}

# The mirror's CIFAR-10 archive is sorted by class. Keras's copy is not, and
# students slice `x_train[:1000]`, so the loader applies this fixed shuffle.
_CIFAR10_SHUFFLE_SEED = 2009
_CIFAR10_CACHE_VERSION = 1


class DatasetFileError(OSError):
    """A dataset file is missing, truncated or corrupted."""


def _check_name(name):
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"`name` must be one of {', '.join(repr(d) for d in DATASETS)}; "
            f"received name={name!r}."
        )


def class_names(name):
    """Returns the class names of a course dataset, in label order.

    Args:
        name: one of `"mnist"`, `"fashion_mnist"`, `"cifar10"`, `"digits"`.

    Returns:
        A tuple of strings; entry `i` names label `i`.

    Example:

    >>> class_names("cifar10")[:3]
    ('airplane', 'automobile', 'bird')
    """
    _check_name(name)
    return _CLASS_NAMES[name]


# ---------------------------------------------------------------------------
# Where the files are


def _repository_root():
    """The clone's root when course_lib is imported from a clone, else None."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "course_lib").is_dir():
        return root
    return None


def data_cache_dir():
    """Returns the course's own data folder (a clone's `data/`, else a user cache).

    `COURSE_CACHE_DIR` overrides it. The folder may hold a mirror laid out like
    `COURSE_DATA_DIR`, and holds the decoded CIFAR-10 cache under `cache/`.
    """
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    root = _repository_root()
    if root is not None:
        return root / "data"
    return Path.home() / ".cache" / "course_lib" / "data"


def _mirror_roots():
    """The mirror folders to look in, with a description of each, in order."""
    roots = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise DatasetFileError(
                f"{DATA_DIR_ENV} is set to {env!r}, which is not a folder. Point it "
                "at a copy of the course's data mirror, or unset it to download "
                "the datasets through keras.datasets."
            )
        roots.append((path, f"${DATA_DIR_ENV}"))
    roots.append((data_cache_dir(), "the course's data folder"))
    return roots


def _find(name):
    """`(folder, description)` of the first mirror holding `name`, or `(None, None)`."""
    _check_name(name)
    if name == "digits":
        raise ValueError("`name='digits'` ships with scikit-learn and has no mirror.")
    for root, description in _mirror_roots():
        folder = root / _FOLDERS[name]
        if folder.is_dir():
            return folder, description
    return None, None


def find_mirror(name):
    """Returns the mirror folder that holds dataset `name`, or None.

    Args:
        name: `"mnist"`, `"fashion_mnist"` or `"cifar10"`.

    Returns:
        The `pathlib.Path` of the dataset's folder in the first mirror that has
        one, or None when only a download can provide it.
    """
    return _find(name)[0]


def data_source(name):
    """Says where `load_dataset(name)` reads from, without paths (safe to print).

    Args:
        name: one of `DATASETS`.

    Returns:
        A short description, e.g. `"offline mirror in $COURSE_DATA_DIR"` or
        `"download through keras.datasets"`.
    """
    _check_name(name)
    if name == "digits":
        return "bundled with scikit-learn"
    description = _find(name)[1]
    if description is None:
        return "download through keras.datasets"
    return f"offline mirror in {description}"


def sha256_of(path, chunk_size=1 << 20):
    """Returns the hex SHA-256 of the file at `path`, read `chunk_size` bytes at a time."""
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fix_hint():
    return (
        "To fix it, point COURSE_DATA_DIR at an intact copy of the course's data "
        "mirror (check it with `sha256sum -c SHA256SUMS` there), or move the "
        "dataset folder away and connect to the internet so that keras.datasets "
        "downloads the official files. The file was left in place."
    )


def verify_file(folder, filename):
    """Checks one mirror file against its published SHA-256.

    Args:
        folder: the dataset's folder in a mirror (e.g. `.../mnist`).
        filename: the file's name in that folder.

    Returns:
        The file's path.

    Raises:
        DatasetFileError: the file is missing or its hash is not the published
            one. The error names the file, both hashes and the fix.
    """
    folder = Path(folder)
    path = folder / filename
    key = f"{folder.name}/{filename}"
    if key not in SHA256:
        raise ValueError(
            f"`folder` and `filename` must name a file of the course's mirror; received {key!r}, which "
            f"has no published SHA-256. Known files: {', '.join(sorted(SHA256))}."
        )
    expected = SHA256[key]
    if not path.is_file():
        raise DatasetFileError(
            f"Dataset file {path} is missing (expected SHA-256 {expected}). "
            + _fix_hint()
        )
    actual = sha256_of(path)
    if actual != expected:
        raise DatasetFileError(
            f"Dataset file {path} is corrupted or truncated "
            f"({path.stat().st_size} bytes): expected SHA-256 {expected}, "
            f"got {actual}. " + _fix_hint()
        )
    return path


# ---------------------------------------------------------------------------
# Readers


def _read_idx(path):
    """Reads a gzip-compressed IDX file of unsigned bytes into a NumPy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetFileError(f"{path} is not an IDX file of unsigned bytes.")
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetFileError(f"{path} holds {data.size} values, not {shape}.")
    return data.reshape(shape).copy()


def _load_idx_dataset(folder):
    paths = [verify_file(folder, filename) for filename in _IDX_FILES]
    x_train, y_train, x_test, y_test = (_read_idx(p) for p in paths)
    return (x_train, y_train), (x_test, y_test)


def _decode_cifar10_archive(path):
    """Decodes the JPEG tarball into Keras-shaped uint8 arrays."""
    from PIL import Image

    names = _CLASS_NAMES["cifar10"]
    images = {"train": [], "test": []}
    labels = {"train": [], "test": []}
    keys = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or not parts[2].endswith(".jpg"):
                continue
            split, label, filename = parts
            with Image.open(io.BytesIO(archive.extractfile(member).read())) as image:
                images[split].append(np.asarray(image.convert("RGB"), dtype=np.uint8))
            labels[split].append(names.index(label))
            keys[split].append((names.index(label), filename))
    arrays = []
    rng = np.random.default_rng(_CIFAR10_SHUFFLE_SEED)
    for split in ("train", "test"):
        # Sort by (class, file name) first, so that the shuffle does not depend
        # on the order of the members in the archive.
        order = sorted(range(len(keys[split])), key=keys[split].__getitem__)
        order = np.asarray(order)[rng.permutation(len(order))]
        x = np.stack(images[split])[order]
        y = np.asarray(labels[split], dtype=np.uint8)[order].reshape(-1, 1)
        arrays.append((x, y))
    return tuple(arrays)


def _atomic_savez(path, **arrays):
    """Writes an .npz next to `path`, then renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is shared data.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_cifar10_mirror(folder):
    archive = verify_file(folder, _CIFAR10_ARCHIVE)
    digest = SHA256[f"cifar10/{_CIFAR10_ARCHIVE}"]
    cache = (
        data_cache_dir()
        / "cache"
        / f"cifar10-{digest[:16]}-v{_CIFAR10_CACHE_VERSION}.npz"
    )
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as npz:
                return (npz["x_train"], npz["y_train"]), (npz["x_test"], npz["y_test"])
        except (OSError, ValueError, KeyError) as error:
            warnings.warn(f"Ignoring the unreadable cache {cache.name} ({error}).")
    (x_train, y_train), (x_test, y_test) = _decode_cifar10_archive(archive)
    try:
        _atomic_savez(
            cache, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
        )
    except OSError as error:  # A read-only clone still works, only slower.
        warnings.warn(f"Could not cache the decoded CIFAR-10 arrays: {error}")
    return (x_train, y_train), (x_test, y_test)


def _download(name):
    """The official download through keras.datasets (needs a network)."""
    import keras

    loader = {
        "mnist": keras.datasets.mnist,
        "fashion_mnist": keras.datasets.fashion_mnist,
        "cifar10": keras.datasets.cifar10,
    }[name]
    try:
        return loader.load_data()
    except Exception as error:  # noqa: BLE001 - re-raised with the fix
        looked = ", ".join(
            f"{description} ({root / _FOLDERS[name]})" for root, description in _mirror_roots()
        )
        raise DatasetFileError(
            f"Could not load {name!r}: no offline copy was found (looked in "
            f"{looked}) and the download through keras.datasets failed "
            f"({type(error).__name__}: {error}). Set COURSE_DATA_DIR to a copy of "
            "the course's data mirror, or connect to the internet."
        ) from error


def _load(name):
    folder, _ = _find(name)
    if folder is None:
        return _download(name)
    if name == "cifar10":
        return _load_cifar10_mirror(folder)
    return _load_idx_dataset(folder)


def load_mnist():
    """Loads MNIST: 60,000 training and 10,000 test digits, 28x28 grey.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes
        `(60000, 28, 28)`, `(60000,)`, `(10000, 28, 28)`, `(10000,)`, as
        `keras.datasets.mnist.load_data()` returns them.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> x_train.shape, y_train.dtype
    ((60000, 28, 28), dtype('uint8'))
    """
    return _load("mnist")


def load_fashion_mnist():
    """Loads Fashion-MNIST: 60,000 training and 10,000 test articles, 28x28 grey.

    Returns:
        `(x_train, y_train), (x_test, y_test)` as
        `keras.datasets.fashion_mnist.load_data()` returns them (uint8, labels
        of shape `(N,)`). `class_names("fashion_mnist")` names the labels.
    """
    return _load("fashion_mnist")


def load_cifar10():
    """Loads CIFAR-10: 50,000 training and 10,000 test colour images, 32x32x3.

    The offline mirror holds a JPEG re-encoding (about quality 75), so pixel
    values differ slightly from Keras's download. Its archive is sorted by
    class; the loader shuffles each split with a fixed permutation so that a
    slice such as `x_train[:1000]` mixes the classes, as Keras's copy does.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes
        `(50000, 32, 32, 3)`, `(50000, 1)`, `(10000, 32, 32, 3)`,
        `(10000, 1)`, as `keras.datasets.cifar10.load_data()` returns them.
    """
    return _load("cifar10")


def load_digits(test_size=0.25, seed=0):
    """Loads scikit-learn's 1,797 8x8 digits, split like a Keras dataset.

    The digits ship with scikit-learn, so they need neither a mirror nor a
    network. Pixel values are integers from 0 to 16 (not 0 to 255).

    Args:
        test_size: fraction of the images held out for testing, in (0, 1).
        seed: None or a non-negative int, the seed of the stratified split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes
        `(N, 8, 8)` and `(N,)`.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits
    from sklearn.model_selection import train_test_split

    if not isinstance(test_size, float):  # an int would be a number of images for scikit-learn
        raise ValueError(f"`test_size` must be a float in (0, 1); received test_size={test_size!r}.")
    test_size = check_number(test_size, "test_size", 0, 1, low_open=True, high_open=True)
    seed = check_seed(seed)
    digits = sklearn_load_digits()
    x = digits.images.astype(np.uint8)
    y = digits.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed
    )
    return (x_train, y_train), (x_test, y_test)


def load_dataset(name):
    """Loads a course dataset by name (see `DATASETS`) with its default split."""
    _check_name(name)
    return {
        "mnist": load_mnist,
        "fashion_mnist": load_fashion_mnist,
        "cifar10": load_cifar10,
        "digits": load_digits,
    }[name]()


def subset(x, y, per_class, seed=0):
    """Draws a stratified subset: `per_class` random examples of every class.

    Args:
        x: array of examples, first axis the example index.
        y: integer labels of shape `(N,)` or `(N, 1)` (as Keras returns them).
        per_class: number of examples to keep from each class (a positive int,
            at most the size of the smallest class).
        seed: None or a non-negative int, the seed of the draw; the same
            seed gives the same subset.

    Returns:
        `(x_subset, y_subset)` with `per_class * n_classes` examples in a
        random (class-mixed) order, `y_subset` shaped like `y`.

    Example:

    >>> x = np.arange(20).reshape(10, 2); y = np.array([0, 1] * 5)
    >>> xs, ys = subset(x, y, per_class=2, seed=0)
    >>> np.bincount(ys).tolist()
    [2, 2]
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 1 or y.ndim < 1:
        raise ValueError("`x` and `y` must be arrays with one example per row.")
    if len(x) != len(y):
        raise ValueError(
            f"`x` and `y` must have the same length; received {len(x)} and {len(y)}."
        )
    flat = class_indices(y, "y")
    if len(flat) == 0:
        raise ValueError(f"`x` and `y` must hold at least one example; received y of shape {y.shape}.")
    per_class = check_positive_int(per_class, "per_class")
    rng = np.random.default_rng(check_seed(seed))
    chosen = []
    for label in np.unique(flat):
        members = np.flatnonzero(flat == label)
        if per_class > len(members):
            raise ValueError(
                f"`per_class={per_class}` is larger than class {label}, which has "
                f"{len(members)} examples."
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    index = rng.permutation(np.concatenate(chosen))
    return x[index], y[index]


# ---------------------------------------------------------------------------
# Training, validation and test splits


class Splits(collections.namedtuple("Splits", ["train", "validation", "test"])):
    """`(train, validation, test)`, each an `(x, y)` pair with integer labels of shape `(N,)`.

    A named tuple (what `load_splits` returns); its repr gives the sizes.

    Example:

    >>> x, y = np.zeros((10, 2)), np.arange(10) % 2
    >>> splits = Splits((x[:6], y[:6]), (x[6:8], y[6:8]), (x[8:], y[8:]))
    >>> splits, splits.validation[1].tolist()
    (Splits(train=6, validation=2, test=2), [0, 1])
    """

    __slots__ = ()

    def __repr__(self):
        sizes = ", ".join(f"{name}={len(part[0])}" for name, part in zip(("train", "validation", "test"), self))
        return f"Splits({sizes})"


def split_validation(x, y, validation_size, seed=0):
    """Carves a stratified validation set out of training data.

    Args:
        x: training examples, first axis the example.
        y: their integer labels, `(N,)` or `(N, 1)`.
        validation_size: number of validation examples (an int), taken in
            proportion to the classes.
        seed: None or a non-negative int, the seed of the split.

    Returns:
        `(x_train, y_train), (x_validation, y_validation)` with labels of
        shape `(N,)`.

    Example:

    >>> x = np.arange(100).reshape(50, 2); y = np.repeat([0, 1], 25)
    >>> (xt, yt), (xv, yv) = split_validation(x, y, validation_size=10)
    >>> len(xt), np.bincount(yv).tolist()
    (40, [5, 5])
    """
    from sklearn.model_selection import train_test_split

    x = np.asarray(x)
    y = class_indices(y, "y")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length; received {len(x)} and {len(y)}.")
    validation_size = check_positive_int(validation_size, "validation_size")
    seed = check_seed(seed)
    if validation_size >= len(x):
        raise ValueError(
            f"`validation_size` must be smaller than the {len(x)} training examples; "
            f"received validation_size={validation_size}."
        )
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=validation_size, stratify=y, random_state=seed
    )
    return (x_train, y_train), (x_val, y_val)


def load_splits(
    name="cifar10",
    validation_size=5000,
    train_per_class=None,
    test_per_class=None,
    seed=0,
):
    """Loads a course dataset as training, validation and test splits.

    The validation set is carved out of the official training set
    (`split_validation`), never out of the test set. Optionally the training
    and test sets are cut to a stratified subset (`subset`) to fit a CPU
    budget; the validation set keeps `validation_size` examples.

    Args:
        name: a dataset of `DATASETS` ("cifar10", "mnist",
            "fashion_mnist").
        validation_size: number of validation examples taken from the
            training set.
        train_per_class: training examples kept per class after the
            validation set is taken out, or None for all of them.
        test_per_class: test examples kept per class, or None for all.
        seed: None or a non-negative int, the seed of the validation split
            and of the subsets.

    Returns:
        A `Splits` `(train, validation, test)` of `(x, y)` pairs, images as
        stored (uint8) and labels of shape `(N,)`.

    Example:

    >>> load_splits("mnist", validation_size=1000, train_per_class=20, test_per_class=5)
    Splits(train=200, validation=1000, test=50)
    """
    (x_train, y_train), (x_test, y_test) = load_dataset(name)
    train, validation = split_validation(x_train, y_train, validation_size, seed)
    if train_per_class is not None:
        train = subset(*train, per_class=train_per_class, seed=seed)
    y_test = class_indices(y_test, "y_test")
    if test_per_class is not None:
        x_test, y_test = subset(x_test, y_test, per_class=test_per_class, seed=seed)
    return Splits(train, validation, (x_test, y_test))
