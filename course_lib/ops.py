"""From-scratch NumPy reference of the operations a CNN is made of.

Everything here is plain NumPy (and SciPy for sparse matrices), written to be
read next to the lecture and checked against SciPy, Keras and autodiff:

- output sizes and padding: `output_size`, `padding_amounts`,
  `same_padding_before`; the receptive field after one window,
  `receptive_field_step` (`course_lib.receptive_field` applies it to a model);
- one channel: `correlate2d` (what CNN layers compute) and `convolve2d` (the
  flipped kernel), with `"valid"`, `"same"` and `"full"` padding and strides;
- layers, channels-last with Keras's weight layout: `conv2d_forward`,
  `conv2d_backward`, `pool2d`, `max_pool2d_forward`, `max_pool2d_backward`;
- batch normalization: `batchnorm_forward` (training mode),
  `batchnorm_backward`, `batchnorm_inference`, `update_moving_statistics`;
- counting: `conv2d_params`, `conv2d_macs`;
- the conv layer as a dense layer: `flatten_volume`, `unflatten_volume`,
  `conv_to_dense`.

Shapes follow `keras.layers.Conv2D`: images are `(N, H, W, C)`, kernels
`(kh, kw, C, F)`, biases `(F,)`. Nothing loops over pixels in Python: windows
come from `numpy.lib.stride_tricks.sliding_window_view` and are reduced with one
matrix product (im2col) or one NumPy reduction.

Padding conventions:

- `"valid"`: no padding; the kernel stays inside the image.
- `"same"`: Keras's (and TensorFlow's) convention. With stride `s`, the output
  has `ceil(n / s)` rows; the input gets
  `pad_total = max((ceil(n / s) - 1) * s + k - n, 0)` zero rows, `pad_total // 2`
  above and the rest below (one more below when `pad_total` is odd).
- `"full"`: `k - 1` zero rows on each side, so that every overlap of kernel and
  image counts (SciPy's `mode="full"`).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course_lib._checks import check_bool, check_int_pair, check_number, check_positive_int

__all__ = [
    "PADDINGS",
    "output_size",
    "padding_amounts",
    "same_padding_before",
    "receptive_field_step",
    "correlate2d",
    "convolve2d",
    "conv2d_forward",
    "conv2d_backward",
    "pool2d",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "conv2d_params",
    "conv2d_macs",
    "batchnorm_forward",
    "batchnorm_inference",
    "update_moving_statistics",
    "batchnorm_backward",
    "flatten_volume",
    "unflatten_volume",
    "conv_to_dense",
]

PADDINGS = ("valid", "same", "full")


# ---------------------------------------------------------------------------
# Argument checks


def _check_padding(padding, allowed=PADDINGS):
    if padding not in allowed:
        options = ", ".join(repr(p) for p in allowed)
        raise ValueError(f"`padding` must be one of {options}; received padding={padding!r}.")
    return padding


def _as_float_array(value, name, ndim):
    """Returns `value` as a float array of rank `ndim`; integers become float64."""
    array = np.asarray(value)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"`{name}` must hold real numbers; received dtype {array.dtype}.")
    if array.ndim != ndim:
        raise ValueError(f"`{name}` must have rank {ndim}; received shape {array.shape}.")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float64)
    return array


def _check_image_and_kernel(x, kernel, bias=None):
    """Checks an `(N, H, W, C)` batch against a `(kh, kw, C, F)` kernel."""
    x = _as_float_array(x, "x", 4)
    kernel = _as_float_array(kernel, "kernel", 4)
    if x.shape[-1] != kernel.shape[2]:
        raise ValueError(
            f"`x` has {x.shape[-1]} channels but `kernel` expects {kernel.shape[2]}: "
            f"`kernel` must have shape (kh, kw, {x.shape[-1]}, filters); "
            f"received x.shape={x.shape}, kernel.shape={kernel.shape}."
        )
    if min(kernel.shape) < 1 or min(x.shape) < 1:
        raise ValueError(
            f"`x` and `kernel` must not be empty; received x.shape={x.shape}, "
            f"kernel.shape={kernel.shape}."
        )
    if bias is not None:
        bias = _as_float_array(bias, "bias", 1)
        if bias.shape != (kernel.shape[-1],):
            raise ValueError(
                f"`bias` must have shape ({kernel.shape[-1]},), one value per filter; "
                f"received shape {bias.shape}."
            )
    return x, kernel, bias


# ---------------------------------------------------------------------------
# Output sizes, padding and receptive fields


def output_size(n, kernel_size, padding="valid", stride=1):
    """Number of output rows (or columns) of a convolution or pooling window.

    With `n` input rows, a window of `k = kernel_size` rows and stride `s`:

    - `"valid"`: `floor((n - k) / s) + 1`, that is `n - k + 1` at stride 1;
    - `"same"`: `ceil(n / s)`, that is `n` at stride 1 (Keras's convention);
    - `"full"`: `floor((n + k - 2) / s) + 1`, that is `n + k - 1` at stride 1,
      the stride-1 output subsampled at rows `0, s, 2s, ...`.

    Even kernels are accepted: Keras pads them asymmetrically for `"same"`.
    (`correlate2d` and `convolve2d`, which centre the kernel on each pixel as the
    lecture does, require odd kernels for `"same"`.)

    Args:
        n: positive int, input rows (or columns).
        kernel_size: positive int, window rows (or columns).
        padding: one of `"valid"`, `"same"`, `"full"`.
        stride: positive int.

    Returns:
        The output size, an int.

    Example:

    >>> output_size(28, 5), output_size(28, 5, "same"), output_size(28, 5, "full")
    (24, 28, 32)
    >>> output_size(7, 3, "same", stride=2)
    4
    """
    n = check_positive_int(n, "n")
    k = check_positive_int(kernel_size, "kernel_size")
    s = check_positive_int(stride, "stride")
    _check_padding(padding)
    if padding == "valid":
        if k > n:
            raise ValueError(
                f"`kernel_size` ({k}) must not exceed the input size `n` ({n}) "
                "with padding='valid'."
            )
        return (n - k) // s + 1
    if padding == "same":
        return -(-n // s)
    return (n + k - 2) // s + 1


def padding_amounts(n, k, padding, stride=1):
    """Zeros `(before, after)` that `padding` adds to an axis of size `n`.

    "valid" adds none, "full" `k - 1` on each side, and "same" as few as the
    `ceil(n / stride)` outputs need, the odd one after (as Keras pads).

    Args:
        n: size of the axis.
        k: kernel size along it (the effective size `d * (k - 1) + 1` for a
            dilation `d`).
        padding: "valid", "same" or "full".
        stride: step of the window.

    Returns:
        A pair of ints.

    Example:

    >>> padding_amounts(5, 3, "same"), padding_amounts(6, 3, "same", stride=2), padding_amounts(5, 3, "full")
    ((1, 1), (0, 1), (2, 2))
    """
    n = check_positive_int(n, "n")
    k = check_positive_int(k, "k")
    stride = check_positive_int(stride, "stride")
    _check_padding(padding)
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return k - 1, k - 1
    total = max((output_size(n, k, "same", stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def same_padding_before(n, k, stride=1):
    """Zeros that "same" padding puts before an axis, also when its size is unknown.

    At stride 1 Keras pads `k - 1` zeros in all, `(k - 1) // 2` before, whatever
    the size; at a larger stride the amount depends on the size `n` (see
    `padding_amounts`), so an unknown size gives None.

    Args:
        n: size of the axis, or None if unknown.
        k: kernel size along it (the effective size `d * (k - 1) + 1` for a
            dilation `d`).
        stride: step of the window.

    Returns:
        An int, or None when `n` is None and `stride > 1`.

    Example:

    >>> same_padding_before(None, 5), same_padding_before(6, 3, stride=2), same_padding_before(None, 3, stride=2)
    (2, 0, None)
    """
    n = check_positive_int(n, "n", allow_none=True)
    k = check_positive_int(k, "k")
    stride = check_positive_int(stride, "stride")
    if stride == 1:
        return (k - 1) // 2
    if n is None:
        return None
    return padding_amounts(n, k, "same", stride)[0]


def receptive_field_step(field, jump, start, k, stride=1, padding="valid", n=None):
    """Field, jump and start after one sliding window, along one axis.

    The rules of `course_lib.receptive_field` (its module docstring derives
    them): a window of effective size `k` and stride `s`, with `pad_before`
    zeros in front of its input, maps the field `r`, the jump `j` and the
    start of its input's units to

        r_out     = r_in + (k - 1) * j_in
        j_out     = j_in * s
        start_out = start_in + ((k - 1) / 2 - pad_before) * j_in

    `pad_before` is 0 for "valid" and `same_padding_before(n, k, s)` for "same".

    Args:
        field: positive int, input pixels one input unit sees (1 for the image).
        jump: positive int, input pixels between neighbouring input units.
        start: input coordinate of the centre of the first input unit's field
            (0 for the image), or None if unknown.
        k: window size along the axis (the effective size `d * (k - 1) + 1`
            for a dilation `d`).
        stride: step of the window.
        padding: "valid" or "same" (Keras's).
        n: size of the window's input along the axis, or None if unknown.

    Returns:
        `(field, jump, start)` of the window's output units; the start is None
        when it was None or depends on an unknown size ("same" with `s > 1`).

    Example:

    >>> receptive_field_step(1, 1, 0.0, 3, stride=2, padding="same", n=32)
    (3, 2, 1.0)
    >>> receptive_field_step(3, 2, 0.0, 3)
    (7, 2, 2.0)
    """
    field = check_positive_int(field, "field")
    jump = check_positive_int(jump, "jump")
    if start is not None:
        start = check_number(start, "start")
    k = check_positive_int(k, "k")
    stride = check_positive_int(stride, "stride")
    _check_padding(padding, ("valid", "same"))
    pad_before = 0 if padding == "valid" else same_padding_before(n, k, stride)
    if start is not None and pad_before is not None:
        start = start + ((k - 1) / 2 - pad_before) * jump
    else:
        start = None
    return field + (k - 1) * jump, jump * stride, start


def _pad_and_windows(x, kernel_shape, padding, strides):
    """Zero-pads `(N, H, W, C)` and returns its `(N, H', W', C, kh, kw)` windows."""
    (kh, kw), (sh, sw) = kernel_shape, strides
    (top, bottom) = padding_amounts(x.shape[1], kh, padding, sh)
    (left, right) = padding_amounts(x.shape[2], kw, padding, sw)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    if padded.shape[1] < kh or padded.shape[2] < kw:
        raise ValueError(
            f"The kernel ({kh}x{kw}) must fit in the input ({x.shape[1]}x{x.shape[2]}) "
            f"with padding={padding!r}."
        )
    windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))
    return padded, windows[:, ::sh, ::sw], (top, left)


# ---------------------------------------------------------------------------
# One channel: correlation and convolution


def correlate2d(image, kernel, padding="valid", strides=1):
    """2-D cross-correlation of one channel: what a CNN layer computes.

    `out[p, q] = sum_{i, j} image[p*s + i, q*s + j] * kernel[i, j]` on the
    padded image: the kernel slides over the image without being flipped.
    For stride 1 and an odd kernel this equals
    `scipy.signal.correlate2d(image, kernel, mode=padding)`.

    Strides keep the rows and columns numbered 1, 1 + s, 1 + 2s, ... (counting
    from 1) of the stride-1 output: exactly so for `"valid"` and `"full"`. For
    `"same"`, Keras's convention pads only as much as `ceil(n / s)` outputs need
    (see the module docstring), which equals subsampling the stride-1 `"same"`
    output only when `n - 1` is a multiple of `s` (or the kernel is 1x1).
    Otherwise the strided output is the stride-1 output subsampled from row
    `d = min(ceil(r / 2), (k - 1) / 2)`, with `r = (n - 1) % s`: the windows sit
    `d` rows lower (columns alike, further right).

    Args:
        image: 2-D array `(H, W)` of real numbers.
        kernel: 2-D array `(kh, kw)`; for `padding="same"` both sizes must be odd,
            so that the kernel has a centre pixel.
        padding: one of `"valid"`, `"same"`, `"full"`.
        strides: positive int or pair of positive ints `(rows, columns)`.

    Returns:
        2-D float array (float64 for integer inputs) of
        `output_size(H, kh, padding, s)` rows and the same for columns.

    Example:

    >>> correlate2d(np.arange(9.0).reshape(3, 3), np.array([[1.0, -1.0]])).tolist()
    [[-1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0]]
    """
    image = _as_float_array(image, "image", 2)
    kernel = _as_float_array(kernel, "kernel", 2)
    _check_padding(padding)
    strides = check_int_pair(strides, "strides")
    if min(image.shape) < 1 or min(kernel.shape) < 1:
        raise ValueError(
            f"`image` and `kernel` must not be empty; received image.shape={image.shape}, "
            f"kernel.shape={kernel.shape}."
        )
    if padding == "same" and (kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0):
        raise ValueError(
            "`kernel` must have odd sizes with padding='same', so that it is centred "
            f"on each pixel; received kernel.shape={kernel.shape}."
        )
    if padding == "valid" and (kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]):
        raise ValueError(
            "`kernel` must fit in `image` with padding='valid'; "
            f"received image.shape={image.shape}, kernel.shape={kernel.shape}."
        )
    out = conv2d_forward(image[None, :, :, None], kernel[:, :, None, None], None, padding, strides)
    return out[0, :, :, 0]


def convolve2d(image, kernel, padding="valid", strides=1):
    """2-D convolution of one channel: correlation with the flipped kernel.

    `out[p, q] = sum_{i, j} image[p - i, q - j] * kernel[i, j]`, that is
    `correlate2d(image, kernel[::-1, ::-1], ...)`. For stride 1 and an odd
    kernel this equals `scipy.signal.convolve2d(image, kernel, mode=padding)`.
    Arguments, strides and padding as in `correlate2d`.

    Example:

    >>> convolve2d(np.arange(9.0).reshape(3, 3), np.array([[1.0, -1.0]])).tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    kernel = _as_float_array(kernel, "kernel", 2)
    return correlate2d(image, kernel[::-1, ::-1], padding=padding, strides=strides)


# ---------------------------------------------------------------------------
# The conv layer


def conv2d_forward(x, kernel, bias=None, padding="valid", strides=1):
    """Forward pass of a 2-D convolution layer, as `keras.layers.Conv2D` computes it.

    `out[n, p, q, f] = bias[f] + sum_{i, j, c} xpad[n, p*sh + i, q*sw + j, c] * kernel[i, j, c, f]`
    (a correlation, no flip), with `xpad` the zero-padded input. Computed as
    im2col: the windows are gathered into a `(N*H'*W', kh*kw*C)` matrix and
    multiplied by the kernel reshaped to `(kh*kw*C, F)`.

    Args:
        x: `(N, H, W, C)` batch of real numbers; integers are cast to float64.
        kernel: `(kh, kw, C, F)`, Keras's layout (`layer.kernel`); any sizes,
            even ones too.
        bias: `(F,)` or None (no bias).
        padding: `"valid"` or `"same"` (Keras's convention, asymmetric when
            the padding is odd), or `"full"` (`k - 1` zeros on each side).
        strides: positive int or pair `(sh, sw)`.

    Returns:
        `(N, H', W', F)` array with `H' = output_size(H, kh, padding, sh)`, in
        the floating dtype NumPy promotes `x`, `kernel` and `bias` to (float32
        in, float32 out; float64 when any of them is float64).

    Example:

    >>> x = np.ones((1, 4, 4, 2), "float32")
    >>> kernel = np.ones((3, 3, 2, 5), "float32")
    >>> conv2d_forward(x, kernel, padding="same").shape
    (1, 4, 4, 5)
    """
    x, kernel, bias = _check_image_and_kernel(x, kernel, bias)
    _check_padding(padding)
    strides = check_int_pair(strides, "strides")
    dtype = np.result_type(x, kernel, *(() if bias is None else (bias,)))
    x, kernel = x.astype(dtype, copy=False), kernel.astype(dtype, copy=False)
    kh, kw, channels, filters = kernel.shape
    _, windows, _ = _pad_and_windows(x, (kh, kw), padding, strides)
    n, out_h, out_w = windows.shape[:3]
    # im2col: (N, H', W', kh, kw, C) in memory order matches kernel.reshape(-1, F).
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * out_h * out_w, kh * kw * channels)
    out = columns @ kernel.reshape(kh * kw * channels, filters)
    if bias is not None:
        out += bias.astype(dtype, copy=False)
    return out.reshape(n, out_h, out_w, filters)


def conv2d_backward(dout, x, kernel, padding="valid", strides=1):
    """Backward pass of `conv2d_forward`: gradients of a loss w.r.t. its inputs.

    With `dout = dL/dout`, the chain rule through
    `out[n, p, q, f] = b[f] + sum_{i, j, c} xpad[n, p*s + i, q*s + j, c] * kernel[i, j, c, f]`
    gives

    - `dbias[f] = sum_{n, p, q} dout[n, p, q, f]`;
    - `dkernel[i, j, c, f] = sum_{n, p, q} xpad[n, p*s + i, q*s + j, c] * dout[n, p, q, f]`
      (the input's windows against `dout`);
    - `dxpad[n, p*s + i, q*s + j, c] += sum_f dout[n, p, q, f] * kernel[i, j, c, f]`
      for every tap `(i, j)`: each output sends its gradient back to the pixels
      it read. `dx` is `dxpad` without the padding. Pixels that no window reads
      (the last rows of a strided `"valid"` convolution) get 0.

    Args:
        dout: `(N, H', W', F)`, the gradient w.r.t. the forward output.
        x: `(N, H, W, C)`, the forward input.
        kernel: `(kh, kw, C, F)`, the forward kernel.
        padding: as in `conv2d_forward`.
        strides: as in `conv2d_forward`.

    Returns:
        `(dx, dkernel, dbias)` with the shapes of `x`, `kernel` and `(F,)`.

    Example:

    >>> x, kernel = np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1))
    >>> dx, dkernel, dbias = conv2d_backward(np.ones((1, 2, 2, 1)), x, kernel)
    >>> dx[0, :, :, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    x, kernel, _ = _check_image_and_kernel(x, kernel)
    _check_padding(padding)
    strides = check_int_pair(strides, "strides")
    dout = _as_float_array(dout, "dout", 4)
    dtype = np.result_type(x, kernel, dout)
    x, kernel, dout = (a.astype(dtype, copy=False) for a in (x, kernel, dout))
    kh, kw, channels, filters = kernel.shape
    (sh, sw) = strides
    padded, windows, (top, left) = _pad_and_windows(x, (kh, kw), padding, strides)
    n, out_h, out_w = windows.shape[:3]
    if dout.shape != (n, out_h, out_w, filters):
        raise ValueError(
            f"`dout` must have the forward output's shape {(n, out_h, out_w, filters)}; "
            f"received shape {dout.shape}."
        )
    dbias = dout.sum(axis=(0, 1, 2))
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * out_h * out_w, kh * kw * channels)
    dout_rows = dout.reshape(n * out_h * out_w, filters)
    dkernel = (columns.T @ dout_rows).reshape(kh, kw, channels, filters)
    # Each tap (i, j) of every window: a matrix product, scattered back with strides.
    dpadded = np.zeros(padded.shape, dtype)
    for i in range(kh):
        for j in range(kw):
            dpadded[:, i : i + sh * out_h : sh, j : j + sw * out_w : sw, :] += dout @ kernel[i, j].T
    dx = dpadded[:, top : top + x.shape[1], left : left + x.shape[2], :]
    return np.ascontiguousarray(dx), dkernel, dbias


# ---------------------------------------------------------------------------
# Pooling


def _pool_windows(x, pool_size, strides):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"`x` must have rank 4 (N, H, W, C); received shape {x.shape}.")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)) or (
        x.dtype == bool
    ):
        raise TypeError(f"`x` must hold real numbers; received dtype {x.dtype}.")
    pool_size = check_int_pair(pool_size, "pool_size")
    strides = pool_size if strides is None else check_int_pair(strides, "strides")
    if pool_size[0] > x.shape[1] or pool_size[1] > x.shape[2]:
        raise ValueError(
            f"`pool_size` {pool_size} must fit in the input's {x.shape[1]}x{x.shape[2]} pixels."
        )
    windows = sliding_window_view(x, pool_size, axis=(1, 2))[:, :: strides[0], :: strides[1]]
    return x, windows, pool_size, strides


def pool2d(x, op, pool_size=2, strides=None):
    """Pooling with any reducing function, "valid" padding.

    Each output pixel is `op` applied to one `pool_size` window of one channel;
    windows start every `strides` pixels. With `op=np.max` this is
    `keras.layers.MaxPooling2D`, with `op=np.mean` `AveragePooling2D`.

    Args:
        x: `(N, H, W, C)` batch.
        op: a reducing function called as `op(windows, axis=(-2, -1))`, e.g.
            `np.max`, `np.mean`, `np.median`.
        pool_size: positive int or pair `(ph, pw)`.
        strides: positive int, pair, or None for `pool_size` (non-overlapping
            windows).

    Returns:
        `(N, H', W', C)` array with `H' = output_size(H, ph, "valid", sh)`.

    Example:

    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> pool2d(x, np.max)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    if not callable(op):
        raise TypeError(f"`op` must be a callable such as np.max; received {op!r}.")
    _, windows, _, _ = _pool_windows(x, pool_size, strides)
    return np.asarray(op(windows, axis=(-2, -1)))


def max_pool2d_forward(x, pool_size=2, strides=None):
    """Max pooling, as `keras.layers.MaxPooling2D(pool_size, strides)` ("valid").

    Arguments and returned shape as in `pool2d`.

    Example:

    >>> max_pool2d_forward(np.arange(16.0).reshape(1, 4, 4, 1)).shape
    (1, 2, 2, 1)
    """
    return pool2d(x, np.max, pool_size=pool_size, strides=strides)


def max_pool2d_backward(dout, x, pool_size=2, strides=None):
    """Backward pass of `max_pool2d_forward`.

    The maximum of a window depends only on its largest entry, so each output's
    gradient goes to the input pixel that attains the maximum, and 0 to the
    others. On ties, the whole gradient goes to the first maximal entry in
    row-major order within the window (top row first, then left to right), as
    the autodiff of `keras.layers.MaxPooling2D` does on TensorFlow, JAX and
    PyTorch. Overlapping windows (`strides < pool_size`) add up their
    gradients on the pixels they share.

    Args:
        dout: `(N, H', W', C)`, the gradient w.r.t. the pooled output.
        x: `(N, H, W, C)`, the forward input.
        pool_size: as in `pool2d`.
        strides: as in `pool2d`.

    Returns:
        `dx` with the shape of `x`.

    Example:

    >>> x = np.array([[1.0, 3.0], [2.0, 0.0]]).reshape(1, 2, 2, 1)
    >>> max_pool2d_backward(np.ones((1, 1, 1, 1)), x)[0, :, :, 0].tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    x, windows, (ph, pw), (sh, sw) = _pool_windows(x, pool_size, strides)
    dout = _as_float_array(dout, "dout", 4)
    n, out_h, out_w, channels = windows.shape[:4]
    if dout.shape != (n, out_h, out_w, channels):
        raise ValueError(
            f"`dout` must have the pooled output's shape {(n, out_h, out_w, channels)}; "
            f"received shape {dout.shape}."
        )
    # np.argmax returns the first maximum: the tie rule of the backends' autodiff.
    flat_argmax = windows.reshape(n, out_h, out_w, channels, ph * pw).argmax(axis=-1)
    di, dj = np.divmod(flat_argmax, pw)
    batch, p, q, c = np.indices(flat_argmax.shape, sparse=True)
    dx = np.zeros(x.shape, np.result_type(x, dout) if x.dtype.kind == "f" else dout.dtype)
    # add.at accumulates when overlapping windows pick the same pixel.
    np.add.at(dx, (batch, p * sh + di, q * sw + dj, c), dout)
    return dx


# ---------------------------------------------------------------------------
# Counting


def conv2d_params(kernel_size, in_channels, filters, use_bias=True):
    """Trainable parameters of a `Conv2D` layer: `F * (kh * kw * C + 1)`.

    Each of the `F` filters has one weight per kernel tap and input channel,
    plus one bias (when `use_bias`).

    Args:
        kernel_size: positive int or pair `(kh, kw)`.
        in_channels: positive int, `C`, the depth of the input volume.
        filters: positive int, `F`.
        use_bias: whether each filter has a bias.

    Returns:
        The number of parameters, an int.

    Example:

    >>> conv2d_params(5, 1, 6)  # LeNet-5's first layer
    156
    """
    kh, kw = check_int_pair(kernel_size, "kernel_size")
    channels = check_positive_int(in_channels, "in_channels")
    filters = check_positive_int(filters, "filters")
    use_bias = check_bool(use_bias, "use_bias")
    return filters * (kh * kw * channels + int(use_bias))


def conv2d_macs(input_shape, kernel_size, filters, padding="valid", strides=1):
    """Multiply-accumulate operations of one `Conv2D` forward pass on one image.

    Every one of the `H' * W' * F` outputs takes `kh * kw * C` products:
    `H' * W' * kh * kw * C * F` (biases not counted).

    Args:
        input_shape: `(H, W, C)`, positive ints.
        kernel_size: positive int or pair `(kh, kw)`.
        filters: positive int.
        padding: one of `"valid"`, `"same"`, `"full"`.
        strides: positive int or pair `(sh, sw)`.

    Returns:
        The number of multiply-accumulates, an int.

    Example:

    >>> conv2d_macs((32, 32, 1), 5, 6)  # 28 * 28 * 25 * 6
    117600
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be a tuple (H, W, C); received input_shape={input_shape!r}."
        )
    height, width, channels = (check_positive_int(v, "input_shape") for v in input_shape)
    kh, kw = check_int_pair(kernel_size, "kernel_size")
    sh, sw = check_int_pair(strides, "strides")
    filters = check_positive_int(filters, "filters")
    out_h = output_size(height, kh, padding, sh)
    out_w = output_size(width, kw, padding, sw)
    return out_h * out_w * kh * kw * channels * filters


# ---------------------------------------------------------------------------
# Batch normalization


def _check_batchnorm_inputs(x, *vectors):
    x = np.asarray(x)
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            "`x` must be a float array of at least 2 dimensions, channels last; "
            f"received dtype {x.dtype} and shape {x.shape}."
        )
    if x.size == 0:
        raise ValueError(f"`x` must not be empty; received shape {x.shape}.")
    channels = x.shape[-1]
    checked = []
    for name, value in vectors:
        value = np.asarray(value, dtype=x.dtype)
        if value.shape != (channels,):
            raise ValueError(f"`{name}` must have shape ({channels},), one value per channel; received {value.shape}.")
        checked.append(value)
    return x, checked


def batchnorm_forward(x, gamma, beta, epsilon=1e-3):
    """Batch normalization in training mode: normalise with the batch's statistics.

    For each channel `c` (the last axis), over all other axes (the batch and,
    for images, the rows and columns):
    `mean_c = mean(x[..., c])`, `var_c = mean((x[..., c] - mean_c) ** 2)`
    (the biased variance, as Keras computes it),
    `x_hat = (x - mean) / sqrt(var + epsilon)`, `out = gamma * x_hat + beta`.

    Args:
        x: `(N, C)` or `(N, H, W, C)` activations.
        gamma: `(C,)` scale.
        beta: `(C,)` offset.
        epsilon: added to the variance (Keras's default 1e-3).

    Returns:
        `(out, cache)`: `out` has the shape of `x`; `cache` is a dict with the
        batch's `mean` and `variance` (`(C,)` each, to update the moving
        statistics) and what `batchnorm_backward` needs.

    Example:

    >>> out, cache = batchnorm_forward(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1), epsilon=0.0)
    >>> out.ravel().tolist(), cache["mean"].tolist(), cache["variance"].tolist()
    ([-1.0, 1.0], [2.0], [1.0])
    """
    x, (gamma, beta) = _check_batchnorm_inputs(x, ("gamma", gamma), ("beta", beta))
    epsilon = check_number(epsilon, "epsilon", low=0)
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)
    variance = x.var(axis=axes)
    inv_std = 1.0 / np.sqrt(variance + epsilon)
    x_hat = (x - mean) * inv_std
    cache = {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "mean": mean, "variance": variance}
    return gamma * x_hat + beta, cache


def batchnorm_inference(x, gamma, beta, moving_mean, moving_variance, epsilon=1e-3):
    """Batch normalization in inference mode: normalise with the moving statistics.

    `out = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta`:
    a fixed affine map per channel, the same for every image, whatever the
    batch.

    Args:
        x: `(N, C)` or `(N, H, W, C)` activations.
        gamma, beta, moving_mean, moving_variance: `(C,)` each.
        epsilon: added to the variance.

    Returns:
        The normalised array, shaped like `x`.
    """
    x, (gamma, beta, mean, variance) = _check_batchnorm_inputs(
        x, ("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean), ("moving_variance", moving_variance)
    )
    epsilon = check_number(epsilon, "epsilon", low=0)
    if (variance < 0).any():
        raise ValueError(f"`moving_variance` must be non-negative; received moving_variance={variance.tolist()}.")
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def update_moving_statistics(moving_mean, moving_variance, batch_mean, batch_variance, momentum=0.99):
    """One update of the moving statistics, as Keras's BatchNormalization does it.

    `moving = momentum * moving + (1 - momentum) * batch`, for the mean and the
    variance; they start at 0 and 1.

    Returns:
        `(moving_mean, moving_variance)`, new arrays.
    """
    momentum = check_number(momentum, "momentum", 0, 1)
    arrays = {name: np.asarray(value) for name, value in (
        ("moving_mean", moving_mean), ("moving_variance", moving_variance),
        ("batch_mean", batch_mean), ("batch_variance", batch_variance),
    )}
    shapes = {name: array.shape for name, array in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"The four statistics must have the same shape, one value per channel; received {shapes}.")
    return (
        momentum * arrays["moving_mean"] + (1 - momentum) * arrays["batch_mean"],
        momentum * arrays["moving_variance"] + (1 - momentum) * arrays["batch_variance"],
    )


def batchnorm_backward(dout, cache):
    """Backward pass of `batchnorm_forward` (training mode).

    With `m` values per channel and `dx_hat = dout * gamma`, the chain rule
    through the batch's mean and variance (both depend on every `x`) gives
    `dx = inv_std / m * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))`,
    `dgamma = sum(dout * x_hat)` and `dbeta = sum(dout)` (sums over all axes
    but the channel's).

    Args:
        dout: gradient w.r.t. the forward output, shaped like `x`.
        cache: the `cache` that `batchnorm_forward` returned.

    Returns:
        `(dx, dgamma, dbeta)` with the shapes of `x`, `(C,)` and `(C,)`.
    """
    if not isinstance(cache, dict) or not {"x_hat", "inv_std", "gamma"} <= set(cache):
        raise TypeError(
            "`cache` must be the dict that batchnorm_forward returned (with 'x_hat', 'inv_std' and 'gamma'); "
            f"received {type(cache).__name__}."
        )
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    dout = np.asarray(dout, dtype=x_hat.dtype)
    if dout.shape != x_hat.shape:
        raise ValueError(f"`dout` must have the forward output's shape {x_hat.shape}; received {dout.shape}.")
    axes = tuple(range(dout.ndim - 1))
    m = x_hat.size // x_hat.shape[-1]
    dgamma = (dout * x_hat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    dx_hat = dout * gamma
    dx = inv_std / m * (m * dx_hat - dx_hat.sum(axis=axes) - x_hat * (dx_hat * x_hat).sum(axis=axes))
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# The conv layer as a dense layer


def flatten_volume(x):
    """Flattens a volume the lecture's way: channel by channel, column by column.

    Each channel `x[:, :, c]` is read column by column (the left-most column
    first, each column top to bottom, i.e. column-major order) and the channels
    are stacked one after the other:
    `v = concatenate([x[:, :, c].flatten(order="F") for c in range(C)])`,
    so `x[i, j, c]` lands at `v[c * H * W + j * H + i]`.

    Args:
        x: `(H, W, C)` volume, or `(N, H, W, C)` batch (each flattened).

    Returns:
        `(H * W * C,)` vector, or `(N, H * W * C)` for a batch.

    Example:

    >>> x = np.arange(4).reshape(2, 2, 1)  # [[0, 1], [2, 3]]
    >>> flatten_volume(x).tolist()
    [0, 2, 1, 3]
    """
    x = np.asarray(x)
    if x.ndim == 3:
        return x.transpose(2, 1, 0).reshape(-1)
    if x.ndim == 4:
        return x.transpose(0, 3, 2, 1).reshape(x.shape[0], -1)
    raise ValueError(f"`x` must have shape (H, W, C) or (N, H, W, C); received shape {x.shape}.")


def unflatten_volume(v, shape):
    """Inverse of `flatten_volume`.

    Args:
        v: `(H * W * C,)` vector, or `(N, H * W * C)` batch of vectors.
        shape: `(H, W, C)`, the volume's shape.

    Returns:
        `(H, W, C)` volume, or `(N, H, W, C)` for a batch.

    Example:

    >>> unflatten_volume(np.array([0, 2, 1, 3]), (2, 2, 1))[:, :, 0].tolist()
    [[0, 1], [2, 3]]
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise ValueError(f"`shape` must be a tuple (H, W, C); received shape={shape!r}.")
    height, width, channels = (check_positive_int(s, "shape") for s in shape)
    v = np.asarray(v)
    size = height * width * channels
    if v.ndim not in (1, 2) or v.shape[-1] != size:
        raise ValueError(
            f"`v` must have shape ({size},) or (N, {size}) for shape={tuple(shape)}; "
            f"received shape {v.shape}."
        )
    if v.ndim == 1:
        return v.reshape(channels, width, height).transpose(2, 1, 0)
    return v.reshape(-1, channels, width, height).transpose(0, 3, 2, 1)


def conv_to_dense(kernel, bias, input_shape, sparse=False):
    """The dense layer `(W, b)` that computes a valid, stride-1 conv layer.

    A conv layer is a dense layer whose weight matrix is mostly zero (each
    output reads only a `kh x kw x C` window) and whose non-zero weights are
    shared (every output of a filter uses the same kernel). With volumes
    flattened by `flatten_volume`,
    `W @ flatten_volume(x) + b == flatten_volume(conv2d_forward(x[None], kernel, bias)[0])`.

    Args:
        kernel: `(kh, kw, C, F)`, Keras's layout.
        bias: `(F,)` or None (zeros).
        input_shape: `(H, W, C)` of the input volume.
        sparse: if True, `W` is a `scipy.sparse.csr_array` (it has only
            `H' * W' * F * kh * kw * C` non-zeros out of
            `H' * W' * F * H * W * C`); if False, a dense NumPy array.

    Returns:
        `(W, b)`: `W` of shape `(H' * W' * F, H * W * C)` and `b` of shape
        `(H' * W' * F,)`, with `H' = H - kh + 1`, `W' = W - kw + 1`.

    Example:

    >>> W, b = conv_to_dense(np.ones((2, 2, 1, 1)), None, (3, 3, 1))
    >>> W.shape, int((W != 0).sum())
    ((4, 9), 16)
    """
    kernel = _as_float_array(kernel, "kernel", 4)
    kh, kw, channels, filters = kernel.shape
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be a tuple (H, W, C); received input_shape={input_shape!r}."
        )
    height, width, in_channels = (check_positive_int(s, "input_shape") for s in input_shape)
    if in_channels != channels:
        raise ValueError(
            f"`input_shape` has {in_channels} channels but `kernel` expects {channels}; "
            f"received input_shape={tuple(input_shape)}, kernel.shape={kernel.shape}."
        )
    out_h = output_size(height, kh, "valid")
    out_w = output_size(width, kw, "valid")
    if bias is None:
        bias = np.zeros(filters, kernel.dtype)
    bias = _as_float_array(bias, "bias", 1)
    if bias.shape != (filters,):
        raise ValueError(
            f"`bias` must have shape ({filters},), one value per filter; received shape {bias.shape}."
        )
    # Indices of every (output row p, output column q, channel c, filter f).
    p, q, c, f = np.meshgrid(
        np.arange(out_h), np.arange(out_w), np.arange(channels), np.arange(filters), indexing="ij"
    )
    out_index = f * out_h * out_w + q * out_h + p  # flatten_volume's order
    rows, cols, values = [], [], []
    for i in range(kh):
        for j in range(kw):
            rows.append(out_index.ravel())
            cols.append((c * height * width + (q + j) * height + (p + i)).ravel())
            values.append(np.broadcast_to(kernel[i, j][None, None], p.shape).ravel())
    rows, cols, values = (np.concatenate(a) for a in (rows, cols, values))
    shape = (out_h * out_w * filters, height * width * channels)
    b = np.repeat(bias, out_h * out_w).astype(np.result_type(kernel, bias), copy=False)
    if sparse:
        import scipy.sparse

        return scipy.sparse.csr_array((values, (rows, cols)), shape=shape), b
    dense = np.zeros(shape, kernel.dtype)
    dense[rows, cols] = values
    return dense, b
