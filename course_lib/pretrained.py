"""A small pre-trained backbone that the course trains itself.

ImageNet weights cannot be downloaded everywhere (`weights="imagenet"` fails
offline), and a course that depends on them breaks whenever a download does.
So the course ships its own pre-trained network: a compact ResNet trained on
five CIFAR-10 classes, the *source task* (airplane, automobile, bird, cat,
deer). Transfer learning then targets the other five, the *target task* (dog,
frog, horse, ship, truck), from a few labelled images per class.

The weights (`course_lib/weights/backbone_cifar5.weights.h5`, about 2.8 MB)
are committed with their SHA-256, their training log and the command that
re-creates them (`course_lib/weights/backbone_cifar5.json`); `load_backbone`
checks the hash before loading. They are package data: they install with
`course_lib`, from a clone or from a wheel.
"""

import json
from importlib import resources
from pathlib import Path

import keras
import numpy as np

from course_lib._checks import check_bool, class_indices
from course_lib.data import sha256_of
from course_lib.layers import ResidualBlock
from course_lib.models._validation import validate_builder_args

__all__ = [
    "SOURCE_CLASSES",
    "TARGET_CLASSES",
    "WEIGHTS_FILE",
    "METADATA_FILE",
    "STAGE_FILTERS",
    "MIN_INPUT_SIZE",
    "weights_dir",
    "backbone_model",
    "metadata",
    "load_backbone",
    "split_source_target",
]

SOURCE_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")
TARGET_CLASSES = ("dog", "frog", "horse", "ship", "truck")
WEIGHTS_FILE = "backbone_cifar5.weights.h5"
METADATA_FILE = "backbone_cifar5.json"
# Filters of the three stages (two residual blocks each).
STAGE_FILTERS = (32, 64, 128)
# Smallest rows and columns backbone_model takes: stage 3's maps are then 2x2.
MIN_INPUT_SIZE = 8


def weights_dir():
    """The folder of the committed weights, `course_lib/weights/`.

    The weights are package data, located with `importlib.resources`: in a
    clone this is the folder in the repository, after `pip install` the one
    in site-packages.

    Returns:
        A `pathlib.Path`.
    """
    return Path(resources.files("course_lib") / "weights")


def backbone_model(input_shape=(32, 32, 3), classes=len(SOURCE_CLASSES), include_top=True):
    """Builds the course backbone, untrained: a compact ResNet for 32x32 images.

    `Rescaling(1/255)` (so it takes raw uint8 images), a 3x3 convolution with
    32 filters, BN and ReLU, then three stages of two `ResidualBlock`s with
    32, 64 and 128 filters (stages 2 and 3 halve the resolution), global
    average pooling and the classifier. The feature extractor
    ("course_backbone_features") ends with the 8x8x128 maps of stage 3.

    Args:
        input_shape: `(rows, cols, channels)` of the images, at least 8x8
            (stages 2 and 3 divide the resolution by 4: 8x8 images leave
            2x2 maps).
        classes: outputs of the classifier (5 source classes), at least 2
            (a softmax over one class is constant).
        include_top: whether to add pooling and the classifier.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: `input_shape` is not `(rows, cols, channels)` of at
            least 8x8, or `classes` is not an int of at least 2.

    Example:

    >>> backbone_model(include_top=False).output_shape
    (None, 8, 8, 128)
    """
    input_shape = validate_builder_args(input_shape, classes, include_top, None, "softmax", min_size=MIN_INPUT_SIZE)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(STAGE_FILTERS[0], 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage, filters in enumerate(STAGE_FILTERS, start=1):
        for block in (1, 2):
            strides = 2 if (block == 1 and stage > 1) else 1
            x = ResidualBlock(filters, strides=strides, name=f"stage{stage}_block{block}")(x)
    if not include_top:
        return keras.Model(inputs, x, name="course_backbone_features")
    y = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    y = keras.layers.Dense(classes, activation="softmax", name="predictions")(y)
    return keras.Model(inputs, y, name="course_backbone")


def metadata():
    """The committed record of the weights (`backbone_cifar5.json`).

    Returns:
        A dict: the weights' SHA-256, the source classes and test accuracy,
        the parameter count, the command that trained them, the machine, the
        date and the name of the training log.
    """
    with open(weights_dir() / METADATA_FILE) as f:
        return json.load(f)


def load_backbone(include_top=False):
    """Loads the course's pre-trained backbone, checking its SHA-256 first.

    Args:
        include_top: False for the feature extractor (output `(batch, 8, 8,
            128)`, the usual start of transfer learning), True for the whole
            source-task classifier (5 classes).

    Returns:
        A `keras.Model` with the trained weights.

    Raises:
        FileNotFoundError: the weights file is missing.
        ValueError: its hash is not the recorded one.

    Example:

    >>> features = load_backbone()
    >>> features.output_shape
    (None, 8, 8, 128)
    """
    include_top = check_bool(include_top, "include_top")
    path = weights_dir() / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"The backbone weights {path.name} are missing from {path.parent}; "
            "re-create them with `python scripts/train_backbone.py` in a clone of the course."
        )
    expected = metadata()["sha256"]
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(
            f"The backbone weights {path.name} have SHA-256 {actual}, not the recorded "
            f"{expected}: the file is damaged or was re-trained without updating "
            f"{METADATA_FILE}. Restore it with git or reinstall the package, or re-create "
            "both with `python scripts/train_backbone.py`."
        )
    model = backbone_model()
    model.load_weights(path)
    if include_top:
        return model
    last = f"stage{len(STAGE_FILTERS)}_block2"
    return keras.Model(model.input, model.get_layer(last).output, name="course_backbone_features")


def split_source_target(x, y):
    """Splits CIFAR-10 arrays into the source and target tasks.

    Args:
        x: images, first axis the example.
        y: CIFAR-10 labels, shape `(N,)` or `(N, 1)`.

    Returns:
        `((x_source, y_source), (x_target, y_target))` with labels renumbered
        0-4 in the order of `SOURCE_CLASSES` and `TARGET_CLASSES`, shaped `(N,)`.

    Raises:
        TypeError: `y` is not of an integer dtype.
        ValueError: `y` is not `(N,)` or `(N, 1)`, holds a label outside
            0-9, or has another length than `x`.
    """
    x = np.asarray(x)
    y = class_indices(y, "y", num_classes=len(SOURCE_CLASSES) + len(TARGET_CLASSES))
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length; received len(x)={len(x)}, len(y)={len(y)}.")
    source = y < len(SOURCE_CLASSES)
    return (x[source], y[source]), (x[~source], y[~source] - len(SOURCE_CLASSES))
