"""The building blocks of the course's architectures, as Keras layers.

Each layer is written with Keras layers and `keras.ops` only, so it runs on
the TensorFlow, JAX and PyTorch backends, and is registered for serialization
under the package name "course_lib" (`model.save("m.keras")` and
`keras.models.load_model("m.keras")` round-trip it). The private `_chain` module
holds the helpers they share: chains of layers and the convolution unit.
"""

from course_lib.layers.densenet import DenseBlock, TransitionLayer
from course_lib.layers.grouped import GroupedConv2D
from course_lib.layers.inception import InceptionModule
from course_lib.layers.mobilenet import DepthwiseSeparableConv
from course_lib.layers.nin import MLPConv
from course_lib.layers.normalization import LocalResponseNormalization
from course_lib.layers.resnet import BottleneckBlock, ResidualBlock, ResNeXtBlock
from course_lib.layers.whitening import PatchWhitening

__all__ = [
    "BottleneckBlock",
    "DenseBlock",
    "DepthwiseSeparableConv",
    "GroupedConv2D",
    "InceptionModule",
    "LocalResponseNormalization",
    "MLPConv",
    "PatchWhitening",
    "ResNeXtBlock",
    "ResidualBlock",
    "TransitionLayer",
]
