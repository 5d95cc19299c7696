"""Transfer learning: a new classification head on a pre-trained feature extractor.

The lecture's five steps:

1. take a CNN trained on a large source task (the `backbone`);
2. remove its fully connected layers (pass the backbone without its top,
   a model whose output is a feature map or a feature vector);
3. put a new head with the right number of outputs on the feature extractor
   (`build_transfer_model`);
4. freeze the feature extractor (`freeze=True`);
5. train the head (`model.fit`).

Then, optionally, fine-tune: unfreeze the last layers of the backbone
(`set_trainable`) and train again at a learning rate about ten times lower
(`fine_tuning_learning_rate`), so that the large gradients of a still poor
head do not wreck the pre-trained features.
"""

import keras

from course_lib._checks import (
    check_bool,
    check_classifier,
    check_model,
    check_number,
    check_positive_ints,
    check_rate,
    is_int,
)

__all__ = ["POOLINGS", "build_transfer_model", "InferenceMode", "set_trainable", "fine_tuning_learning_rate"]

POOLINGS = ("avg", "max")


def build_transfer_model(
    backbone,
    classes,
    head_units=(),
    dropout=0.0,
    freeze=True,
    pooling="avg",
    classifier_activation="softmax",
    name=None,
):
    """Puts a new classification head on a feature extractor.

    The head is: global pooling of the feature map (when the backbone
    outputs one), then for each entry of `head_units` dropout and a ReLU
    dense layer, then dropout and the classifier, a dense layer with
    `classes` outputs named "predictions".

    With `freeze=True` the backbone is frozen (`backbone.trainable = False`)
    and wrapped in an `InferenceMode` layer that always calls it with
    `training=False`, so its BatchNormalization (and Dropout) layers run in
    inference mode for good, with the moving mean and variance of the source
    task, even while the head trains and even after `set_trainable` unfreezes
    some of them for fine-tuning. (Writing `backbone(inputs, training=False)`
    in a functional model is not enough in Keras 3: `fit` calls the model with
    `training=True`, which overrides it; see keras-team/keras#20285.)
    Otherwise `fit` would normalise with the
    statistics of each small batch of the new dataset and update the moving
    statistics towards them: the layers after each BatchNormalization would
    receive inputs scaled differently from those they were trained on, and
    the pre-trained features would be destroyed before the head learns
    anything. (Keras's own transfer-learning guide does the same.)

    With `freeze=False` the backbone trains with the head from the start,
    BatchNormalization included.

    Args:
        backbone: a `keras.Model` with a known input shape whose output is a
            4-D feature map `(batch, rows, cols, channels)` or a 2-D feature
            vector `(batch, features)`: a pre-trained CNN without its fully
            connected top.
        classes: number of outputs of the new classifier.
        head_units: units of the hidden dense layers of the head (none by
            default: a linear classifier on the features).
        dropout: dropout rate before each dense layer of the head (0: none).
        freeze: whether to freeze the backbone (see above).
        pooling: "avg" or "max" global pooling of a 4-D feature map; ignored
            for a 2-D feature vector.
        classifier_activation: activation of the classifier ("softmax", or
            None for logits).
        name: name of the model (default: the backbone's name + "_transfer").

    Returns:
        A functional `keras.Model` mapping images to class posteriors. With
        `freeze=True` the backbone sits in its layer
        `f"{backbone.name}_inference"` (an `InferenceMode`), otherwise it is
        its layer `backbone.name`.

    Example:

    >>> backbone = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 3)], name="cnn")
    >>> model = build_transfer_model(backbone, classes=5, head_units=(16,), dropout=0.2)
    >>> model.output_shape, len(model.trainable_weights)
    ((None, 5), 4)
    """
    check_model(backbone, "backbone")
    classes = check_classifier(classes, classifier_activation)
    head_units = check_positive_ints(head_units, "head_units")
    dropout = check_rate(dropout, "dropout")
    if pooling is not None and pooling not in POOLINGS:
        raise ValueError(
            f"`pooling` must be one of {POOLINGS} (or None for a vector backbone); received pooling={pooling!r}."
        )
    try:
        input_shape = tuple(backbone.input_shape)
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "`backbone` must have a known input shape (a functional or Sequential model built "
            f"on a keras.Input); {backbone.name!r} has none."
        ) from error
    try:
        output_rank = len(backbone.output_shape)
    except (AttributeError, ValueError) as error:
        raise ValueError(f"`backbone` {backbone.name!r} must have a single output.") from error
    if output_rank == 4:
        if pooling not in POOLINGS:
            raise ValueError(
                f"The backbone {backbone.name!r} outputs a 4-D feature map {backbone.output_shape}: "
                f"`pooling` must be one of {POOLINGS} to turn it into a vector; received pooling={pooling!r}."
            )
    elif output_rank != 2:
        raise ValueError(
            "`backbone` must output a 4-D feature map or a 2-D feature vector; "
            f"{backbone.name!r} outputs shape {backbone.output_shape}."
        )

    if freeze:
        backbone.trainable = False
    inputs = keras.Input(input_shape[1:], name="images")
    x = InferenceMode(backbone, name=f"{backbone.name}_inference")(inputs) if freeze else backbone(inputs)
    if output_rank == 4:
        pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
        x = pool(name=f"{pooling}_pool")(x)
    for i, units in enumerate(head_units, start=1):
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"head_dropout_{i}")(x)
        x = keras.layers.Dense(units, activation="relu", name=f"head_dense_{i}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"{backbone.name}_transfer")


@keras.saving.register_keras_serializable(package="course_lib")
class InferenceMode(keras.layers.Layer):
    """Runs a layer or model in inference mode, whatever mode its caller is in.

    `InferenceMode(backbone)(x)` is `backbone(x, training=False)` even inside
    `fit`: BatchNormalization uses (and keeps) its moving statistics, Dropout
    is off. Its weights are the backbone's, trainable or not as the backbone's
    layers say.

    Args:
        layer: the layer or model to run.
        **kwargs: base layer keyword arguments.

    Example:

    >>> frozen = InferenceMode(keras.layers.Dropout(0.5))
    >>> float(keras.ops.min(frozen(keras.ops.ones((2, 3)), training=True)))
    1.0
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"`layer` must be a Keras layer or model; received {type(layer).__name__}.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)

    def call(self, inputs):
        return self.layer(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(layer=keras.saving.serialize_keras_object(self.layer))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


def _find_backbone(model):
    """The backbone of a transfer model, or `model` itself if there is none."""
    wrapped = [layer.layer for layer in model.layers if isinstance(layer, InferenceMode)]
    nested = wrapped or [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[0] if len(nested) == 1 else model


def set_trainable(model, from_layer=None, trainable=True):
    """Freezes or unfreezes the backbone's layers from `from_layer` to the end.

    For fine-tuning: unfreeze the last layers of the feature extractor (the
    most task-specific features), keep the first ones (edges, textures)
    frozen. With `trainable=True`, the layers from `from_layer` on become
    trainable and those before it frozen; with `trainable=False`, the layers
    from `from_layer` on are frozen and those before it are left as they
    are. The head of a transfer model is not touched.

    BatchNormalization layers of a backbone built with
    `build_transfer_model(freeze=True)` stay in inference mode after they
    are unfrozen (the backbone runs inside an `InferenceMode` layer): their
    scale and offset train, their moving statistics do not change.

    Recompile the model after this call: `fit` uses the trainable state the
    model had when it was compiled.

    Args:
        model: a model from `build_transfer_model` (its backbone is the one
            in its `InferenceMode` layer, or its one nested model) or the
            backbone itself.
        from_layer: name or index (negative counts from the end) of the
            first backbone layer to change; None: all of them.
        trainable: the new state of those layers.

    Returns:
        The list of backbone layers whose state was set to `trainable`.

    Example:

    >>> backbone = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c1"),
    ...                              keras.layers.Conv2D(4, 3, name="c2")], name="cnn")
    >>> model = build_transfer_model(backbone, classes=2)
    >>> [layer.name for layer in set_trainable(model, from_layer="c2")]
    ['c2']
    """
    check_model(model)
    trainable = check_bool(trainable, "trainable")
    backbone = _find_backbone(model)
    layers = backbone.layers
    names = [layer.name for layer in layers]
    if from_layer is None:
        start = 0
    elif isinstance(from_layer, str):
        if from_layer not in names:
            raise ValueError(
                f"`from_layer` must name a layer of the backbone {backbone.name!r}; "
                f"received from_layer={from_layer!r}. Its layers are: {', '.join(names)}."
            )
        start = names.index(from_layer)
    elif is_int(from_layer):
        if not -len(layers) <= from_layer < len(layers):
            raise ValueError(
                f"`from_layer` must be an index in [{-len(layers)}, {len(layers)}) for the "
                f"{len(layers)} layers of {backbone.name!r}; received from_layer={from_layer}."
            )
        start = from_layer % len(layers)
    else:
        raise TypeError(f"`from_layer` must be a layer name, an index or None; received {from_layer!r}.")

    if trainable:
        # A frozen container hides the weights of all its layers: open it, then
        # freeze again the layers before `from_layer`.
        backbone.trainable = True
        for layer in layers[:start]:
            layer.trainable = False
    for layer in layers[start:]:
        layer.trainable = trainable
    return list(layers[start:])


def fine_tuning_learning_rate(head_learning_rate, factor=10.0):
    """The learning rate for fine-tuning: `factor` times lower than the head's.

    Args:
        head_learning_rate: learning rate used to train the new head.
        factor: reduction factor, > 1 (the usual rule of thumb: 10).

    Returns:
        `head_learning_rate / factor`.

    Example:

    >>> fine_tuning_learning_rate(1e-3)
    0.0001
    """
    head_learning_rate = check_number(head_learning_rate, "head_learning_rate", low=0, low_open=True)
    factor = check_number(factor, "factor", low=1)  # at least 1: a lower rate
    return head_learning_rate / factor
