"""Tests of course_lib.zoo's loader on the backend named by KERAS_BACKEND.

The recorded models themselves, and every entry's builder, are checked in
tests/zoo (TensorFlow, the backend that trained them).
"""

import json

import keras
import numpy as np
import pytest

from course_lib import data, zoo


def test_builder_call_is_the_python_of_the_builder():
    assert zoo.ENTRIES["resnet20"].builder_call == "resnet_cifar(20)"
    assert zoo.ENTRIES["nin"].builder_call == "nin(width=0.5, batch_norm=True, dropout=0.3)"


def _fake_record(folder, monkeypatch, name="resnet20"):
    monkeypatch.setattr(zoo, "zoo_dir", lambda: folder)
    statistics = {"mean": [120.0, 110.0, 100.0], "variance": [3000.0, 2900.0, 3100.0]}
    keras.utils.set_random_seed(0)
    model = zoo.build_classifier(name, **statistics)
    paths = zoo.files(name)
    model.save_weights(paths["weights"])
    paths["history"].write_text("epoch,accuracy,val_accuracy\n1,0.5,0.4\n2,0.6,0.5\n")
    record = {
        "architecture": "ResNet-20", "builder": "resnet_cifar(20)", "notebook": "18_resnet",
        "parameters": model.count_params(), "multiply_adds": 1, "test_accuracy": 0.5,
        "recipe": {"epochs": 2}, "seconds": 1.0, "trained_with": {"device": "CPU (2 cores)"},
        "data": {"train_images": 100, "test_images": 10},
        "standardization": statistics, "sha256": data.sha256_of(paths["weights"]),
    }
    paths["record"].write_text(json.dumps(record))
    return model, paths


def test_load_checks_the_hash_and_restores_the_model(tmp_path, monkeypatch):
    model, paths = _fake_record(tmp_path, monkeypatch)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    loaded = zoo.load("resnet20")
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(loaded.predict(images, verbose=0).sum(1), 1.0, rtol=1e-5)
    assert zoo.recorded() == ["resnet20"]
    table = zoo.records()
    assert list(table.index) == ["resnet20"]
    assert {"parameters", "multiply_adds", "test_accuracy"} <= set(table.columns)
    assert list(zoo.history("resnet20").index) == [1, 2]
    assert zoo.describe("resnet20").startswith("ResNet-20 (resnet_cifar(20)): ")
    assert zoo.plot_history("resnet20").get_title().startswith("recorded: ResNet-20")
    raw = bytearray(paths["weights"].read_bytes())
    raw[-100] ^= 0xFF
    paths["weights"].write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"resnet20\.weights\.h5 have SHA-256 [0-9a-f]{64}, not the recorded [0-9a-f]{64}"):
        zoo.load("resnet20")


def test_missing_files_say_how_to_recreate_them(tmp_path, monkeypatch):
    _, paths = _fake_record(tmp_path, monkeypatch)
    paths["weights"].unlink()
    with pytest.raises(FileNotFoundError, match="scripts/train_zoo.py resnet20"):
        zoo.load("resnet20")
    with pytest.raises(FileNotFoundError, match="No recorded run of 'vgg16'"):
        zoo.load("vgg16")
    with pytest.raises(ValueError, match="`name` must be one of"):
        zoo.load("resnet1000")


def test_recorded_predictions_round_trip_through_the_record(tmp_path, monkeypatch):
    _, paths = _fake_record(tmp_path, monkeypatch)
    with pytest.raises(KeyError, match="--add-predictions resnet20"):
        zoo.recorded_predictions("resnet20")
    classes = np.array([3, 0, 9, 9, 1])
    record = json.loads(paths["record"].read_text())
    record["test_predictions"] = zoo.encode_predictions(classes)
    paths["record"].write_text(json.dumps(record))
    assert record["test_predictions"] == "30991"
    np.testing.assert_array_equal(zoo.recorded_predictions("resnet20"), classes)
    with pytest.raises(KeyError, match="test_predictions_tta"):
        zoo.recorded_predictions("resnet20", tta=True)
    with pytest.raises(ValueError, match="class indices from 0 to 9"):
        zoo.encode_predictions([1, 10])
