"""The classifier heads shared by the course's model builders."""

import keras


def global_pool_head(x, include_top, pooling, classes, classifier_activation):
    """Global pooling and a dense classifier, as `keras.applications` builds them.

    With `include_top`, global average pooling then `Dense(classes)` named
    "predictions"; without it, the feature maps, globally pooled when
    `pooling` is "avg" or "max".
    """
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return pool_features(x, pooling)


def pool_features(x, pooling):
    """Applies the `pooling` of a feature extractor (None, "avg" or "max")."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def dense_head(x, include_top, pooling, classes, classifier_activation, units, dropout, prefix="fc"):
    """Flatten and fully connected layers (AlexNet, VGG); `pool_features` without top."""
    if not include_top:
        return pool_features(x, pooling)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, n in enumerate(units, start=1):
        x = keras.layers.Dense(n, activation="relu", name=f"{prefix}{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{prefix}{i}_dropout")(x)
    return keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
