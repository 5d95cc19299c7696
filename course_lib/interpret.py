"""What a CNN sees: class activation maps, Grad-CAM, occlusion and saliency maps.

Each function takes a trained classifier, a batch of images and the class to
explain (one int, or one int per image), and returns one map per image as a
NumPy array:

- `class_activation_map` (Zhou et al., 2016): for a network ending in
  convolutions, global average pooling and a dense classifier, the class's
  dense weights applied to the last convolutional maps at every position.
- `grad_cam` (Selvaraju et al., 2017): for any convolutional network, a named
  layer's maps weighted by the spatial mean of the class score's gradient,
  then a ReLU.
- `occlusion_map` (Zeiler and Fergus, 2014): how much the class probability
  drops when a patch of the image is hidden, patch position by patch position.
- `saliency_map` (Simonyan et al., 2014): the size of the class score's
  gradient with respect to each pixel.

The class activation map and Grad-CAM use the class *score*, before the
softmax, as their papers define it: a final softmax (a `Dense` layer with a
softmax activation, or a `Softmax` or softmax `Activation` layer) is detected
and bypassed. On a conv -> GAP -> dense network Grad-CAM then equals the ReLU
of the class activation map divided by the number of positions.

Models that standardise their input in a first layer and then call a nested
network (as `course_lib.zoo.load` and `course_lib.experiment.run` build them)
are unwrapped: layer names refer to the nested network.
"""

import keras
import numpy as np

from course_lib._checks import (
    check_array,
    check_image_batch,
    check_model,
    check_positive_int,
    check_positive_ints,
    is_int,
)
from course_lib.autodiff import value_and_gradient

__all__ = ["class_activation_map", "grad_cam", "saliency_map", "occlusion_map", "upsample_to"]


def _check_images(images):
    images = check_image_batch(images, "images")
    # Real, finite numbers and at least one image: NaN pixels give NaN maps, or (saliency) silently zero ones.
    return check_array(images, "images", finite=True).astype("float32")


def _class_indices(class_index, count, classes):
    indices = np.asarray(class_index)
    if indices.ndim == 0 and np.issubdtype(indices.dtype, np.integer):
        indices = np.full(count, int(indices))
    if indices.shape != (count,) or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            f"`class_index` must be an int or one int per image ({count}); received {class_index!r}."
        )
    if indices.min() < 0 or indices.max() >= classes:
        raise ValueError(f"`class_index` must be in [0, {classes}); received {class_index!r}.")
    return indices.astype("int64")


def _unwrap(model):
    """`(prefix_layers, network)`: the layers before a nested network, and the network."""
    check_model(model)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if layers and isinstance(layers[-1], keras.Model) and all(
        not isinstance(layer, keras.Model) for layer in layers[:-1]
    ):
        return layers[:-1], layers[-1]
    return [], model


def _preprocess(prefix, images):
    x = images
    for layer in prefix:
        x = layer(x)
    return x


def _producer(network, tensor):
    """The layer of `network` whose output is `tensor`, or None."""
    return next((layer for layer in network.layers if layer.output is tensor), None)


def _is_softmax(activation):
    return activation is keras.activations.softmax or getattr(activation, "__name__", "") == "softmax"


def _logits_tensor(network):
    """The network's output before a final softmax, as a symbolic tensor, and the classifier."""
    last = network.layers[-1]
    if isinstance(last, keras.layers.Dense) and _is_softmax(last.activation):
        return None, last  # the logits are computed from the Dense layer's input
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _is_softmax(last.activation)
    ):
        return last.input, None
    return network.outputs[0], None


def _score_function(network, start_tensor):
    """A function of the activations at `start_tensor` returning the class scores (logits)."""
    logits, dense = _logits_tensor(network)
    if dense is not None:
        head = keras.Model(start_tensor, dense.input)

        def scores(a):
            return keras.ops.matmul(head(a), dense.kernel) + (dense.bias if dense.use_bias else 0.0)

        return scores
    head = keras.Model(start_tensor, logits)
    return lambda a: head(a)


def _spatial_layer(network, layer_name):
    if layer_name is None:
        candidates = [layer for layer in network.layers if len(layer.output.shape) == 4]
        if not candidates:
            raise ValueError(f"The model {network.name!r} has no layer with a 4-D output.")
        return candidates[-1]
    try:
        layer = network.get_layer(layer_name)
    except ValueError:
        names = [layer.name for layer in network.layers]
        raise ValueError(
            f"`layer_name` must name a layer of {network.name!r}; received layer_name={layer_name!r}. "
            f"Its layers are: {', '.join(names)}."
        ) from None
    if len(layer.output.shape) != 4:
        raise ValueError(
            f"`layer_name` must name a layer with a 4-D output (batch, rows, cols, channels); "
            f"{layer_name!r} outputs shape {layer.output.shape}."
        )
    return layer


def _selected_score(scores, indices):
    one_hot = keras.ops.one_hot(keras.ops.convert_to_tensor(indices), scores.shape[-1], dtype=scores.dtype)
    return keras.ops.sum(scores * one_hot)


def class_activation_map(model, images, class_index):
    """The class activation map (CAM) of a conv -> global average pooling -> dense network.

    With `A` the last convolutional maps, `(H', W', K)`, and `w[k, c]` the
    dense classifier's weights, `CAM_c[i, j] = sum_k w[k, c] A[i, j, k]`. Its
    mean over the positions plus the bias is the class score: the map says
    where the score comes from.

    Args:
        model: a classifier whose last layer is a `Dense` classifier fed by
            `GlobalAveragePooling2D` (dropout in between is allowed), fed by
            a 4-D feature map.
        images: `(N, rows, cols, channels)`, as the model takes them.
        class_index: the class to explain, an int or one int per image.

    Returns:
        `(N, H', W')` maps at the last feature map's resolution.

    Example:

    >>> inputs = keras.Input((8, 8, 3))
    >>> maps = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    >>> scores = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(maps))
    >>> class_activation_map(keras.Model(inputs, scores), np.zeros((1, 8, 8, 3)), 0).shape
    (1, 8, 8)
    """
    images = _check_images(images)
    prefix, network = _unwrap(model)
    dense = network.layers[-1]
    if not isinstance(dense, keras.layers.Dense):
        raise ValueError(
            "`class_activation_map` needs a model ending in a Dense classifier after global average "
            f"pooling; the last layer of {network.name!r} is {type(dense).__name__} {dense.name!r}. "
            "Use `grad_cam` for other models."
        )
    pool = _producer(network, dense.input)
    while isinstance(pool, keras.layers.Dropout):
        pool = _producer(network, pool.input)
    if not isinstance(pool, keras.layers.GlobalAveragePooling2D):
        found = type(pool).__name__ if pool is not None else "nothing"
        raise ValueError(
            "`class_activation_map` needs global average pooling right before the Dense classifier; "
            f"{network.name!r} has {found} there. Use `grad_cam` for other models."
        )
    indices = _class_indices(class_index, len(images), dense.units)
    features = keras.Model(network.inputs[0], pool.input)
    maps = keras.ops.convert_to_numpy(features(_preprocess(prefix, images)))
    weights = keras.ops.convert_to_numpy(dense.kernel)[:, indices]  # (K, N)
    return np.einsum("nijk,kn->nij", maps, weights)


def grad_cam(model, images, class_index, layer_name=None):
    """Grad-CAM: a layer's maps weighted by the mean gradient of the class score.

    With `A` the maps of the layer, `(H', W', K)`, and `S_c` the class score
    before the softmax: `alpha_k = mean_{i, j} dS_c / dA[i, j, k]` and
    `map = ReLU(sum_k alpha_k A[:, :, k])`.

    Args:
        model: a convolutional classifier (a final softmax is bypassed).
        images: `(N, rows, cols, channels)`, as the model takes them.
        class_index: the class to explain, an int or one int per image.
        layer_name: the layer whose maps are weighted (of the nested network,
            for models that wrap one); by default the last layer with a 4-D
            output. The layers after it must depend on its output only.

    Returns:
        `(N, H', W')` non-negative maps at the layer's resolution.
    """
    images = _check_images(images)
    prefix, network = _unwrap(model)
    layer = _spatial_layer(network, layer_name)
    scores = _score_function(network, layer.output)
    classes = network.output_shape[-1]
    indices = _class_indices(class_index, len(images), classes)
    activations = keras.ops.convert_to_numpy(
        keras.Model(network.inputs[0], layer.output)(_preprocess(prefix, images))
    )
    _, gradients = value_and_gradient(lambda a: _selected_score(scores(a), indices), activations)
    alpha = gradients.mean(axis=(1, 2), keepdims=True)
    return np.maximum((alpha * activations).sum(axis=-1), 0.0)


def saliency_map(model, images, class_index):
    """The size of the class score's gradient with respect to each pixel.

    `map[i, j] = max_channel |dS_c / dx[i, j, channel]|` (Simonyan et al.,
    2014), with `S_c` the class score before the softmax.

    Args:
        model: a classifier (a final softmax is bypassed).
        images: `(N, rows, cols, channels)`, as the model takes them.
        class_index: the class to explain, an int or one int per image.

    Returns:
        `(N, rows, cols)` non-negative maps.
    """
    images = _check_images(images)
    prefix, network = _unwrap(model)
    scores = _score_function(network, network.inputs[0])
    indices = _class_indices(class_index, len(images), network.output_shape[-1])

    def score(x):
        return _selected_score(scores(_preprocess(prefix, x)), indices)

    _, gradients = value_and_gradient(score, images)
    return np.abs(gradients).max(axis=-1)


def occlusion_map(model, images, class_index, patch_size=8, stride=4, fill="mean", batch_size=256):
    """How much the class probability drops when a patch of the image is hidden.

    A `patch_size` square slides over each image with `stride`; at each
    position the patch is replaced by `fill` and the model's probability of
    the class is compared with that of the whole image (Zeiler and Fergus,
    2014). Large drops mark the regions the prediction depends on.

    Args:
        model: a classifier returning class probabilities.
        images: `(N, rows, cols, channels)`, as the model takes them.
        class_index: the class to explain, an int or one int per image.
        patch_size: side of the hidden square, in pixels.
        stride: step between patch positions, in pixels.
        fill: "mean" (each image's mean colour) or a number.
        batch_size: occluded images per forward pass.

    Returns:
        `(N, H'', W'')` drops in probability, `H'' = (rows - patch_size) //
        stride + 1` (likewise for the columns); negative where hiding the
        patch raises the probability.
    """
    images = _check_images(images)
    patch_size = check_positive_int(patch_size, "patch_size")
    stride = check_positive_int(stride, "stride")
    batch_size = check_positive_int(batch_size, "batch_size")
    n, rows, cols, _ = images.shape
    if patch_size > min(rows, cols):
        raise ValueError(f"`patch_size` must fit in the image ({rows}x{cols}); received patch_size={patch_size}.")
    if not (isinstance(fill, str) and fill == "mean") and not (is_int(fill) or isinstance(fill, float)):
        raise ValueError(f"`fill` must be 'mean' or a number; received fill={fill!r}.")
    classes = model.output_shape[-1]
    indices = _class_indices(class_index, n, classes)
    tops = range(0, rows - patch_size + 1, stride)
    lefts = range(0, cols - patch_size + 1, stride)
    base = model.predict(images, batch_size=batch_size, verbose=0)[np.arange(n), indices]
    colour = images.mean(axis=(1, 2), keepdims=True) if fill == "mean" else np.full((n, 1, 1, 1), float(fill))
    drops = np.zeros((n, len(tops), len(lefts)), "float32")
    for i, top in enumerate(tops):
        occluded = np.repeat(images[:, None], len(lefts), axis=1)  # (N, positions in the row, ...)
        for j, left in enumerate(lefts):
            occluded[:, j, top:top + patch_size, left:left + patch_size, :] = colour
        flat = occluded.reshape(n * len(lefts), *images.shape[1:])
        probabilities = model.predict(flat, batch_size=batch_size, verbose=0).reshape(n, len(lefts), classes)
        drops[:, i, :] = base[:, None] - probabilities[
            np.arange(n)[:, None], np.arange(len(lefts))[None, :], indices[:, None]
        ]
    return drops


def upsample_to(maps, size):
    """Resizes `(N, H', W')` maps to `size` = `(rows, cols)` with bilinear interpolation.

    Returns:
        `(N, rows, cols)` float32 maps.

    Raises:
        TypeError: `maps` does not hold real numbers.
        ValueError: `maps` is not 3-D or is empty, or `size` is not two
            positive ints.
    """
    maps = check_array(maps, "maps", ndim=3, shape="(N, rows, cols)").astype("float32")
    size = check_positive_ints(size, "size", length=2)  # (rows, cols)
    resized = keras.ops.image.resize(maps[..., None], size, interpolation="bilinear")
    return keras.ops.convert_to_numpy(resized)[..., 0]
