"""Dirac (identity) initialisation of convolution kernels."""

import keras
import numpy as np

__all__ = ["Dirac"]


@keras.saving.register_keras_serializable(package="course_lib")
class Dirac(keras.initializers.Initializer):
    """Initialises a convolution to pass its first input channels through unchanged.

    For a kernel of shape `(rows, cols, in_channels, filters)`, the first
    `min(in_channels, filters)` filters are Dirac deltas: filter `i` is 1 at
    the centre of input channel `i` and 0 elsewhere, so at initialisation it
    copies channel `i` (with "same" padding). The other filters are drawn
    from `base` (default: PyTorch's default for convolutions, uniform in
    `+-1 / sqrt(fan_in)`, as airbench, which introduced this for its
    network, keeps them). A deep plain network initialised this way starts
    close to a shallow one, the idea behind residual connections, without
    adding any.

    Args:
        base: the initializer of the remaining filters (a Keras initializer
            or its name).

    Example:

    >>> kernel = Dirac()((3, 3, 2, 4))
    >>> keras.ops.convert_to_numpy(kernel)[1, 1, :, :2].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, base=None):
        self.base = keras.initializers.get(
            base or keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform")
        )

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[0] % 2 == 0 or shape[1] % 2 == 0:
            raise ValueError(
                "Dirac initialises 2-D convolution kernels of odd size, shape (rows, cols, in_channels, filters); "
                f"received shape={tuple(shape)}."
            )
        kernel = keras.ops.convert_to_numpy(self.base(shape, dtype=dtype)).copy()
        rows, cols, channels, filters = shape
        identity = min(channels, filters)
        kernel[..., :identity] = 0
        kernel[rows // 2, cols // 2, np.arange(identity), np.arange(identity)] = 1
        return keras.ops.convert_to_tensor(kernel, dtype=dtype)

    def get_config(self):
        return {"base": keras.initializers.serialize(self.base)}

    @classmethod
    def from_config(cls, config):
        return cls(base=keras.initializers.deserialize(config["base"]))
