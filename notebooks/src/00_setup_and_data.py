# %% [markdown]
# # 00 · Setup and data
#
# This course teaches convolutional neural networks with Keras 3, one notebook per
# concept. Before any network, we make sure the tools work and we meet the data
# that the rest of the course trains on.
#
# **Learning objectives.** After this notebook you can
#
# 1. check which Python, Keras, backend and device run your notebook;
# 2. load MNIST, Fashion-MNIST, CIFAR-10 and scikit-learn's 8x8 digits with
#    `course_lib.data`, and say what shapes and types the arrays have;
# 3. look at a labelled sample of each dataset and at its class balance;
# 4. draw a stratified subset (the course's way of keeping CPU runs short);
# 5. point the course at an offline copy of the data with `COURSE_DATA_DIR`.

# %%
# Setup: works locally and in Google Colab.
try:
    import course_lib
except ModuleNotFoundError:  # the public repository is not known yet: no Colab install
    raise RuntimeError("course_lib is missing: run `make lab` in a clone of the course.")
from course_lib.runtime import setup_notebook
info = setup_notebook(seed=42)

# %% [markdown]
# The line above says which versions run this notebook, on which device, and the
# random seed. `setup_notebook` seeds Python, NumPy and the Keras backend and turns
# on deterministic kernels, so that running the notebook again gives the same
# numbers. Every notebook of the course starts with this cell.
#
# ## 1. The environment
#
# The course is written for **Keras 3** and runs on its TensorFlow backend by
# default. `course_lib`, the course's helper package, uses only `keras` and
# `keras.ops`, so it also runs on JAX and PyTorch: set the environment variable
# `KERAS_BACKEND=jax` (or `torch`) before starting Jupyter to try them.

# %%
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_lib import data
from course_lib.viz import show_images

# %% [markdown]
# **Check.** We run Keras 3.15 on Python 3.11, 3.12 or 3.13: the versions the
# course's lock files pin (the README says how each is checked).

# %%
# NBVAL_CHECK_OUTPUT
assert keras.__version__.startswith("3.15"), keras.__version__
assert (3, 11) <= sys.version_info[:2] <= (3, 13), sys.version
assert info.backend == keras.backend.backend()
print("Keras", keras.__version__[:4], "| Python", sys.version.split()[0][:4])

# %% [markdown]
# ## 2. Where the data comes from
#
# `course_lib.data` looks for each dataset in three places, in this order:
#
# 1. the folder named by the environment variable **`COURSE_DATA_DIR`**, an offline
#    copy laid out as `mnist/`, `fashion-mnist/` (the four original IDX `.gz`
#    files each) and `cifar10/cifar10_jpg.tar.gz`;
# 2. the course's own `data/` folder, laid out the same way;
# 3. the official download through `keras.datasets`, which is what happens on a
#    laptop or in Colab with internet access.
#
# Every file of an offline copy is checked against its published checksum when
# it is loaded. A damaged file stops the loader with an error that names the file
# and the fix; it is never downloaded over. This is where each dataset comes
# from in this run:

# %%
sources = pd.Series({name: data.data_source(name) for name in data.DATASETS}, name="source")
sources.to_frame()

# %% [markdown]
# To use an offline copy, set the variable before starting Jupyter, for example
# `COURSE_DATA_DIR=/path/to/data make lab`, or in a notebook *before* loading
# anything: `import os; os.environ["COURSE_DATA_DIR"] = "/path/to/data"`.
#
# ## 3. Loading the four datasets
#
# The loaders return exactly what `keras.datasets` returns:
# `(x_train, y_train), (x_test, y_test)`, images as `uint8` arrays with the channel
# axis last (colour images only), labels as integers.

# %%
datasets = {name: data.load_dataset(name) for name in data.DATASETS}

rows = []
for name, ((x_train, y_train), (x_test, y_test)) in datasets.items():
    rows.append(
        {
            "dataset": name,
            "x_train": str(x_train.shape),
            "y_train": str(y_train.shape),
            "x_test": str(x_test.shape),
            "y_test": str(y_test.shape),
            "dtype": str(x_train.dtype),
            "pixel range": f"{x_train.min()}-{x_train.max()}",
            "classes": len(data.class_names(name)),
        }
    )
shapes = pd.DataFrame(rows).set_index("dataset")
shapes

# %% [markdown]
# **Check.** The shapes and types are those of `keras.datasets`: 28x28 grey images
# for the two MNISTs, 32x32x3 colour images for CIFAR-10, whose labels Keras returns
# as a column `(N, 1)`. The 8x8 digits take their values from 0 to 16, not 255.

# %%
# NBVAL_CHECK_OUTPUT
expected = {
    "mnist": ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,)),
    "fashion_mnist": ((60000, 28, 28), (60000,), (10000, 28, 28), (10000,)),
    "cifar10": ((50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3), (10000, 1)),
}
for name, shapes_expected in expected.items():
    (x_train, y_train), (x_test, y_test) = datasets[name]
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == shapes_expected, name
    assert x_train.dtype == y_train.dtype == np.uint8, name
(x_digits, y_digits), (x_digits_test, _) = datasets["digits"]
assert len(x_digits) + len(x_digits_test) == 1797 and x_digits.max() == 16
print("all shapes and dtypes match keras.datasets")

# %% [markdown]
# ## 4. A look at each dataset
#
# Numbers are not enough: always look at the data. Each grid shows two random
# training images of every class, with their class names.

# %%
for name, ((x_train, y_train), _) in datasets.items():
    sample_x, sample_y = data.subset(x_train, y_train, per_class=2, seed=0)
    order = np.argsort(sample_y.reshape(-1), kind="stable")
    show_images(
        sample_x[order],
        sample_y[order],
        class_names=data.class_names(name),
        ncols=10,
        title=f"{name}: two training images per class",
    )
    plt.show()

# %% [markdown]
# ## 5. Class balance
#
# A classifier that always answers the most frequent class gets an accuracy equal
# to that class's share. Before reading any accuracy we therefore count the
# examples per class, with pandas.

# %%
def class_counts(name):
    """Examples per class in the training and test sets, as a DataFrame."""
    (_, y_train), (_, y_test) = datasets[name]
    names = list(data.class_names(name))
    return pd.DataFrame(
        {
            "train": pd.Series(y_train.reshape(-1)).value_counts().sort_index().to_numpy(),
            "test": pd.Series(y_test.reshape(-1)).value_counts().sort_index().to_numpy(),
        },
        index=pd.Index(names, name="class"),
    )


counts = {name: class_counts(name) for name in data.DATASETS}
counts["mnist"]

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), sharey=False)
for ax, (name, table) in zip(axes, counts.items()):
    share = table["train"] / table["train"].sum() * 100
    ax.bar(range(len(share)), share)
    ax.set_xticks(range(len(share)))
    ax.set_title(name)
    ax.set_xlabel("class (label)")
    ax.set_ylabel("share of training set (%)")
    ax.axhline(10, color="black", linestyle="--", linewidth=1)
fig.suptitle("Class balance of the training sets (dashed: 10%, perfect balance)")
plt.show()

# %% [markdown]
# **Check.** Fashion-MNIST (6,000 per class) and CIFAR-10 (5,000 per class) are
# perfectly balanced. MNIST is not: the table below gives its smallest and largest
# classes, and the accuracy of always answering the largest one.

# %%
# NBVAL_CHECK_OUTPUT
assert (counts["fashion_mnist"]["train"] == 6000).all()
assert (counts["fashion_mnist"]["test"] == 1000).all()
assert (counts["cifar10"]["train"] == 5000).all()
assert (counts["cifar10"]["test"] == 1000).all()
mnist_train = counts["mnist"]["train"]
majority_share = mnist_train.max() / mnist_train.sum()
assert mnist_train.max() > mnist_train.min()
print(f"MNIST smallest class: '{mnist_train.idxmin()}' with {mnist_train.min()} images")
print(f"MNIST largest class:  '{mnist_train.idxmax()}' with {mnist_train.max()} images")
print(f"always answering '{mnist_train.idxmax()}' scores {majority_share:.1%} on the training set")

# %% [markdown]
# ## 6. Stratified subsets
#
# On a 2-core laptop, training on all 50,000 CIFAR-10 images for many epochs takes
# too long for a lecture. Many notebooks therefore train on a **stratified subset**:
# the same number of random images from every class, so that the subset keeps the
# balance of the classes. `data.subset` draws one reproducibly from a seed.

# %%
(x_train, y_train), _ = datasets["cifar10"]
x_small, y_small = data.subset(x_train, y_train, per_class=100, seed=0)
x_again, _ = data.subset(x_train, y_train, per_class=100, seed=0)

# %% [markdown]
# **Check.** 100 images of each of the 10 classes, labels shaped like Keras's, and
# the same seed draws the same subset.

# %%
# NBVAL_CHECK_OUTPUT
assert x_small.shape == (1000, 32, 32, 3) and y_small.shape == (1000, 1)
assert (np.bincount(y_small.reshape(-1)) == 100).all()
assert np.array_equal(x_small, x_again)
print(x_small.shape, y_small.shape, np.bincount(y_small.reshape(-1)).tolist())

# %% [markdown]
# ## 7. What a damaged file looks like
#
# Downloads break off and disks fail. Here we copy one small MNIST file, damage one
# byte, and ask the loader to check it. (This step needs an offline copy of MNIST;
# with a Keras download there is no mirror file to damage.)

# %%
import shutil
import tempfile
from pathlib import Path

mirror = data.find_mirror("mnist")
if mirror is None:
    print("MNIST came from a Keras download: no mirror file to damage here.")
else:
    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(tmp) / "mnist"
        broken.mkdir()
        name = "t10k-labels-idx1-ubyte.gz"
        shutil.copy(mirror / name, broken / name)
        raw = bytearray((broken / name).read_bytes())
        raw[100] ^= 0xFF
        (broken / name).write_bytes(bytes(raw))
        try:
            data.verify_file(broken, name)
        except data.DatasetFileError as error:
            message = str(error).replace(tmp, "<tmp>")
        else:
            raise AssertionError("the damaged file was accepted")
        print(message.replace(". ", ".\n"))
        assert (broken / name).read_bytes() == bytes(raw), "the damaged file must be left in place"

# %% [markdown]
# ## Summary
#
# - `setup_notebook()` opens every notebook: it seeds everything, makes kernels
#   deterministic and reports the versions and the device.
# - `course_lib.data` loads MNIST, Fashion-MNIST, CIFAR-10 and the 8x8 digits with
#   the same return values as `keras.datasets`, from an offline copy
#   (`COURSE_DATA_DIR`) when there is one, else by download, and checks every file.
# - Look at the data and count its classes before training: MNIST is slightly
#   unbalanced, Fashion-MNIST and CIFAR-10 are balanced.
# - `data.subset` draws stratified, reproducible subsets to keep CPU runs short.
#
# ## Exercises
#
# Difficulty: ★ a few minutes, ★★ some code or a short derivation, ★★★ a small project or a longer derivation.
# The solutions are in [solutions/part1.md](solutions/part1.md); try each
# exercise first.
#
# 1. ★ **Pixel statistics.** Compute the mean and standard deviation of the pixel
#    values of each dataset's training set, per channel for CIFAR-10. *Hint:*
#    `x.mean(axis=(0, 1, 2))` on a float copy; you will use these numbers to
#    normalise inputs.
# 2. ★ **Hardest pairs to tell apart.** Show ten random "Shirt" and ten random
#    "T-shirt/top" images of Fashion-MNIST side by side. Which features separate
#    them? *Hint:* `np.flatnonzero(y_train == 6)`, then `show_images`.
# 3. ★★ **Subset variance.** Draw five subsets of 10 images per class with seeds 0-4
#    and compute the mean image of each. How much do they differ from the mean
#    image of the full training set? *Hint:* `np.abs(a - b).mean()`.
# 4. ★ **Offline copy.** Copy the `mnist/` folder of a data mirror to a new folder,
#    set `COURSE_DATA_DIR` to it, delete one file and load MNIST. Read the error:
#    what does it ask you to do? *Hint:* set the variable with `os.environ` before
#    calling the loader.
