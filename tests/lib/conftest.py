"""course_lib's unit tests run once per Keras backend (`make test-lib`).

Tests marked `full_size` build full-size (ImageNet-scale) networks only to
check arithmetic that Keras does the same way on every backend: parameter
counts, output shapes, multiply-adds and receptive fields, against the papers
and `keras.applications`. They run on TensorFlow only; on JAX, building those
graphs takes minutes. The builders themselves run on every backend through the
small variants and the training tests of `test_models.py`.
"""

import keras
import pytest


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="full-size architecture arithmetic, the same on every backend: checked on TensorFlow")
    for item in items:
        if item.get_closest_marker("full_size"):
            item.add_marker(skip)
