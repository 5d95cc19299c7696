"""The one place where the course touches Keras internals.

Each function says why no public Keras API serves. `tests/lib/test_keras_compat.py`
checks them against the pinned Keras version, so that an upgrade that changes an
internal fails there, with a clear message, and not somewhere deep in a notebook.
"""


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
