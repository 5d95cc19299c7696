"""Tests of course_lib.runtime on the backend named by KERAS_BACKEND."""

import os

import keras
import matplotlib
import numpy as np
import pytest

from course_lib import runtime


def test_setup_notebook_reports_versions_backend_and_device(capsys):
    info = runtime.setup_notebook(seed=7)
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0
    assert info.backend == keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert f"Keras {keras.__version__}" in line
    assert info.backend in line and info.backend_version in line
    assert info.device in line and ("CPU" in info.device or "GPU" in info.device)
    assert "seed 7" in line and info.seed == 7
    assert matplotlib.rcParams["figure.dpi"] == runtime.PLOT_DEFAULTS["figure.dpi"]


def test_setup_notebook_makes_runs_repeatable():
    runtime.setup_notebook(seed=3, verbose=False)
    first = (np.random.rand(3), keras.ops.convert_to_numpy(keras.random.uniform((3,))))
    runtime.setup_notebook(seed=3, verbose=False)
    second = (np.random.rand(3), keras.ops.convert_to_numpy(keras.random.uniform((3,))))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_setup_notebook_same_seed_same_initial_weights():
    def initial_weights():
        runtime.setup_notebook(seed=11, verbose=False)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        return keras.ops.convert_to_numpy(model.layers[0].kernel)

    np.testing.assert_array_equal(initial_weights(), initial_weights())


def test_in_colab_detection(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert runtime.in_colab() is False
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-test")
    assert runtime.in_colab() is True
    info = runtime.setup_notebook(seed=0, verbose=False)
    assert info.in_colab and "Colab" in info.summary()


@pytest.mark.parametrize("bad", [-1, 1.5, "42", None, True])
def test_setup_notebook_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="`seed` must be a non-negative int"):
        runtime.setup_notebook(seed=bad, verbose=False)


def test_processor_name_is_the_first_model_name_of_cpuinfo(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example CPU 9000\nprocessor\t: 1\nmodel name\t: Other\n")
    real_open = open

    def open_fake_cpuinfo(path, *args, **kwargs):
        return real_open(cpuinfo if path == "/proc/cpuinfo" else path, *args, **kwargs)

    def open_nothing(path, *args, **kwargs):
        raise OSError(path)  # no /proc (macOS, Windows)

    monkeypatch.setattr("builtins.open", open_fake_cpuinfo)
    assert runtime.processor_name() == "Example CPU 9000"
    monkeypatch.setattr("builtins.open", open_nothing)
    monkeypatch.setattr(runtime.platform, "processor", lambda: "")
    assert runtime.processor_name() == runtime.platform.machine()
