"""Local response normalization, as AlexNet used it (Krizhevsky et al., 2012)."""

import keras
import numpy as np

from course_lib._checks import check_image_input, check_number, check_positive_int

__all__ = ["LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="course_lib")
class LocalResponseNormalization(keras.layers.Layer):
    """Divides each activation by the energy of its neighbours across channels.

    `output[..., c] = x[..., c] / (bias + alpha * sum(x[..., c'] ** 2)) ** beta`
    where `c'` runs over the `2 * depth_radius + 1` channels around `c` (the
    same definition as `tf.nn.local_response_normalization`; AlexNet's
    n = 5, k = 2, alpha = 1e-4, beta = 0.75). It has no weights. It was
    dropped from later networks: VGG found no gain from it, and
    BatchNormalization normalises better and trains faster.

    Args:
        depth_radius: half-width of the channel window.
        bias: the constant `k` that keeps the denominator away from 0.
        alpha: scale of the sum of squares.
        beta: exponent.
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        Same as the input.

    Example:

    >>> lrn = LocalResponseNormalization()
    >>> tuple(lrn(keras.ops.ones((1, 2, 2, 8))).shape)
    (1, 2, 2, 8)
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = check_positive_int(depth_radius, "depth_radius", allow_zero=True)
        self.bias = check_number(bias, "bias", low=0)
        self.alpha = check_number(alpha, "alpha", low=0)
        self.beta = check_number(beta, "beta", low=0)

    def build(self, input_shape):
        check_image_input(input_shape, "LocalResponseNormalization")
        # The sum over the neighbouring channels is a product with a band
        # matrix: band[c', c] = 1 when |c - c'| <= depth_radius. One matrix
        # product is far faster on a CPU, forward and backward, than adding
        # 2 * depth_radius + 1 shifted slices.
        channels = np.arange(input_shape[-1])
        self._band = (np.abs(channels[:, None] - channels[None, :]) <= self.depth_radius).astype(self.compute_dtype)

    def call(self, inputs):
        energy = keras.ops.matmul(keras.ops.square(inputs), keras.ops.convert_to_tensor(self._band, inputs.dtype))
        return inputs / keras.ops.power(self.bias + self.alpha * energy, self.beta)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def receptive_field_paths(self):
        """Mixes channels of one position only: one path that changes nothing."""
        return [[]]

    def get_config(self):
        config = super().get_config()
        config.update(depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta)
        return config
