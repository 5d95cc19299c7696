"""Patch whitening: a frozen first convolution that decorrelates image patches (airbench)."""

import keras
import numpy as np

from course_lib._checks import check_array, check_image_batch, check_image_input, check_number, check_positive_int

__all__ = ["patch_whitening_filters", "PatchWhitening"]


def patch_whitening_filters(images, kernel_size=2, epsilon=5e-4):
    """The filters that whiten the `kernel_size x kernel_size` patches of `images`.

    Every patch, flattened to a vector `p` of `kernel_size**2 * channels`
    values, has the (uncentred) covariance `C = E[p p^T]`, with eigenvalues
    `lambda_i` and eigenvectors `v_i`. The filter `v_i / sqrt(lambda_i +
    epsilon)` projects a patch on `v_i` and scales the projection to variance
    about 1, so the `d` responses of the `d` filters are decorrelated with unit
    variance: the patches are whitened. Keller Jordan's airbench (2024) uses
    these filters, and their negatives, as a frozen first layer.

    Args:
        images: `(N, rows, cols, channels)` images, as the layer will see them
            (standardised).
        kernel_size: the patch size.
        epsilon: added to the eigenvalues, so that directions of almost no
            variance are not blown up.

    Returns:
        `(filters, eigenvalues)`: the filters as a Conv2D kernel of shape
        `(kernel_size, kernel_size, channels, d)`, ordered from the largest
        eigenvalue to the smallest, and the eigenvalues `(d,)`, where
        `d = kernel_size**2 * channels`.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 8, 8, 3))
    >>> filters, eigenvalues = patch_whitening_filters(x)
    >>> filters.shape, bool(eigenvalues[0] >= eigenvalues[-1])
    ((2, 2, 3, 12), True)
    """
    images = check_image_batch(images, "images")
    # Real, finite numbers and at least one image: otherwise the covariance's eigenvalues do not converge.
    images = check_array(images, "images", finite=True)
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    epsilon = check_number(epsilon, "epsilon", low=0, low_open=True)
    if kernel_size > min(images.shape[1:3]):
        raise ValueError(f"`kernel_size` must be at most the image size; received kernel_size={kernel_size}.")
    # (N, rows', cols', channels, k, k) -> one row per patch, in the order (k, k, channels) of a Keras kernel.
    windows = np.lib.stride_tricks.sliding_window_view(images.astype("float64"), (kernel_size, kernel_size), axis=(1, 2))
    patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kernel_size * kernel_size * images.shape[-1])
    covariance = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    filters = eigenvectors / np.sqrt(eigenvalues + epsilon)
    return filters.reshape(kernel_size, kernel_size, images.shape[-1], -1), eigenvalues


@keras.saving.register_keras_serializable(package="course_lib")
class PatchWhitening(keras.layers.Layer):
    """A first convolution whose filters whiten the training images' patches.

    A `kernel_size x kernel_size` convolution ("valid" padding, stride 1)
    with `2 * kernel_size**2 * channels` filters: the patch-whitening filters
    of `patch_whitening_filters`, then their negatives, so that a ReLU-like
    activation after it keeps both signs of every projection. Its kernel is
    not trainable: `adapt` computes it from training images, as
    `keras.layers.Normalization.adapt` computes a mean and variance. Its bias
    is trainable (airbench trains it for the first epochs only, see
    `course_lib.speedrun`).

    Whitening the input makes the first layer's problem well conditioned:
    directions of the patch space with little variance are no longer slow to
    learn. In Jordan's ablations (airbench, 2024) it cuts the epochs to 94 %
    on CIFAR-10 from 35 to 21, the largest single gain of his recipe.

    Args:
        kernel_size: the patch size (airbench: 2).
        epsilon: added to the eigenvalues before the square root.
        **kwargs: base layer keyword arguments.

    Input shape:
        4-D tensor `(batch, rows, cols, channels)`.

    Output shape:
        `(batch, rows - kernel_size + 1, cols - kernel_size + 1,
        2 * kernel_size**2 * channels)`.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype("float32")
    >>> whiten = PatchWhitening()
    >>> whiten.adapt(x)
    >>> tuple(whiten(x).shape), len(whiten.trainable_weights)
    ((16, 7, 7, 24), 1)
    """

    def __init__(self, kernel_size=2, epsilon=5e-4, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.epsilon = check_number(epsilon, "epsilon", low=0, low_open=True)
        self.conv = None

    def build(self, input_shape):
        check_image_input(input_shape, "PatchWhitening")
        filters = 2 * self.kernel_size**2 * input_shape[-1]
        self.conv = keras.layers.Conv2D(filters, self.kernel_size, padding="valid", use_bias=True,
                                        kernel_initializer="zeros", name="conv")
        self.conv.build(input_shape)
        self.conv.kernel.trainable = False

    @property
    def bias(self):
        """The trainable bias (the only trainable weight)."""
        return self.conv.bias

    def adapt(self, images):
        """Sets the kernel to the whitening filters of `images`' patches, and the bias to 0.

        Args:
            images: `(N, rows, cols, channels)` training images as the layer
                sees them (airbench uses 5,000).
        """
        images = check_image_batch(images, "images")
        if not self.built:
            self.build((None,) + images.shape[1:])
        filters, _ = patch_whitening_filters(images, self.kernel_size, self.epsilon)
        self.conv.kernel.assign(np.concatenate([filters, -filters], axis=-1).astype(self.conv.kernel.dtype))
        self.conv.bias.assign(np.zeros(self.conv.bias.shape, self.conv.bias.dtype))

    def call(self, inputs):
        return self.conv(inputs)

    def compute_output_shape(self, input_shape):
        check_image_input(input_shape, "PatchWhitening")
        filters = 2 * self.kernel_size**2 * input_shape[-1]
        return keras.layers.Conv2D(filters, self.kernel_size).compute_output_shape(input_shape)

    def receptive_field_paths(self):
        """One convolution: one path."""
        return [[self.conv]]

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, epsilon=self.epsilon)
        return config
