"""Interactive explorers of convolution and receptive fields (ipywidgets).

Two widgets for a live Jupyter kernel, each a thin layer of controls over a
pure function that computes everything the widget shows:

- `ConvolutionExplorer` over `convolution_step`: a kernel slides over an
  image with a stride, a padding and a dilation; the widget shows the window,
  the products, their sum and the output map filled up to the current
  position, and the output size from the course's formula.
- `ReceptiveFieldExplorer` over `receptive_field_stack`: a stack of
  convolutions and poolings; the widget tabulates the receptive field, the
  jump and the start of every layer, and outlines the field of one output
  unit on an image.

The pictures come from `plot_convolution_step` and `plot_receptive_field_stack`,
plain matplotlib functions, so that a notebook can draw the same picture
statically next to a widget, for readers without a kernel (a notebook on GitHub,
a static website): a widget needs a running Python kernel to recompute, and even
its saved state renders only through the widget manager's JavaScript, which
notebook viewers and Sphinx load from a CDN.

`ipywidgets` is imported when a widget is built, not with this module: the
pure functions and the plots need NumPy and matplotlib only. Without it, building
a widget says to install the `widgets` extra (`pip install "cnn-course[widgets]"`).
"""

import dataclasses
import io
import typing

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course_lib._checks import check_choice, check_int_pair, check_positive_int, is_int
from course_lib._optional import import_optional
from course_lib.ops import PADDINGS, output_size, padding_amounts, receptive_field_step

__all__ = [
    "CLASSIC_KERNELS",
    "CUSTOM",
    "LAYER_KINDS",
    "LAYER_PADDINGS",
    "kernel_from_text",
    "kernel_to_text",
    "default_image",
    "ConvolutionStep",
    "convolution_step",
    "plot_convolution_step",
    "ConvolutionExplorer",
    "FieldRow",
    "receptive_field_stack",
    "plot_receptive_field_stack",
    "ReceptiveFieldExplorer",
]

_SOBEL_Y = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 4
_IDENTITY = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])

# The hand-made kernels of notebook 02 (section 5), 3x3 so that every step of
# the explorer fits on screen. Sobel kernels are normalised as scikit-image's.
CLASSIC_KERNELS = {
    "identity": _IDENTITY,
    "box_blur": np.ones((3, 3)) / 9,
    "sharpen": 2 * _IDENTITY - np.ones((3, 3)) / 9,
    "sobel_x": _SOBEL_Y.T,
    "sobel_y": _SOBEL_Y,
    "laplacian": np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
}
CUSTOM = "custom"  # the kernel dropdown's entry for typed values
LAYER_KINDS = ("conv", "pool")
LAYER_PADDINGS = ("valid", "same")  # Keras's: Conv2D and the poolings have no "full"


# ---------------------------------------------------------------------------
# Argument checks


def _as_matrix(value, name):
    """Returns `value` as a non-empty 2-D float64 array of finite real numbers."""
    array = np.asarray(value)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"`{name}` must hold real numbers; received dtype {array.dtype}.")
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 2-D array; received shape {array.shape}.")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite numbers; it holds NaN or infinity.")
    return array


def _as_kernel(kernel):
    """A kernel given by name (`CLASSIC_KERNELS`) or by its values."""
    if isinstance(kernel, str):
        check_choice(kernel, "kernel", tuple(CLASSIC_KERNELS))
        return CLASSIC_KERNELS[kernel].copy()
    return _as_matrix(kernel, "kernel")


def kernel_from_text(text):
    """Parses typed kernel values: rows separated by `;` or new lines.

    Args:
        text: a string such as `"1 0 -1; 2 0 -2; 1 0 -1"`; the values of a
            row are separated by spaces or commas.

    Returns:
        A 2-D float64 array.

    Raises:
        ValueError: a value is not a number, the rows have different lengths,
            or there is no value.

    Example:

    >>> kernel_from_text("1, 0, -1; 2 0 -2").tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0]]
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a string; received {type(text).__name__}.")
    lines = [line for line in text.replace(";", "\n").splitlines() if line.strip()]
    try:
        rows = [[float(v) for v in line.replace(",", " ").split()] for line in lines]
    except ValueError:
        raise ValueError(
            f"`text` must hold numbers, rows separated by ';', e.g. '1 0 -1; 2 0 -2'; received {text!r}."
        ) from None
    if not rows or len({len(row) for row in rows}) != 1:
        raise ValueError(
            f"`text` must hold rows of equal length, separated by ';', e.g. '1 0 -1; 2 0 -2'; received {text!r}."
        )
    return _as_matrix(rows, "text")


def kernel_to_text(kernel):
    """Writes a kernel's values as `kernel_from_text` reads them.

    Example:

    >>> kernel_to_text([[1, 0], [0.25, -1]])
    '1 0; 0.25 -1'
    """
    return "; ".join(" ".join(f"{v:.4g}" for v in row) for row in _as_matrix(kernel, "kernel"))


def default_image():
    """A small synthetic image: a bright 4x4 square on a ramp, 8x8 pixels.

    Its edges light up under the Sobel kernels and it is small enough for
    every pixel's value to be written on the picture.

    Example:

    >>> default_image().shape
    (8, 8)
    """
    image = np.tile(np.linspace(0.0, 0.5, 8), (8, 1))
    image[2:6, 2:6] = 1.0
    return image


# ---------------------------------------------------------------------------
# Convolution, one step at a time


def _size_formula(n, k, padding, stride, dilation, size):
    """The output size along one axis, written out with the course's formula."""
    k_eff = dilation * (k - 1) + 1
    prefix = f"k_eff = {dilation}({k} - 1) + 1 = {k_eff}; " if dilation > 1 else ""
    if padding == "valid":
        return f"{prefix}floor(({n} - {k_eff}) / {stride}) + 1 = {size}"
    if padding == "same":
        return f"{prefix}ceil({n} / {stride}) = {size}"
    return f"{prefix}floor(({n} + {k_eff} - 2) / {stride}) + 1 = {size}"


def _readable(value):
    """`value` rounded to 12 decimals: float rounding (1e-17 for 0) is not worth reading."""
    return round(float(value), 12) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclasses.dataclass(frozen=True, eq=False)  # arrays have no single truth value
class ConvolutionStep:
    """One position of a kernel sliding over an image (see `convolution_step`).

    Attributes:
        image: the input, `(H, W)`.
        kernel: the kernel, `(kh, kw)`.
        padding, stride, dilation: the settings (`stride` and `dilation` as
            `(rows, cols)` pairs).
        padded: the zero-padded input.
        padding_before: `(top, left)`, zero rows and columns before the input.
        position: the flat output index, `row * output_cols + col`.
        index: `(row, col)` of the output unit computed at this step.
        rows, cols: the window's row and column coordinates in `padded`, one
            per kernel row and column (`dilation` apart).
        window: the `(kh, kw)` input values under the kernel.
        products: `window * kernel`.
        value: the output unit, the sum of `products`.
        output: the output map, NaN at the positions after this one.
        value_range: `(min, max)` of the whole output map, so that pictures of
            successive steps share one colour scale.
        effective_kernel_size: `(rows, cols)` covered by the dilated kernel,
            `d * (k - 1) + 1`.
        size_formulas: the output rows and columns, each written out with the
            formula of `course_lib.ops.output_size`.
    """

    image: np.ndarray
    kernel: np.ndarray
    padding: str
    stride: tuple
    dilation: tuple
    padded: np.ndarray
    padding_before: tuple
    position: int
    index: tuple
    rows: np.ndarray
    cols: np.ndarray
    window: np.ndarray
    products: np.ndarray
    value: float
    output: np.ndarray
    value_range: tuple
    effective_kernel_size: tuple
    size_formulas: tuple

    @property
    def output_shape(self):
        """`(rows, cols)` of the output map."""
        return self.output.shape

    @property
    def is_last(self):
        """Whether this step completes the output map."""
        return self.position == self.output.size - 1

    @property
    def expression(self):
        """The step in words, e.g. `"out[0, 1] = sum of 9 products = 3.25"`."""
        return (
            f"out[{self.index[0]}, {self.index[1]}] = sum of {self.products.size} products "
            f"= {_readable(self.value):.4g}"
        )


def convolution_step(image, kernel, position=0, stride=1, padding="valid", dilation=1):
    """Computes one position of a 2-D cross-correlation, and the map up to it.

    The kernel slides over the zero-padded image as a `Conv2D` layer's does
    (a correlation: no flip); output units are computed row by row, and
    `position` counts them from 0. The padding follows `course_lib.ops`
    (Keras's `"same"`, SciPy's `"full"`), so that the last step's map equals
    `ops.correlate2d(image, kernel, padding, stride)` for `dilation=1`.

    A dilation `d` spreads the kernel's taps `d` pixels apart: the kernel
    covers `k_eff = d * (k - 1) + 1` pixels, which is the size that enters
    the padding and `ops.output_size` (which has no dilation argument), and
    the result equals a correlation with the kernel with `d - 1` zeros
    inserted between its taps.

    Args:
        image: 2-D array `(H, W)` of real numbers.
        kernel: 2-D array `(kh, kw)`, or the name of one of `CLASSIC_KERNELS`.
        position: int, the output unit to compute, counted row by row from 0;
            negative values count from the end (-1: the last one).
        stride: positive int or pair `(rows, cols)`.
        padding: one of `"valid"`, `"same"`, `"full"`.
        dilation: positive int or pair `(rows, cols)`.

    Returns:
        A `ConvolutionStep`.

    Example:

    >>> step = convolution_step(np.arange(16.0).reshape(4, 4), np.ones((2, 2)), position=1)
    >>> step.expression
    'out[0, 1] = sum of 4 products = 14'
    >>> step.output.tolist()
    [[10.0, 14.0, nan], [nan, nan, nan], [nan, nan, nan]]
    """
    image = _as_matrix(image, "image")
    kernel = _as_kernel(kernel)
    check_choice(padding, "padding", PADDINGS)
    stride = check_int_pair(stride, "stride")
    dilation = check_int_pair(dilation, "dilation")
    k_eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel.shape))
    if padding == "valid" and (k_eff[0] > image.shape[0] or k_eff[1] > image.shape[1]):
        raise ValueError(
            f"The kernel must fit in `image` with padding='valid': a {kernel.shape[0]}x{kernel.shape[1]} "
            f"kernel with dilation {dilation} covers {k_eff[0]}x{k_eff[1]} pixels; "
            f"received image.shape={image.shape}."
        )
    shape = tuple(output_size(n, k, padding, s) for n, k, s in zip(image.shape, k_eff, stride))
    count = shape[0] * shape[1]
    if not is_int(position) or not -count <= position < count:
        raise ValueError(
            f"`position` must be an int in [0, {count}) (the output has {shape[0]}x{shape[1]} units), "
            f"or negative to count from the end; received position={position!r}."
        )
    position = int(position) % count

    (top, bottom), (left, right) = (
        padding_amounts(n, k, padding, s) for n, k, s in zip(image.shape, k_eff, stride)
    )
    padded = np.pad(image, ((top, bottom), (left, right)))
    # Every window of the dilated kernel's extent, keeping the taps only: (H', W', kh, kw).
    windows = sliding_window_view(padded, k_eff)[:: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]
    full_map = (windows * kernel).sum(axis=(2, 3))
    assert full_map.shape == shape  # the formula and the windows agree

    index = divmod(position, shape[1])
    rows = index[0] * stride[0] + dilation[0] * np.arange(kernel.shape[0])
    cols = index[1] * stride[1] + dilation[1] * np.arange(kernel.shape[1])
    window = padded[np.ix_(rows, cols)]
    output = np.full(shape, np.nan)
    output.flat[: position + 1] = full_map.flat[: position + 1]
    formulas = tuple(
        _size_formula(n, k, padding, s, d, o)
        for n, k, s, d, o in zip(image.shape, kernel.shape, stride, dilation, shape)
    )
    return ConvolutionStep(
        image=image,
        kernel=kernel,
        padding=padding,
        stride=stride,
        dilation=dilation,
        padded=padded,
        padding_before=(top, left),
        position=position,
        index=index,
        rows=rows,
        cols=cols,
        window=window,
        products=window * kernel,
        value=float(full_map[index]),
        output=output,
        value_range=(float(full_map.min()), float(full_map.max())),
        effective_kernel_size=k_eff,
        size_formulas=formulas,
    )


def _annotate(ax, array, shown, limit=10):
    """Writes each value on its pixel, when the array is small enough to read.

    `shown` is the `AxesImage` that draws `array`: the text is black on light
    pixels and white on dark ones.
    """
    if max(array.shape) > limit:
        return
    for (r, c), value in np.ndenumerate(array):
        if np.isfinite(value):
            red, green, blue, _ = shown.cmap(shown.norm(value))
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
            ax.text(c, r, f"{_readable(value):.2g}", ha="center", va="center", fontsize=6.5,
                    color="black" if light else "white")


def _integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_convolution_step(step, figure=None):
    """Draws a `ConvolutionStep`: the window on the input, the kernel, the output so far.

    Left, the padded input (its zeros outside the dashed frame of the image)
    with the window's taps outlined; middle, the kernel; right, the output map
    computed up to this step, the current unit outlined. Values are written on
    the pixels of arrays of at most 10x10.

    Args:
        step: a `ConvolutionStep`.
        figure: a matplotlib `Figure` to draw on (its contents are cleared);
            None creates one with `matplotlib.pyplot`.

    Returns:
        The `Figure`; its suptitle is the step's `expression`.

    Example:

    >>> figure = plot_convolution_step(convolution_step(default_image(), "sobel_x"))
    >>> figure.axes[2].get_title()
    'output 6x6: out[0, 0]'
    """
    import matplotlib.patches as mpatches

    if not isinstance(step, ConvolutionStep):
        raise TypeError(f"`step` must be a ConvolutionStep; received {type(step).__name__}.")
    if figure is None:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(11, 3.8))
    figure.clear()
    axes = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 0.6, 1]})
    if figure.get_layout_engine() is None:  # the widgets' figures: a fixed layout is faster
        figure.subplots_adjust(left=0.06, right=0.98, bottom=0.14, top=0.84, wspace=0.3)
    low, high = np.min(step.image), np.max(step.image)

    ax = axes[0]
    shown = ax.imshow(step.padded, cmap="gray", vmin=min(low, 0.0), vmax=max(high, low + 1e-12))
    _annotate(ax, step.padded, shown)
    top, left = step.padding_before
    rows, cols = step.image.shape
    ax.add_patch(mpatches.Rectangle((left - 0.5, top - 0.5), cols, rows, fill=False, edgecolor="tab:blue",
                                    linestyle="--", linewidth=1.5, label="image"))
    for r in step.rows:
        for c in step.cols:
            ax.add_patch(mpatches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=2))
    ax.set_title(f"input {rows}x{cols}, padding {step.padding!r}")
    ax.set_xlabel("column (padded input)")
    ax.set_ylabel("row (padded input)")

    ax = axes[1]
    limit = max(np.abs(step.kernel).max(), 1e-12)
    shown = ax.imshow(step.kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    _annotate(ax, step.kernel, shown)
    dilation = "" if step.dilation == (1, 1) else f", dilation {step.dilation[0]}"
    ax.set_title(f"kernel {step.kernel.shape[0]}x{step.kernel.shape[1]}{dilation}")
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")

    ax = axes[2]
    shown = ax.imshow(np.ma.masked_invalid(step.output), cmap="viridis", vmin=step.value_range[0],
                      vmax=max(step.value_range[1], step.value_range[0] + 1e-12))
    ax.set_facecolor("0.92")  # positions not computed yet
    _annotate(ax, step.output, shown)
    r, c = step.index
    ax.add_patch(mpatches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=2))
    ax.set_xlim(-0.5, step.output.shape[1] - 0.5)
    ax.set_ylim(step.output.shape[0] - 0.5, -0.5)
    ax.set_title(f"output {step.output.shape[0]}x{step.output.shape[1]}: out[{r}, {c}]")
    ax.set_xlabel("output column")
    ax.set_ylabel("output row")
    for ax in axes:
        _integer_ticks(ax)
    figure.suptitle(f"{step.expression}  (stride {step.stride[0]}, rows: {step.size_formulas[0]})")
    return figure


def _png(figure, dpi=80):
    """The figure as PNG bytes (drawn by Agg, without pyplot's global state)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class _Explorer:
    """What both explorers share: displaying as their ipywidgets container."""

    description = ""

    def _repr_mimebundle_(self, **kwargs):
        return {
            # What a page without a kernel shows instead of the widget.
            "text/plain": f"{type(self).__name__}: {self.description} (needs a live Jupyter kernel)",
            # The view of the container, in the format of ipywidgets' own bundle (schema 2.0).
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.widget.model_id,
            },
        }

    def _show(self, figure):
        self.figure = figure
        self.picture.value = _png(figure)


class ConvolutionExplorer(_Explorer):
    """A kernel sliding over an image, one output unit at a time (ipywidgets).

    Controls: `kernel` (a dropdown of `CLASSIC_KERNELS` and `"custom"`),
    `kernel_values` (typed values, e.g. `"1 0 -1; 2 0 -2; 1 0 -1"`; typing
    selects `"custom"`), `stride`, `padding`, `dilation` and `position` (the
    output unit, counted row by row; `play` steps through them). Every change
    recomputes `step = convolution_step(...)` and redraws
    `plot_convolution_step(step)` into `picture`; `label` shows the dot
    product and the output size written out with the course's formula. A
    setting that does not work (a kernel larger than the image with
    `"valid"` padding, values that do not parse) leaves the last step in place
    and writes the reason in `label` and `error`.

    Display the explorer as the last expression of a cell (it displays as its
    container, `widget`); the controls are attributes, so code can drive it
    too: `explorer.stride.value = 2`.

    Args:
        image: 2-D array `(H, W)`; defaults to `default_image()`.
        kernel: the name of one of `CLASSIC_KERNELS`, or a 2-D array of values.
        stride, padding, dilation, position: the initial settings, as in
            `convolution_step`.
        max_stride, max_dilation: the sliders' largest values.

    Attributes:
        step: the last `ConvolutionStep` computed.
        figure: the matplotlib `Figure` last drawn.
        error: the reason the last change was refused, or None.

    Example:

    >>> explorer = ConvolutionExplorer(kernel="box_blur")
    >>> explorer.stride.value = 2
    >>> explorer.step.output_shape, explorer.position.max
    ((3, 3), 8)
    """

    description = "a kernel sliding over an image, step by step"

    def __init__(self, image=None, kernel="sobel_x", stride=1, padding="valid", dilation=1, position=0,
                 max_stride=4, max_dilation=3):
        widgets = import_optional("ipywidgets", "ConvolutionExplorer")
        from matplotlib.figure import Figure

        self.image = default_image() if image is None else _as_matrix(image, "image")
        first = convolution_step(self.image, kernel, position, stride, padding, dilation)  # checks them all
        max_stride = check_positive_int(max_stride, "max_stride")
        max_dilation = check_positive_int(max_dilation, "max_dilation")
        if not (first.stride[0] == first.stride[1] <= max_stride and first.dilation[0] == first.dilation[1] <= max_dilation):
            raise ValueError(
                "`stride` and `dilation` must be single ints up to `max_stride` and `max_dilation`; "
                f"received stride={stride!r}, dilation={dilation!r}, max_stride={max_stride}, "
                f"max_dilation={max_dilation}."
            )
        self.step, self.error, self.figure = None, None, None
        self._figure = Figure(figsize=(11, 3.8), layout="none")  # no layout engine: faster
        named = isinstance(kernel, str)
        # The exact values of the custom kernel (the text shows 4 digits).
        self.custom_kernel = first.kernel
        self.kernel = widgets.Dropdown(options=[*CLASSIC_KERNELS, CUSTOM], value=kernel if named else CUSTOM,
                                       description="kernel")
        self.kernel_values = widgets.Text(value=kernel_to_text(first.kernel), description="values",
                                          continuous_update=False, layout=widgets.Layout(width="420px"))
        self.stride = widgets.IntSlider(value=first.stride[0], min=1, max=max_stride, description="stride")
        self.padding = widgets.Dropdown(options=PADDINGS, value=padding, description="padding")
        self.dilation = widgets.IntSlider(value=first.dilation[0], min=1, max=max_dilation, description="dilation")
        self.position = widgets.IntSlider(value=first.position, min=0, max=first.output.size - 1,
                                          description="position")
        self.play = widgets.Play(value=first.position, min=0, max=first.output.size - 1, interval=400,
                                 description="play")
        widgets.jslink((self.play, "value"), (self.position, "value"))
        self.label = widgets.HTML()
        self.picture = widgets.Image(format="png")
        self.widget = widgets.VBox([
            widgets.HBox([self.kernel, self.kernel_values]),
            widgets.HBox([self.stride, self.padding, self.dilation]),
            widgets.HBox([self.play, self.position]),
            self.label,
            self.picture,
        ])
        self._busy = False  # set while one change updates other controls
        self.kernel.observe(self._on_kernel_choice, names="value")
        self.kernel_values.observe(self._on_kernel_values, names="value")
        for control in (self.stride, self.padding, self.dilation, self.position):
            control.observe(self._on_setting, names="value")
        self.update()

    def _on_kernel_choice(self, change):
        if self._busy:
            return
        self._busy = True
        self.kernel_values.value = kernel_to_text(self.current_kernel())
        self._busy = False
        self.update()

    def _on_kernel_values(self, change):
        if self._busy:
            return
        try:
            self.custom_kernel = kernel_from_text(change["new"])
        except ValueError as error:
            self._refuse(error)
            return
        self._busy = True
        self.kernel.value = CUSTOM
        self._busy = False
        self.update()

    def _refuse(self, error):
        self.error = str(error)
        self.label.value = f"<span style='color:#b00'>{self.error}</span>"

    def _on_setting(self, change):
        if not self._busy:
            self.update()

    def current_kernel(self):
        """The kernel the controls select: a classic one, or the typed values."""
        if self.kernel.value == CUSTOM:
            return self.custom_kernel
        return CLASSIC_KERNELS[self.kernel.value]

    def update(self):
        """Recomputes the step from the controls and redraws; returns the step."""
        try:
            step = convolution_step(self.image, self.current_kernel(), 0, self.stride.value, self.padding.value,
                                    self.dilation.value)
            last = step.output.size - 1
            self._busy = True  # the position's range follows the output's size
            self.position.max = self.play.max = last
            self._busy = False
            step = convolution_step(self.image, step.kernel, min(self.position.value, last), self.stride.value,
                                    self.padding.value, self.dilation.value)
        except ValueError as error:
            self._busy = False
            self._refuse(error)
            return self.step
        self.step, self.error = step, None
        products = " + ".join(f"{_readable(w):.3g}×{_readable(k):.3g}" for w, k in zip(step.window.flat, step.kernel.flat))
        self.label.value = (
            f"<b>{step.expression}</b><br><small>{products}</small><br>"
            f"output {step.output_shape[0]}x{step.output_shape[1]}: rows {step.size_formulas[0]}, "
            f"columns {step.size_formulas[1]}"
        )
        self._show(plot_convolution_step(step, self._figure))
        return step


# ---------------------------------------------------------------------------
# Receptive fields of a stack of layers


class FieldRow(typing.NamedTuple):
    """One row of `receptive_field_stack`, along one axis.

    Attributes:
        layer: `"input"`, or the layer's kind and number, e.g. `"conv1"`.
        kind: `"input"`, `"conv"` or `"pool"`.
        kernel, stride, dilation: the window (None for the input).
        padding: `"valid"` or `"same"` (None for the input).
        output_size: the layer's output rows (None if the input size is unknown).
        field: input pixels one unit sees.
        jump: input pixels between neighbouring units.
        start: input coordinate of the centre of unit 0's field (None when it
            depends on an unknown input size).
    """

    layer: str
    kind: str
    kernel: typing.Optional[int]
    stride: typing.Optional[int]
    dilation: typing.Optional[int]
    padding: typing.Optional[str]
    output_size: typing.Optional[int]
    field: int
    jump: int
    start: typing.Optional[float]


def _layer_spec(spec, i):
    """A layer given as `(kernel, stride)` or a dict, as `(kind, kernel, stride, dilation, padding)`."""
    name = f"layers[{i}]"
    expected = (
        f"`{name}` must be a pair (kernel, stride) of positive ints, or a dict with 'kind' ('conv' or 'pool'), "
        "'kernel' and optionally 'stride', 'padding' ('valid' or 'same') and 'dilation' (conv only)"
    )
    if isinstance(spec, dict):
        unknown = set(spec) - {"kind", "kernel", "stride", "padding", "dilation"}
        if unknown or "kernel" not in spec:
            raise ValueError(f"{expected}; received {name}={spec!r}.")
        kind = check_choice(spec.get("kind", "conv"), f"{name}['kind']", LAYER_KINDS)
        kernel = check_positive_int(spec["kernel"], f"{name}['kernel']")
        # Keras's poolings step by their window unless told otherwise.
        stride = check_positive_int(spec.get("stride", kernel if kind == "pool" else 1), f"{name}['stride']")
        padding = check_choice(spec.get("padding", "valid"), f"{name}['padding']", LAYER_PADDINGS)
        dilation = check_positive_int(spec.get("dilation", 1), f"{name}['dilation']")
        if kind == "pool" and dilation != 1:
            raise ValueError(f"`{name}` is a pooling, which has no dilation; received {name}={spec!r}.")
        return kind, kernel, stride, dilation, padding
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and all(is_int(v) and v >= 1 for v in spec):
        return "conv", int(spec[0]), int(spec[1]), 1, "valid"
    raise ValueError(f"{expected}; received {name}={spec!r}.")


def receptive_field_stack(layers, input_size=None):
    """Receptive field, jump and start after each layer of a stack, along one axis.

    The three rules of `course_lib.receptive_field` (its module docstring
    derives them), for a chain of windows: with `k_eff = d * (k - 1) + 1`,

        field_out = field_in + (k_eff - 1) * jump_in
        jump_out  = jump_in * stride
        start_out = start_in + ((k_eff - 1) / 2 - pad_before) * jump_in

    where `pad_before` is the number of zeros Keras puts before the input
    (none for `"valid"`; for `"same"`, the smaller half of what
    `ceil(n / stride)` outputs need). Each layer is one call of
    `course_lib.ops.receptive_field_step`, the function that
    `receptive_field(model)` applies to every window of a Keras model, so both
    give the same rows for a model built from these layers (`Conv2D` and
    `MaxPooling2D`); this function needs no model (nor Keras), so a widget can
    call it at every change.

    Args:
        layers: a list of layers, each a pair `(kernel, stride)` (a convolution
            with `"valid"` padding) or a dict with the keys `kind` (`"conv"`
            or `"pool"`), `kernel`, and optionally `stride` (default 1 for a
            convolution, the window for a pooling, as in Keras), `padding`
            (`"valid"` or `"same"`, default `"valid"`) and `dilation`
            (convolutions only, default 1).
        input_size: the input's rows (or columns), or None if unknown: then
            the output sizes are None, and so is the start after a `"same"`
            layer with a stride above 1, whose padding depends on the size.

    Returns:
        A list of `FieldRow`, the input first (field 1, jump 1, start 0), one
        per layer after it.

    Raises:
        ValueError: a layer is not as described, or a `"valid"` window does
            not fit in its input.

    Example:

    >>> rows = receptive_field_stack([(5, 1), {"kind": "pool", "kernel": 2}, (5, 1)], input_size=28)
    >>> [(row.layer, row.field, row.jump, row.output_size) for row in rows]
    [('input', 1, 1, 28), ('conv1', 5, 1, 24), ('pool2', 6, 2, 12), ('conv3', 14, 2, 8)]
    """
    if not isinstance(layers, (list, tuple)):
        raise ValueError(f"`layers` must be a list of layers; received {type(layers).__name__}.")
    size = check_positive_int(input_size, "input_size", allow_none=True)
    field, jump, start = 1, 1, 0.0
    rows = [FieldRow("input", "input", None, None, None, None, size, field, jump, start)]
    for i, spec in enumerate(layers):
        kind, kernel, stride, dilation, padding = _layer_spec(spec, i)
        k_eff = dilation * (kernel - 1) + 1
        if size is not None and padding == "valid" and k_eff > size:
            raise ValueError(
                f"`layers[{i}]` ({kind}, window {k_eff}) does not fit in its input of {size} pixels "
                "with padding='valid': use 'same' padding, a larger input or fewer layers."
            )
        field, jump, start = receptive_field_step(field, jump, start, k_eff, stride, padding, size)
        size = None if size is None else output_size(size, k_eff, padding, stride)
        rows.append(FieldRow(f"{kind}{i + 1}", kind, kernel, stride, dilation, padding, size, field, jump, start))
    return rows


def plot_receptive_field_stack(image, rows, cols=None, unit=None, figure=None):
    """Draws the receptive field of one unit of a stack's last layer on an image.

    Left, the image with the unit's field (red; the part past the border is
    padding) and the field centres of all units of the last layer (dots, one
    jump apart); right, the field per layer.

    Args:
        image: 2-D array `(H, W)`, the input.
        rows: `receptive_field_stack(layers, H)`, along the rows.
        cols: `receptive_field_stack(layers, W)`, along the columns; defaults
            to `rows` (a square image).
        unit: `(row, col)` of the unit in the last layer's output; defaults
            to the central one.
        figure: a matplotlib `Figure` to draw on (cleared first); None creates
            one with `matplotlib.pyplot`.

    Returns:
        The `Figure`.

    Example:

    >>> rows = receptive_field_stack([(3, 1), (3, 2)], input_size=16)
    >>> plot_receptive_field_stack(np.zeros((16, 16)), rows).axes[0].get_title()
    'conv2 unit (2, 2): field 5x5, jump 2'
    """
    import matplotlib.patches as mpatches

    image = _as_matrix(image, "image")
    cols = rows if cols is None else cols
    for name, axis_rows, n in (("rows", rows, image.shape[0]), ("cols", cols, image.shape[1])):
        is_table = isinstance(axis_rows, list) and axis_rows and all(isinstance(r, FieldRow) for r in axis_rows)
        if not is_table or axis_rows[0].output_size != n:
            raise ValueError(
                f"`{name}` must be the list of FieldRow that receptive_field_stack(layers, {n}) returns "
                f"for the image's {n} {name}; received {axis_rows!r:.200}."
            )
    last_row, last_col = rows[-1], cols[-1]
    grid = (last_row.output_size, last_col.output_size)
    unit = ((grid[0] - 1) // 2, (grid[1] - 1) // 2) if unit is None else tuple(unit)
    if len(unit) != 2 or not all(is_int(u) and 0 <= u < g for u, g in zip(unit, grid)):
        raise ValueError(f"`unit` must be (row, col) inside the last layer's {grid[0]}x{grid[1]} output; "
                         f"received unit={unit!r}.")
    centre = (last_row.start + unit[0] * last_row.jump, last_col.start + unit[1] * last_col.jump)
    if figure is None:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(11, 4.2))
    figure.clear()
    axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
    if figure.get_layout_engine() is None:  # the widgets' figures: a fixed layout is faster
        figure.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.92, wspace=0.2)

    ax = axes[0]
    ax.imshow(image, cmap="gray")
    ax.add_patch(mpatches.Rectangle((centre[1] - last_col.field / 2, centre[0] - last_row.field / 2),
                                    last_col.field, last_row.field, fill=False, edgecolor="tab:red", linewidth=2))
    centres_r = last_row.start + last_row.jump * np.arange(grid[0])
    centres_c = last_col.start + last_col.jump * np.arange(grid[1])
    grid_r, grid_c = np.meshgrid(centres_r, centres_c, indexing="ij")
    ax.scatter(grid_c.ravel(), grid_r.ravel(), s=6, color="tab:orange", label="unit centres")
    ax.scatter([centre[1]], [centre[0]], marker="x", s=60, color="tab:red", label=f"unit {unit}")
    # Show the whole field, also where it hangs over the border (padding).
    ax.set_xlim(min(-0.5, centre[1] - last_col.field / 2) - 0.5, max(image.shape[1] - 0.5, centre[1] + last_col.field / 2) + 0.5)
    ax.set_ylim(max(image.shape[0] - 0.5, centre[0] + last_row.field / 2) + 0.5, min(-0.5, centre[0] - last_row.field / 2) - 0.5)
    ax.set_title(f"{last_row.layer} unit {unit}: field {last_row.field}x{last_col.field}, jump {last_row.jump}")
    ax.set_xlabel("column (input pixels)")
    ax.set_ylabel("row (input pixels)")
    ax.legend(loc="lower right", fontsize="x-small")

    ax = axes[1]
    positions = np.arange(len(rows))
    ax.bar(positions, [r.field for r in rows], color=["0.6"] + ["tab:blue" if r.kind == "conv" else "tab:orange" for r in rows[1:]])
    for x, row in zip(positions, rows):
        ax.text(x, row.field, f"jump {row.jump}", ha="center", va="bottom", fontsize="small")
    ax.axhline(image.shape[0], color="black", linestyle="--", linewidth=1, label=f"image rows ({image.shape[0]})")
    ax.set_xticks(positions, [r.layer for r in rows])
    ax.set_xlabel("layer (blue: convolution, orange: pooling)")
    ax.set_ylabel("receptive field (input rows)")
    ax.set_title("field and jump per layer")
    ax.legend(loc="upper left", fontsize="small")
    return figure


class ReceptiveFieldExplorer(_Explorer):
    """A stack of convolutions and poolings and the field of one unit (ipywidgets).

    Controls: `layer_count` (how many of the layer slots are used) and, per
    slot `i`, `kinds[i]` (`"conv"` or `"pool"`), `kernels[i]`, `strides[i]`
    and `paddings[i]`; `unit_row` and `unit_col` choose a unit of the last
    layer. Every change recomputes `receptive_field_stack` along the rows and
    the columns of the image (`rows`, `cols`), fills `table` (HTML: output
    size, field, jump, start per layer) and redraws
    `plot_receptive_field_stack` into `picture`. A stack that does not fit the
    image (a `"valid"` window larger than its input) leaves the last result in
    place and writes the reason in `error` and `table`.

    Display the explorer as the last expression of a cell; the controls are
    attributes, so code can drive it too: `explorer.strides[0].value = 2`.

    Args:
        image: 2-D array `(H, W)`; defaults to a 32x32 pattern of rings.
        layers: the initial layers, as `receptive_field_stack` takes them
            (dicts or `(kernel, stride)` pairs, no dilation); defaults to
            LeNet-5's feature extractor (5x5 "same" convolution, 2x2 pooling,
            5x5 convolution, 2x2 pooling).
        max_layers: the number of layer slots.
        max_kernel, max_stride: the sliders' largest values.

    Attributes:
        rows, cols: the last `receptive_field_stack` results (lists of
            `FieldRow`), along the rows and the columns.
        figure: the matplotlib `Figure` last drawn.
        error: the reason the last change was refused, or None.

    Example:

    >>> explorer = ReceptiveFieldExplorer(layers=[(3, 1), (3, 1)])
    >>> explorer.rows[-1].field
    5
    >>> explorer.kernels[1].value = 5
    >>> explorer.rows[-1].field
    7
    """

    description = "the receptive field of a stack of convolutions and poolings"

    def __init__(self, image=None, layers=None, max_layers=4, max_kernel=7, max_stride=4):
        widgets = import_optional("ipywidgets", "ReceptiveFieldExplorer")
        from matplotlib.figure import Figure

        if image is None:
            distance = np.hypot(*np.meshgrid(np.arange(32) - 15.5, np.arange(32) - 15.5))
            image = np.cos(distance / 2)
        self.image = _as_matrix(image, "image")
        if layers is None:
            layers = [{"kind": "conv", "kernel": 5, "padding": "same"}, {"kind": "pool", "kernel": 2},
                      {"kind": "conv", "kernel": 5}, {"kind": "pool", "kernel": 2}]
        max_layers = check_positive_int(max_layers, "max_layers")
        max_kernel = check_positive_int(max_kernel, "max_kernel")
        max_stride = check_positive_int(max_stride, "max_stride")
        receptive_field_stack(layers, self.image.shape[0])  # checks them
        specs = [_layer_spec(spec, i) for i, spec in enumerate(layers)]
        if not 1 <= len(specs) <= max_layers or any(
            k > max_kernel or s > max_stride or d != 1 for _, k, s, d, _ in specs
        ):
            raise ValueError(
                f"`layers` must hold 1 to max_layers={max_layers} layers without dilation, kernels up to "
                f"max_kernel={max_kernel} and strides up to max_stride={max_stride}; received layers={layers!r}."
            )
        self.rows = self.cols = None
        self.error, self.figure = None, None
        self._figure = Figure(figsize=(11, 4.2), layout="none")  # no layout engine: faster
        self.layer_count = widgets.IntSlider(value=len(specs), min=1, max=max_layers, description="layers")
        self.kinds, self.kernels, self.strides, self.paddings, self.slots = [], [], [], [], []
        for i in range(max_layers):
            kind, kernel, stride, _, padding = specs[i] if i < len(specs) else ("conv", 3, 1, 1, "valid")
            self.kinds.append(widgets.Dropdown(options=LAYER_KINDS, value=kind, description=f"layer {i + 1}",
                                               layout=widgets.Layout(width="170px")))
            self.kernels.append(widgets.IntSlider(value=kernel, min=1, max=max_kernel, description="kernel"))
            self.strides.append(widgets.IntSlider(value=stride, min=1, max=max_stride, description="stride"))
            self.paddings.append(widgets.Dropdown(options=LAYER_PADDINGS, value=padding, description="padding",
                                                  layout=widgets.Layout(width="190px")))
            self.slots.append(widgets.HBox([self.kinds[i], self.kernels[i], self.strides[i], self.paddings[i]]))
        self.unit_row = widgets.IntSlider(value=0, min=0, max=0, description="unit row")
        self.unit_col = widgets.IntSlider(value=0, min=0, max=0, description="unit col")
        self.table = widgets.HTML()
        self.picture = widgets.Image(format="png")
        self.widget = widgets.VBox([self.layer_count, *self.slots, widgets.HBox([self.unit_row, self.unit_col]),
                                    self.table, self.picture])
        self._busy = False  # set while one change updates other controls
        self._grid = None  # the last layer's output grid, to recentre the unit when it changes
        controls = [self.layer_count, *self.kinds, *self.kernels, *self.strides, *self.paddings,
                    self.unit_row, self.unit_col]
        for control in controls:
            control.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, change):
        if not self._busy:
            self.update()

    def layers(self):
        """The layers the controls describe, as dicts for `receptive_field_stack`."""
        return [
            {"kind": self.kinds[i].value, "kernel": self.kernels[i].value, "stride": self.strides[i].value,
             "padding": self.paddings[i].value}
            for i in range(self.layer_count.value)
        ]

    def update(self):
        """Recomputes the fields from the controls and redraws; returns `rows`."""
        import pandas as pd

        for i, slot in enumerate(self.slots):
            slot.layout.display = None if i < self.layer_count.value else "none"
        try:
            rows = receptive_field_stack(self.layers(), self.image.shape[0])
            cols = receptive_field_stack(self.layers(), self.image.shape[1])
        except ValueError as error:
            self.error = str(error)
            self.table.value = f"<span style='color:#b00'>{self.error}</span>"
            return self.rows
        self.rows, self.cols, self.error = rows, cols, None
        grid = (rows[-1].output_size, cols[-1].output_size)
        self._busy = True  # the unit's range follows the last layer's output
        if grid != self._grid:  # a new grid: start from its central unit
            self.unit_row.max, self.unit_col.max = grid[0] - 1, grid[1] - 1
            self.unit_row.value, self.unit_col.value = (grid[0] - 1) // 2, (grid[1] - 1) // 2
            self._grid = grid
        self._busy = False
        table = pd.DataFrame({
            "layer": [r.layer for r in rows],
            "kernel": ["" if r.kernel is None else r.kernel for r in rows],
            "stride": ["" if r.stride is None else r.stride for r in rows],
            "padding": [r.padding or "" for r in rows],
            "output": [f"{r.output_size}x{c.output_size}" for r, c in zip(rows, cols)],
            "field": [f"{r.field}x{c.field}" for r, c in zip(rows, cols)],
            "jump": [r.jump for r in rows],
            "start (row, col)": [f"({r.start:g}, {c.start:g})" for r, c in zip(rows, cols)],
        })
        self.table.value = table.to_html(index=False)
        unit = (self.unit_row.value, self.unit_col.value)
        self._show(plot_receptive_field_stack(self.image, rows, cols, unit, self._figure))
        return rows
