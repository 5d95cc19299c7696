"""The one place where the course touches Keras internals.

Each function says why no public Keras API serves. `tests/lib/test_keras_compat.py`
checks them against the pinned Keras version, so that an upgrade that changes an
internal fails there, with a clear message, and not somewhere deep in a notebook.
"""

import inspect

import keras


def flatten_layers(layer):
    """Every layer nested inside `layer` (not `layer` itself), in build order.

    Keras has no public API to walk the sub-layers of composite layers (a
    `ResidualBlock` keeps its convolutions as attributes, not in `.layers`);
    `Layer._flatten_layers` is the walk Keras itself uses for weights,
    summaries and saving.
    """
    return list(layer._flatten_layers(include_self=False, recursive=True))


def leaf_layers(layer):
    """Every layer inside `layer` that has no sub-layers, in build order."""
    return [
        sub for sub in flatten_layers(layer)
        if not list(sub._flatten_layers(include_self=False, recursive=False))
    ]


def nodes_by_depth(model):
    """The call graph of a built functional or Sequential model, outputs first.

    Returns a list of lists of Keras `Node`s: index 0 holds the nodes that
    produce the model's outputs, the last index its inputs. A node has public
    attributes `operation` (the layer), `input_tensors`, `outputs` and
    `is_input`. A Sequential model is first rebuilt as the functional model
    `keras.Model(model.inputs, model.outputs)` (public API, same layers).

    Keras has no public graph walker: `Functional._nodes_by_depth` is the map
    that Keras's own functional call and `keras.utils.plot_model` walk.

    Raises:
        ValueError: if the model is not built (it has no inputs yet).
    """
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs:
        raise ValueError(
            f"Model '{model.name}' is not built: give it an input shape first, e.g. "
            "`keras.Input(shape=(28, 28, 1))` as its first layer or `model.build((None, 28, 28, 1))`."
        )
    graph = keras.Model(inputs, outputs, name=model.name) if isinstance(model, keras.Sequential) else model
    if not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(
            f"Model '{model.name}' is a subclassed model, which has no graph to walk; "
            "build it with the functional API or as a Sequential."
        )
    by_depth = graph._nodes_by_depth
    return [list(by_depth[depth]) for depth in sorted(by_depth)]


def call_takes_training(layer):
    """Whether `layer.call` has a `training` argument (BatchNormalization, Dropout, models).

    Public API: the same test Keras makes when it builds a layer, on
    `inspect.signature(layer.call)`. A plain function is never given `training`.
    """
    if not isinstance(layer, keras.layers.Layer):
        return False
    return "training" in inspect.signature(layer.call).parameters


def set_random_seed_keeping_traces(seed):
    """`keras.utils.set_random_seed(seed)`, without re-tracing TensorFlow's compiled functions.

    `keras.utils.set_random_seed` also calls `tf.random.set_seed`, and
    TensorFlow then traces every `tf.function` again at its next call: a
    compiled model trained again after it (`course_lib.experiment.run`'s next
    seed) spends seconds re-tracing its training step (about 7 s for a small
    GoogLeNet on the course's CPU). Keras's own random numbers (initializers,
    dropout, random layers) come from its SeedGenerators, which
    `set_random_seed` resets, not from TensorFlow's global seed. No public API
    seeds Keras without TensorFlow, so TensorFlow's `set_seed` is skipped for
    the duration of the call. On the other backends this is
    `keras.utils.set_random_seed`.
    """
    if keras.backend.backend() != "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    import tensorflow as tf

    set_seed = tf.random.set_seed
    tf.random.set_seed = lambda seed: None
    try:
        keras.utils.set_random_seed(seed)
    finally:
        tf.random.set_seed = set_seed
