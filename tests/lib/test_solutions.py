"""The written solutions (notebooks/solutions/) run, and agree with what course_lib computes.

Each answer of `pen_and_paper.md` is derived by hand there; here the same
numbers come out of the course's own functions, so a change to an exercise or
to the library that breaks a solution fails. Every Python block of the worked
solutions (part1.md, part2.md, part3.md) runs, with the asserts that check the
numbers its prose states.
"""

import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import ops

SOLUTIONS = Path(__file__).resolve().parents[2] / "notebooks" / "solutions" / "pen_and_paper.md"


def test_01_hog_votes():
    patch = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 8, 8], [0, 0, 8, 8]], float)
    g_row, g_col = (2 * g for g in np.gradient(patch))  # np.gradient halves the differences
    votes = np.zeros(9)
    for r in (1, 2):
        for c in (1, 2):
            magnitude = math.hypot(g_row[r, c], g_col[r, c])
            if magnitude:
                votes[int(math.degrees(math.atan2(g_row[r, c], g_col[r, c])) % 180 // 20)] += magnitude
    np.testing.assert_allclose(votes, [8, 0, 8 * math.sqrt(2), 0, 8, 0, 0, 0, 0])


def test_02_correlation_by_hand():
    image = np.array([[1, 2, 0], [0, 1, 3], [2, 1, 1]], float)
    kernel = np.array([[1, 0], [2, -1]], float)
    assert ops.correlate2d(image, kernel).tolist() == [[0, 1], [3, 2]]
    assert ops.correlate2d(image, kernel, "full").tolist() == [
        [-1, 0, 4, 0], [0, 0, 1, 6], [-2, 3, 2, 5], [0, 2, 1, 1]]
    assert ops.convolve2d(image, kernel).tolist() == [[4, 1], [3, 6]]


def test_03_small_cnn_counts():
    cnn = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 5, name="conv1"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, name="conv2"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, name="dense"),
    ])
    assert [cnn.get_layer(n).count_params() for n in ("conv1", "conv2", "dense")] == [208, 3216, 2570]
    assert tuple(cnn.get_layer("conv1").output.shape[1:]) == (24, 24, 8)
    assert cnn.count_params() == 5994


def test_04_sparse_c3_cost():
    inputs = [3] * 6 + [4] * 9 + [6]
    assert 100 * 25 * sum(inputs) == 150_000
    assert sum(25 * m + 1 for m in inputs) == 1516


def test_05_the_dense_matrix_of_a_two_channel_layer():
    W, _ = ops.conv_to_dense(np.arange(1.0, 9.0).reshape(2, 2, 2, 1), np.zeros(1), (3, 3, 2))
    assert W.shape == (4, 18) and np.count_nonzero(W) == 32
    def a(i, j):  # kernel[i, j, 0, 0]
        return 1 + 4 * i + 2 * j

    def b(i, j):  # kernel[i, j, 1, 0]
        return 2 + 4 * i + 2 * j

    for p in range(2):
        for q in range(2):
            for i in range(2):
                for j in range(2):
                    assert W[2 * q + p, 3 * (q + j) + p + i] == a(i, j)
                    assert W[2 * q + p, 9 + 3 * (q + j) + p + i] == b(i, j)


def test_06_alexnet_field():
    field, jump, fields = 1, 1, []
    for kernel, stride in [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]:
        field += (kernel - 1) * jump
        jump *= stride
        fields.append(field)
    assert fields == [11, 19, 51, 67, 99, 131, 163, 195] and jump == 32


def test_07_max_pooling_backward():
    x = np.array([[1, 5, 2, 0], [3, 2, 7, 1], [4, 8, 6, 6], [0, 2, 3, 1]], float).reshape(1, 4, 4, 1)
    dout = np.array([[1, -2], [3, 4]], float).reshape(1, 2, 2, 1)
    assert ops.max_pool2d_backward(dout, x, 2, 2)[0, :, :, 0].tolist() == [
        [0, 1, 0, 0], [0, 0, -2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]
    overlapping = ops.max_pool2d_backward(dout, x, 3, 1)[0, :, :, 0]
    assert np.count_nonzero(overlapping) == 1 and overlapping[2, 1] == 6


def test_08_batch_normalization_and_forgetting():
    values = np.array([1, 2, 3, 6], float)
    assert values.mean() == 3 and values.var() == 3.5
    outputs = 2 * (values - 3) / math.sqrt(3.5) + 1
    np.testing.assert_allclose(outputs, [-1.138, -0.069, 1, 4.207], atol=5e-4)
    assert math.ceil(math.log(0.01) / math.log(0.9)) == 44
    assert math.ceil(math.log(0.01) / math.log(0.999)) == 4603


def test_every_solution_names_its_notebook_and_exercise():
    text = SOLUTIONS.read_text()
    sources = {p.stem[:2] for p in (SOLUTIONS.parents[1] / "src").glob("*.py")}
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(headings) == 9
    assert all(h[3:5] in sources and "(exercise " in h for h in headings)


# The worked solutions with code (part1.md, part2.md, part3.md): every Python block runs, in order,
# one namespace per exercise, and its asserts check the numbers its prose states. Each block is
# self-contained (its own imports and data, at the small budget its first line states).
#
# A block whose first line starts with one of TENSORFLOW_ONLY trains, predicts with a recorded
# model or uses tf.GradientTape: it runs on the TensorFlow backend only. The training code it calls
# is tested on all three backends by the other files of tests/lib; running every solution's
# training three times would add minutes to `make test` for no new check. On TensorFlow, blocks
# that only predict, and blocks that train a deep network for a few batches (`experiment.run`, a
# transfer model), run with tf.function executed eagerly: at these budgets tracing the training
# and prediction steps costs more than the steps themselves, and eager execution computes the same
# thing. Small networks trained for several epochs are faster traced, so they run as written.
#
# A block whose first line starts with JAX_KERNEL continues notebook 24, whose kernel runs Keras on
# JAX with 4 virtual CPU devices (set before JAX is imported): it runs in a child process with that
# environment, once (on the TensorFlow pass, which has no other use for it).
WORKED = ("part1.md", "part2.md", "part3.md")
TENSORFLOW_ONLY = ("# Trains", "# Predicts", "# Encodes", "# Runs on TensorFlow")
EAGER = ("# Predicts", "# Encodes")
JAX_KERNEL = "# Runs in notebook 24's kernel"
DATASETS = {"mnist": r"load_mnist\(", "fashion_mnist": r"load_fashion_mnist\(|\"fashion_mnist\"",
            "cifar10": r"load_cifar10\(|load_splits\(|\"cifar10\"|pretrained\.|zoo\."}


def _exercises(path):
    for section in re.split(r"^## ", path.read_text(), flags=re.MULTILINE)[1:]:
        title = section.splitlines()[0]
        yield f"{path.name}, {title}", re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


EXERCISES = [exercise for name in WORKED for exercise in _exercises(SOLUTIONS.with_name(name))]


def _faster_eager(block):
    few_batches = ("experiment.run(", "build_transfer_model(")
    return block.startswith(EAGER) or (block.startswith(TENSORFLOW_ONLY) and any(c in block for c in few_batches))


def _missing_datasets(blocks):
    from course_lib import data

    text = "\n".join(blocks)
    return [name for name, pattern in DATASETS.items() if re.search(pattern, text) and data.find_mirror(name) is None]


@pytest.mark.parametrize(("title", "blocks"), EXERCISES, ids=lambda value: value if isinstance(value, str) else "")
def test_worked_solution_runs_and_its_numbers_hold(title, blocks, tmp_path, monkeypatch):
    backend = keras.backend.backend()
    # Part III's blocks count the parameters and multiply-adds of full-size architectures:
    # the counts do not depend on the backend (test_models checks the builders on all
    # three), and building those networks takes minutes on JAX, so they run on one.
    if title.startswith("part3.md") and backend != "tensorflow":
        pytest.skip("architecture counts and training: checked on the TensorFlow backend")
    if backend != "tensorflow" and any(block.startswith(TENSORFLOW_ONLY + (JAX_KERNEL,)) for block in blocks):
        pytest.skip("trains or uses a recorded model: run on the TensorFlow backend only, to keep make test short")
    missing = _missing_datasets(blocks)
    if missing:
        pytest.skip(f"no offline copy of {', '.join(missing)}: set COURSE_DATA_DIR to the course's data mirror")
    monkeypatch.chdir(tmp_path)  # a block that writes files writes them here
    if any(block.startswith(JAX_KERNEL) for block in blocks):
        _run_in_notebook_24_kernel(title, blocks, tmp_path)
        return
    import matplotlib.pyplot as plt

    namespace = {}
    try:
        for block in blocks:
            eager = backend == "tensorflow" and _faster_eager(block)
            if eager:
                import tensorflow as tf

                tf.config.run_functions_eagerly(True)
            try:
                exec(compile(block, title, "exec"), namespace)
            finally:
                if eager:
                    tf.config.run_functions_eagerly(False)
    finally:
        plt.close("all")


def _run_in_notebook_24_kernel(title, blocks, folder):
    import os
    import subprocess
    import sys

    script = folder / "solution.py"
    script.write_text("\n\n".join(blocks))
    environment = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=4",
                       MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(script)], cwd=folder, env=environment, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{title} failed in a JAX kernel with 4 devices:\n{done.stderr[-3000:]}"


def test_every_solution_block_compiles():
    blocks = [block for _, found in EXERCISES for block in found]
    assert len(blocks) >= 100
    for block in blocks:
        compile(block, "solutions", "exec")


def test_every_exercise_has_a_block_that_runs():
    assert [title for title, blocks in EXERCISES if not blocks] == []
    assert not [title for title, blocks in EXERCISES if any("Not run by the tests" in b for b in blocks)]
