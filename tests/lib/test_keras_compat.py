"""`course_lib._keras_compat`: the Keras internals the course relies on, against the pinned Keras.

If a Keras upgrade renames or changes one of them, these tests fail here, naming
the internal, rather than deep inside a notebook. They also check that no other
module of `course_lib` reaches for a private attribute.
"""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

import course_lib
from course_lib import _keras_compat as compat
from course_lib.layers import ResidualBlock

PACKAGE = Path(course_lib.__file__).parent


@pytest.mark.parametrize("owner, name", [
    (keras.layers.Layer, "_flatten_layers"),
])
def test_the_internals_exist(owner, name):
    assert hasattr(owner, name), f"Keras {keras.__version__} has no {owner.__name__}.{name}: update course_lib/_keras_compat.py"


def test_flatten_layers_finds_the_sublayers_of_a_composite_layer():
    block = ResidualBlock(8, name="block")
    block.build((None, 8, 8, 8))
    names = [layer.name for layer in compat.flatten_layers(block)]
    leaves = compat.leaf_layers(block)
    assert block.name not in names
    assert {type(layer).__name__ for layer in leaves} >= {"Conv2D", "BatchNormalization"}
    assert all(layer.name in names for layer in leaves)
    conv_weights = sum(len(layer.weights) for layer in leaves)
    assert conv_weights == len(block.weights)


def _functional():
    inputs = keras.Input((8, 8, 3), name="image")
    shared = keras.layers.Conv2D(4, 3, padding="same", name="shared")
    x = shared(inputs)
    y = keras.layers.Conv2D(3, 1, name="side")(inputs)
    outputs = keras.layers.Add(name="add")([shared(y), x])
    return keras.Model(inputs, outputs, name="graph")


def test_nodes_by_depth_lists_every_call_outputs_first():
    model = _functional()
    depths = compat.nodes_by_depth(model)
    calls = [node.operation.name for nodes in depths for node in nodes]
    assert depths[0][0].operation.name == "add"
    assert [node.is_input for node in depths[-1]] == [True]
    assert sorted(calls) == ["add", "image", "shared", "shared", "side"]
    # Each node's inputs are produced at a greater depth (walked first in reverse).
    seen = set()
    for nodes in reversed(depths):
        for node in nodes:
            assert all(id(t) in seen for t in node.input_tensors)
            seen.update(id(t) for t in node.outputs)


def test_nodes_by_depth_walks_a_sequential_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])
    names = [node.operation.name for nodes in reversed(compat.nodes_by_depth(model)) for node in nodes]
    assert names[1:] == ["a", "b"]


def test_nodes_by_depth_rejects_unbuilt_and_subclassed_models():
    with pytest.raises(ValueError, match="is not built"):
        compat.nodes_by_depth(keras.Sequential([keras.layers.Dense(2)], name="unbuilt"))

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed"):
        compat.nodes_by_depth(Subclassed())


def test_call_takes_training():
    assert compat.call_takes_training(keras.layers.BatchNormalization())
    assert compat.call_takes_training(keras.layers.Dropout(0.5))
    assert compat.call_takes_training(ResidualBlock(4))
    assert not compat.call_takes_training(keras.layers.Conv2D(2, 3))
    assert not compat.call_takes_training(lambda x, training=None: x)


def test_no_module_but_the_compat_module_touches_private_attributes():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_keras_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, "private attributes outside _keras_compat.py:\n" + "\n".join(offenders)


def test_seeding_keeping_traces_draws_the_weights_set_random_seed_draws():
    def weights(seed, seeder):
        seeder(seed)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.5)])
        return [keras.ops.convert_to_numpy(v.value) for v in model.variables]

    for seed in (0, 7):
        for a, b in zip(weights(seed, keras.utils.set_random_seed), weights(seed, compat.set_random_seed_keeping_traces)):
            np.testing.assert_array_equal(a, b)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        traced = tf.function(lambda x: 2 * x)
        traced(tf.constant(1.0))
        compat.set_random_seed_keeping_traces(3)
        traced(tf.constant(1.0))
        assert traced.experimental_get_tracing_count() == 1
        assert tf.random.set_seed.__module__.startswith("tensorflow")  # restored
