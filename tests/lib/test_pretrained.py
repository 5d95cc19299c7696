"""Tests of course_lib.pretrained: the builder, the task split, the integrity
checks of `load_backbone`, and the committed weights' source-task accuracy."""

import json

import keras
import numpy as np
import pytest

from course_lib import data, pretrained


def test_backbone_shapes_and_size():
    model = pretrained.backbone_model()
    assert model.output_shape == (None, 5)
    features = pretrained.backbone_model(include_top=False)
    assert features.output_shape == (None, 8, 8, 128)
    assert model.count_params() < 1_000_000  # "a few MB" of float32 weights


def test_split_source_target():
    x = np.arange(20).reshape(20, 1)
    y = np.tile(np.arange(10), 2).reshape(-1, 1)
    (xs, ys), (xt, yt) = pretrained.split_source_target(x, y)
    assert ys.tolist() == [0, 1, 2, 3, 4] * 2 and yt.tolist() == [0, 1, 2, 3, 4] * 2
    assert (xt[:, 0] % 10 >= 5).all() and (xs[:, 0] % 10 < 5).all()
    with pytest.raises(ValueError, match="same length"):
        pretrained.split_source_target(x[:3], y)


def _fake_weights(folder, monkeypatch):
    monkeypatch.setattr(pretrained, "weights_dir", lambda: folder)
    model = pretrained.backbone_model()
    path = folder / pretrained.WEIGHTS_FILE
    model.save_weights(path)
    record = {"sha256": data.sha256_of(path)}
    (folder / pretrained.METADATA_FILE).write_text(json.dumps(record))
    return model, path


def test_load_backbone_checks_the_hash_and_restores_weights(tmp_path, monkeypatch):
    model, path = _fake_weights(tmp_path, monkeypatch)
    x = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    loaded = pretrained.load_backbone(include_top=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6
    )
    assert pretrained.load_backbone().output_shape == (None, 8, 8, 128)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256"):
        pretrained.load_backbone()


def test_missing_weights_say_how_to_recreate_them(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "weights_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="scripts/train_backbone.py"):
        pretrained.load_backbone()
    with pytest.raises(TypeError, match="include_top"):
        pretrained.load_backbone(include_top="yes")


@pytest.mark.data
def test_committed_backbone_reaches_its_recorded_source_accuracy():
    if data.find_mirror("cifar10") is None:
        pytest.skip("no offline copy of cifar10: set COURSE_DATA_DIR to the course's data mirror")
    record = pretrained.metadata()
    model = pretrained.load_backbone(include_top=True)  # also checks the SHA-256
    _, (x_test, y_test) = data.load_cifar10()
    (x_source, y_source), _ = pretrained.split_source_target(x_test, y_test)
    assert len(x_source) == record["source_test_images"] == 5000
    probabilities = model.predict(x_source.astype("float32"), batch_size=500, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_source))
    # Backends round differently: allow 25 of the 5,000 borderline images to flip.
    assert abs(accuracy - record["source_test_accuracy"]) <= 0.005, (accuracy, record)
    assert accuracy > 0.8  # five classes: chance is 0.2
