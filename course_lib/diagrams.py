"""Concept diagrams of the course, drawn with matplotlib from the models' own numbers.

One function per idea, each returning a matplotlib `Figure` (drawn with
`matplotlib.pyplot`, so `plt.show()` and Jupyter's inline display work). The
shapes, sizes and labels come from the arguments, whose defaults are the
course's (`InceptionModule` of GoogLeNet's module 3a, the course backbone's
stages, AlexNet's layers, ...), and every number on a picture is computed with
`course_lib` (`ops.output_size`, `ops.conv2d_params`, `ops.conv_to_dense`,
`receptive_field_stack`, the layers' `compute_output_shape`) or read from a
Keras model, so `tests/lib/test_diagrams.py` can check the labels against
Keras.

| notebook | diagram |
| --- | --- |
| 02 | `sliding_window`: a kernel over a zero-padded grid, with a stride |
| 04 | `lenet5`: LeNet-5's layers, their output shapes and parameters |
| 05 | `im2col`: patches as rows times the kernel as a column; the same product as the matrix W |
| 06 | `receptive_field_growth`: the field of one unit through a stack of layers |
| 08 | `batch_norm_modes`: BatchNormalization in training and at inference |
| 10 | `mixup_pair`: two images and their one-hot labels, mixed |
| 12 | `transfer_regimes`: what trains and what is frozen, three ways |
| 14 | `alexnet_split`: AlexNet's two GPUs and where they communicate |
| 15 | `stack_vs_large`: three 3x3 convolutions against one 7x7 |
| 16 | `mlpconv_block`, `gap_vs_flatten`: NiN's block and its head |
| 17 | `inception_module`: four branches, concatenated |
| 18 | `residual_shortcuts`, `bottleneck_block`: ResNet's blocks |
| 19 | `separable_conv`: depthwise, then pointwise |
| 20 | `wide_block`, `resnext_block`, `dense_block` |
| 24 | `parallelism`: data parallelism against model parallelism |

`DIAGRAMS` maps each notebook number to its functions.

**Alt text.** Every function stores a description of its picture, written
from the same numbers, on the figure: `alt_text(fig)` returns it. On the
course's website (MyST-NB), a cell that shows a diagram carries it in its
metadata, `cell_metadata(fig)` = `{"mystnb": {"image": {"alt": ...}}}`, which
becomes the `alt` attribute of the rendered image. A notebook shows a diagram
with `show(fig)`, which puts the alt text in the output's metadata, and
`scripts/notebooks.py build` copies it into the cell's metadata.

**Colours.** One palette for every diagram, `PALETTE`, from Okabe and Ito's
colour-blind-safe set: each kind of thing keeps its colour across the course
(data sky blue, convolutions orange, pooling bluish green, dense layers
yellow, normalisation reddish purple, merges blue, the highlighted part
vermillion, frozen parts and padding grey). Boxes are filled with a light tint
of their colour and outlined in the full colour, so black text stays readable.
"""

import numpy as np

from course_lib._checks import (
    check_array,
    check_choice,
    check_number,
    check_positive_int,
    check_positive_ints,
    is_int,
)
from course_lib.ops import conv2d_macs, conv2d_params, conv_to_dense, output_size, padding_amounts

__all__ = [
    "DIAGRAMS",
    "PALETTE",
    "alexnet_split",
    "alt_text",
    "batch_norm_modes",
    "bottleneck_block",
    "cell_metadata",
    "dense_block",
    "gap_vs_flatten",
    "im2col",
    "inception_module",
    "lenet5",
    "mixup_pair",
    "mlpconv_block",
    "parallelism",
    "receptive_field_growth",
    "show",
    "residual_shortcuts",
    "resnext_block",
    "separable_conv",
    "sliding_window",
    "stack_vs_large",
    "transfer_regimes",
    "wide_block",
]

# Okabe and Ito's colour-blind-safe palette, one role per colour.
PALETTE = {
    "data": "#56B4E9",  # sky blue: inputs, feature maps, activations
    "conv": "#E69F00",  # orange: convolutions and their weights
    "pool": "#009E73",  # bluish green: pooling
    "dense": "#F0E442",  # yellow: dense layers, classifier heads
    "norm": "#CC79A7",  # reddish purple: BatchNormalization and its statistics
    "merge": "#0072B2",  # blue: additions and concatenations; a second window
    "accent": "#D55E00",  # vermillion: the highlighted window, field or link
    "frozen": "#999999",  # grey: frozen parts, zero padding
    "text": "#000000",
}

# Yellow is too pale for an outline on white: dense boxes get a darker edge of the same hue.
_EDGES = {"dense": "#B8A600"}
_ALT_ATTRIBUTE = "course_alt_text"
_FONT = 9  # points, the size of labels in boxes


# ---------------------------------------------------------------------------
# Alt text


def alt_text(fig):
    """The description of a diagram, for readers who cannot see it.

    Args:
        fig: a `Figure` returned by one of this module's functions.

    Returns:
        The alt text, a string written from the diagram's numbers.

    Example:

    >>> fig = inception_module()
    >>> alt_text(fig).startswith("The Inception module")
    True
    """
    text = getattr(fig, _ALT_ATTRIBUTE, None)
    if not isinstance(text, str):
        raise ValueError(
            "`fig` must be a figure drawn by course_lib.diagrams, which carries its alt text; "
            f"received {type(fig).__name__} without one."
        )
    return text


def show(fig):
    """Displays a diagram in a notebook with its alt text, then closes it.

    The alt text goes into the output's metadata (`{"image/png": {"alt":
    ...}}`); `scripts/notebooks.py build` copies it into the cell's
    metadata (`cell_metadata`), where the course's website reads it.

    Args:
        fig: a `Figure` returned by one of this module's functions.

    Example:

    >>> show(stack_vs_large())  # doctest: +SKIP
    """
    import io

    import matplotlib.pyplot as plt

    from course_lib._optional import import_optional

    display = import_optional("IPython.display", "diagrams.show")
    text = alt_text(fig)
    # Drawn here, so that the alt text travels in the same output as the picture.
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    plt.close(fig)
    display.display(display.Image(buffer.getvalue(), format="png"), metadata={"image/png": {"alt": text}})


def cell_metadata(fig):
    """The metadata that gives a notebook cell's image its alt text on the website.

    MyST-NB reads `mystnb.image.alt` from a cell's metadata and writes it as
    the `alt` attribute of the cell's image output.

    Args:
        fig: a `Figure` returned by one of this module's functions.

    Returns:
        `{"mystnb": {"image": {"alt": alt_text(fig)}}}`.

    Example:

    >>> fig = stack_vs_large()
    >>> cell_metadata(fig) == {"mystnb": {"image": {"alt": alt_text(fig)}}}
    True
    """
    return {"mystnb": {"image": {"alt": alt_text(fig)}}}


# ---------------------------------------------------------------------------
# Drawing helpers: a canvas measured in inches, boxes, arrows, grids


def _tint(color, amount=0.3):
    """`color` mixed with white: `amount` of the colour, the rest white."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    return tuple(amount * rgb + (1 - amount))


def _canvas(width, height, title, alt):
    """A figure of `width` x `height` inches with one invisible axes in inch units.

    The title sits in the top 0.5 inch; drawing coordinates are inches from
    the bottom-left corner, so sizes and gaps are easy to reason about.
    """
    import matplotlib.pyplot as plt

    # Hand-placed: no layout engine, whatever `figure.autolayout` says (setup_notebook turns it on).
    fig = plt.figure(figsize=(width, height), layout="none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    fig.suptitle(title, y=1 - 0.12 / height, va="top", fontsize=11, fontweight="bold")
    setattr(fig, _ALT_ATTRIBUTE, alt)
    return fig, ax


def _text(ax, x, y, s, size=_FONT, ha="center", va="center", **kwargs):
    return ax.text(x, y, s, fontsize=size, ha=ha, va=va, **kwargs)


def _box(ax, x, y, w, h, text="", role="data", size=_FONT, fill=None, hatch=None, lw=1.2, ls="-"):
    """A rounded box centred at (x, y), tinted by `role`, with centred text."""
    from matplotlib.patches import FancyBboxPatch

    color = _EDGES.get(role, PALETTE[role])
    pad = min(0.06, w / 4, h / 4)
    patch = FancyBboxPatch(
        (x - w / 2 + pad, y - h / 2 + pad), w - 2 * pad, h - 2 * pad,
        boxstyle=f"round,pad={pad}", facecolor=fill or _tint(color), edgecolor=color,
        linewidth=lw, linestyle=ls, hatch=hatch,
    )
    ax.add_patch(patch)
    if text:
        # Hatched (frozen) boxes get a white backing under the text, to keep it legible.
        backing = dict(facecolor="white", edgecolor="none", pad=1.0, alpha=0.85) if hatch else None
        _text(ax, x, y, text, size=size, bbox=backing)
    return patch


def _arrow(ax, start, end, color=None, lw=1.2, ls="-", rad=0.0, head=True):
    """An arrow from `start` to `end` (points in inches)."""
    from matplotlib.patches import FancyArrowPatch

    arrow = FancyArrowPatch(
        start, end, arrowstyle="-|>,head_length=6,head_width=3" if head else "-",
        mutation_scale=1, color=color or PALETTE["text"], linewidth=lw, linestyle=ls,
        shrinkA=0, shrinkB=0, connectionstyle=f"arc3,rad={rad}",
    )
    ax.add_patch(arrow)
    return arrow


def _cell(ax, x, y, size, fill, edge="0.35", lw=0.6, text="", text_size=7):
    """One square cell whose top-left corner is (x, y)."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x, y - size), size, size, facecolor=fill, edgecolor=edge, linewidth=lw))
    if text:
        _text(ax, x + size / 2, y - size / 2, text, size=text_size)


def _outline(ax, x, y, w, h, color, lw=2.2, ls="-"):
    """A rectangle outline whose top-left corner is (x, y)."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x, y - h), w, h, fill=False, edgecolor=color, linewidth=lw, linestyle=ls))


def _n(value):
    """An int with thousands separators: 110,592."""
    return f"{int(value):,}"


def _shape(shape):
    """`(None, 28, 28, 256)` or `(28, 28, 256)` as "28x28x256"."""
    return "x".join(str(int(v)) for v in tuple(shape)[-3:])


def _bn_trainable(channels):
    """Trainable parameters of a BatchNormalization over `channels`: gamma and beta."""
    return 2 * channels


# ---------------------------------------------------------------------------
# 02: the sliding window


def _size_formula(n, k, padding, stride, size):
    if padding == "valid":
        return f"floor(({n} - {k}) / {stride}) + 1 = {size}"
    if padding == "same":
        return f"ceil({n} / {stride}) = {size}"
    return f"floor(({n} + {k} - 2) / {stride}) + 1 = {size}"


def sliding_window(input_size=5, kernel_size=3, stride=2, padding="same"):
    """A kernel sliding over a zero-padded input with a stride, and the output it makes.

    The padded input (zeros in grey), the windows of the first two outputs
    (vermillion, then blue and dashed, `stride` pixels apart), the kernel and
    the output grid, whose size is `ops.output_size` with the formula written
    out. The padding is Keras's (`ops.padding_amounts`).

    Args:
        input_size: rows (and columns) of the square input.
        kernel_size: rows (and columns) of the kernel.
        stride: the step of the window.
        padding: "valid", "same" or "full".

    Returns:
        The `Figure`.

    Example:

    >>> fig = sliding_window(5, 3, stride=2, padding="same")
    >>> "output 3x3" in [t.get_text() for t in fig.axes[0].texts]
    True
    """
    n = check_positive_int(input_size, "input_size")
    k = check_positive_int(kernel_size, "kernel_size")
    s = check_positive_int(stride, "stride")
    check_choice(padding, "padding", ("valid", "same", "full"))
    if n > 12:
        raise ValueError(f"`input_size` must be at most 12 to draw every pixel; received input_size={n}.")
    out = output_size(n, k, padding, s)
    before, after = padding_amounts(n, k, padding, s)
    padded = n + before + after
    cell = min(0.42, 3.6 / padded)
    out_cell = min(0.42, 2.4 / out)
    width = 0.6 + padded * cell + 0.9 + k * 0.42 + 0.9 + out * out_cell + 0.6
    grid_h = padded * cell
    height = max(grid_h, out * out_cell, k * 0.42) + 2.3
    windows = [(0, 0)] + ([(0, 1)] if out > 1 else [])
    alt = (
        f"A {n}x{n} input grid"
        + (f" padded with zeros ({before} before and {after} after each row and column, {padded}x{padded} in all)"
           if before or after else " without padding")
        + f". A {k}x{k} kernel slides over it with stride {s}: the window of output (0, 0) sits at the top-left"
        + (f", the window of output (0, 1) {s} pixels to its right" if out > 1 else "")
        + f". The output grid is {out}x{out}, since {_size_formula(n, k, padding, s, out)}."
    )
    fig, ax = _canvas(width, height, f"A {k}x{k} kernel, stride {s}, padding {padding!r}: "
                                      f"{n}x{n} in, {out}x{out} out", alt)
    top = height - 1.0
    x0 = 0.6
    for r in range(padded):
        for c in range(padded):
            inside = before <= r < before + n and before <= c < before + n
            _cell(ax, x0 + c * cell, top - r * cell, cell,
                  _tint(PALETTE["data"], 0.35) if inside else _tint(PALETTE["frozen"], 0.3),
                  text="" if inside else "0", text_size=6)
    colors = [(PALETTE["accent"], "-"), (PALETTE["merge"], "--")]
    for (i, j), (color, ls) in zip(windows, colors):
        _outline(ax, x0 + j * s * cell + 0.02, top - i * s * cell - 0.02, k * cell - 0.04, k * cell - 0.04,
                 color, ls=ls)
    if out > 1:  # the stride, measured between the two windows' left edges
        y = top + 0.15
        _arrow(ax, (x0, y), (x0 + s * cell, y), color=PALETTE["text"], lw=1)
        _arrow(ax, (x0 + s * cell, y), (x0, y), color=PALETTE["text"], lw=1)
        _text(ax, x0 + s * cell + 0.08, y, f"stride {s}", ha="left", size=8)
    _text(ax, x0 + padded * cell / 2, top - grid_h - 0.25, f"input {n}x{n}", size=_FONT)
    pad_text = (f"zero padding: {before} row(s) and column(s) before, {after} after" if before or after
                else "no padding")
    _text(ax, x0 + padded * cell / 2, top - grid_h - 0.5, pad_text, size=8, color="0.25")

    kx = x0 + padded * cell + 0.9
    for r in range(k):
        for c in range(k):
            _cell(ax, kx + c * 0.42, top - r * 0.42, 0.42, _tint(PALETTE["conv"], 0.45))
    _text(ax, kx + k * 0.21, top - k * 0.42 - 0.25, f"kernel {k}x{k}")

    ox = kx + k * 0.42 + 0.9
    fills = {(0, 0): _tint(PALETTE["accent"], 0.45), (0, 1): _tint(PALETTE["merge"], 0.35)}
    for r in range(out):
        for c in range(out):
            _cell(ax, ox + c * out_cell, top - r * out_cell, out_cell, fills.get((r, c), "white"))
    for (i, j), (color, ls) in zip(windows, colors):
        _outline(ax, ox + j * out_cell + 0.02, top - i * out_cell - 0.02, out_cell - 0.04, out_cell - 0.04,
                 color, lw=1.8, ls=ls)
    _text(ax, ox + out * out_cell / 2, top - out * out_cell - 0.25, f"output {out}x{out}")
    _text(ax, width / 2, 0.55, f"output rows = {_size_formula(n, k, padding, s, out)}", size=_FONT)
    _text(ax, width / 2, 0.25, "solid vermillion: the window of output (0, 0);  dashed blue: output (0, 1)",
          size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 04: LeNet-5


def lenet5(model=None):
    """LeNet-5 from left to right, as LeCun et al. (1998, figure 2) draw it.

    The input, then C1 (convolution), S2 (subsampling, here pooling), C3, S4,
    C5, F6 and the output layer. Above each layer its output, drawn to scale:
    a stack of maps as tall and wide as their rows and columns, deeper with
    more channels, or a bar of units for a dense layer. Below it a box with
    the layer's kind, window, stride, padding, activation and parameters.
    Everything is read from `model`: the layers' settings, their output
    shapes and `count_params()`. In the paper C5 is a convolution whose 5x5
    filters cover the whole 5x5 input of S4, so a dense layer on the
    flattened S4, as `course_lib.models.lenet5` builds it. When C1 pads its
    input (28x28 images), a dashed outline marks the zero border, which
    makes the paper's 32x32 input.

    Args:
        model: `course_lib.models.lenet5(...)` with its classifier
            (`include_top=True`); None builds `lenet5()`, the 28x28x1 MNIST
            model of notebook 04.

    Returns:
        The `Figure`.

    Raises:
        TypeError: `model` is not a `keras.Model`.
        ValueError: `model` is not a LeNet-5 with its classifier (two
            convolutions and two poolings in turn, then three dense layers).

    Example:

    >>> import matplotlib.pyplot as plt
    >>> fig = lenet5()
    >>> text = alt_text(fig)
    >>> plt.close(fig)
    >>> "C3, a convolution of 16 filters 5x5, stride 1, 'valid' padding, relu, output 10x10x16" in text
    True
    >>> "61,706 parameters in all" in text
    True
    """
    import keras
    from matplotlib.patches import Rectangle

    from course_lib._checks import check_model
    from course_lib.models.lenet5 import PAPER_INPUT_SIZE

    if model is None:
        from course_lib.models import lenet5 as build_lenet5

        model = build_lenet5()
    check_model(model)

    def pair(values):
        return f"{values[0]}x{values[1]}"

    def step(values):
        return str(values[0]) if values[0] == values[1] else pair(values)

    # The seven layers, read from the model; Flatten is folded into the dense layer after it.
    columns, flat = [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Flatten):
            flat = (int(layer.output.shape[-1]), tuple(int(v) for v in layer.input.shape[1:]))
            continue
        c = {"kind": None, "layer": layer.name, "params": int(layer.count_params()),
             "shape": tuple(int(v) for v in layer.output.shape[1:])}
        if isinstance(layer, keras.layers.Conv2D):
            c.update(kind="conv", op="convolution", filters=layer.filters, window=tuple(layer.kernel_size),
                     stride=tuple(layer.strides), padding=layer.padding, activation=layer.activation.__name__)
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            c.update(kind="pool", window=tuple(layer.pool_size), stride=tuple(layer.strides),
                     op="max pooling" if isinstance(layer, keras.layers.MaxPooling2D) else "average pooling")
        elif isinstance(layer, keras.layers.Dense):
            c.update(kind="dense", op="dense", units=layer.units, activation=layer.activation.__name__, flat=flat)
            flat = None
        columns.append(c)
    if tuple(c["kind"] for c in columns) != ("conv", "pool", "conv", "pool", "dense", "dense", "dense"):
        raise ValueError(
            "`model` must be a LeNet-5 with its classifier, as `course_lib.models.lenet5(include_top=True)` "
            "builds it (convolution, pooling, convolution, pooling, then three dense layers); received the "
            f"layers {[c['layer'] for c in columns]}."
        )
    for name, c in zip(("C1", "S2", "C3", "S4", "C5", "F6", "output"), columns):
        c["name"] = name
    in_shape = tuple(int(v) for v in model.input_shape[1:])
    total = int(model.count_params())
    dense_share = sum(c["params"] for c in columns if c["kind"] == "dense") / total
    c1, s4 = columns[0], columns[3]
    before, after = padding_amounts(in_shape[0], c1["window"][0], c1["padding"], c1["stride"][0])
    left, right = padding_amounts(in_shape[1], c1["window"][1], c1["padding"], c1["stride"][1])
    padded = (in_shape[0] + before + after, in_shape[1] + left + right)
    border = before + after + left + right > 0
    border_text = f"C1's {c1['padding']!r} padding adds zero pixels (dashed): {pair(padded)} in all"
    if padded == (PAPER_INPUT_SIZE, PAPER_INPUT_SIZE) and before == after == left == right:
        border_text = (f"C1's {c1['padding']!r} padding adds a border of {before} zero pixels (dashed): "
                       f"the paper's {pair(padded)} input")

    def shape_text(c):
        return _shape(c["shape"]) if len(c["shape"]) == 3 else f"{c['shape'][0]} units"

    def describe(c):
        if c["kind"] == "conv":
            what = (f"a convolution of {c['filters']} filters {pair(c['window'])}, stride {step(c['stride'])}, "
                    f"{c['padding']!r} padding, {c['activation']}")
        elif c["kind"] == "pool":
            what = f"{pair(c['window'])} {c['op']} with stride {step(c['stride'])}"
        else:
            what = f"a dense layer of {c['units']} units, {c['activation']}"
            if c["flat"]:
                what += f", on the {c['flat'][0]} values of the flattened {_shape(c['flat'][1])} maps"
        return f"{c['name']}, {what}, output {shape_text(c)}, {_n(c['params'])} parameters"

    def box_text(c):
        if c["kind"] == "conv":
            lines = [f"{c['name']} convolution", f"{c['filters']} filters {pair(c['window'])}",
                     f"stride {step(c['stride'])}, {c['padding']!r}", c["activation"]]
        elif c["kind"] == "pool":
            lines = [f"{c['name']} {c['op']}", f"{pair(c['window'])}, stride {step(c['stride'])}"]
        else:
            lines = [f"{c['name']} dense", f"{c['units']} units", c["activation"]]
            if c["flat"]:
                lines.insert(2, f"on {c['flat'][0]} = {_shape(c['flat'][1])}")
        return "\n".join(lines + [f"{_n(c['params'])} parameters"])

    alt = (
        f"LeNet-5 drawn from left to right: a {_shape(in_shape)} input image; "
        + "; ".join(describe(c) for c in columns)
        + f". {_n(total)} parameters in all, {dense_share:.0%} of them in the three dense layers. The maps shrink "
        f"from {pair(c1['shape'])} in C1 to {pair(s4['shape'])} in S4 while their number grows from "
        f"{c1['shape'][-1]} to {s4['shape'][-1]}." + (f" {border_text.replace(' (dashed)', '')}." if border else "")
    )

    bw, bh, gap, x_in = 1.22, 1.12, 0.3, 0.85
    xs = [x_in + 0.8 + bw / 2 + i * (bw + gap) for i in range(len(columns))]
    width = xs[-1] + bw / 2 + 0.3
    height = 4.7
    fig, ax = _canvas(width, height, f"LeNet-5: a {_shape(in_shape)} image to {columns[-1]['units']} classes "
                                     f"in seven layers, {_n(total)} parameters", alt)
    box_y, shape_y, base = 1.85, 2.72, 2.95
    # To scale: the largest map (the padded input, when C1 pads) is 1.05 inches tall.
    scale = 1.05 / max(padded + tuple(max(c["shape"][:2]) for c in columns if len(c["shape"]) == 3))
    most_units = max(c["shape"][0] for c in columns if len(c["shape"]) == 1)

    def rect(x0, y0, w, h, **kwargs):
        style = dict(facecolor=_tint(PALETTE["data"], 0.35), edgecolor=PALETTE["merge"], linewidth=0.6)
        ax.add_patch(Rectangle((x0, y0), w, h, **{**style, **kwargs}))

    def maps(x, shape):
        """Up to 8 maps, the front one bottom-left, spread over a depth that grows with the channels."""
        rows, cols, channels = shape
        depth, count = min(0.025 * channels, 0.5), min(channels, 8)
        for i in reversed(range(count)):
            d = depth * i / (count - 1) if count > 1 else 0.0
            rect(x - (cols * scale + depth) / 2 + d, base + d, cols * scale, rows * scale)

    maps(x_in, in_shape)
    if border:
        rect(x_in - in_shape[1] * scale / 2 - left * scale, base - after * scale, padded[1] * scale,
             padded[0] * scale, fill=False, edgecolor=PALETTE["frozen"], linewidth=1.0, linestyle="--")
    _text(ax, x_in, shape_y, _shape(in_shape))
    _box(ax, x_in, box_y, 1.0, 0.6, "input\nimage", "data", size=7.5)
    _arrow(ax, (x_in + 0.5, box_y), (xs[0] - bw / 2, box_y))
    for i, (x, c) in enumerate(zip(xs, columns)):
        if len(c["shape"]) == 3:
            maps(x, c["shape"])
        else:
            rect(x - 0.07, base, 0.14, max(1.05 * c["shape"][0] / most_units, 0.06))
        _text(ax, x, shape_y, shape_text(c))
        _box(ax, x, box_y, bw, bh, box_text(c), c["kind"], size=7.5)
        if i:
            _arrow(ax, (xs[i - 1] + bw / 2, box_y), (x - bw / 2, box_y))
    _text(ax, width / 2, 0.8, "above each layer its output, to scale: maps (rows x columns, deeper with more "
                              "channels) or a bar of units;  orange: convolutions,  green: pooling,  yellow: dense "
                              "layers", size=8, color="0.25")
    if border:
        _text(ax, width / 2, 0.5, border_text, size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 05: im2col and the Toeplitz matrix


def im2col(input_size=4, kernel_size=3):
    """A convolution as a matrix product, two ways: im2col and the matrix W.

    Top: each output's window of the input, unrolled into a row of the patch
    matrix, times the kernel unrolled into a column, gives the outputs. Bottom:
    the same product as `W x`, with the `W` of `ops.conv_to_dense` (one
    channel, one filter, "valid" padding, stride 1): each row of W holds the
    kernel's weights at its window's inputs and zeros elsewhere. Pixels,
    kernel taps and outputs are numbered as `ops.flatten_volume` reads them:
    column by column.

    Args:
        input_size: rows (and columns) of the square input, at most 6.
        kernel_size: rows (and columns) of the kernel, at most `input_size`.

    Returns:
        The `Figure`.

    Example:

    >>> "36 non-zero entries out of 64" in alt_text(im2col(4, 3))
    True
    """
    n = check_positive_int(input_size, "input_size")
    k = check_positive_int(kernel_size, "kernel_size")
    if n > 6 or k > n:
        raise ValueError(
            f"`input_size` must be at most 6 and `kernel_size` at most `input_size` to draw every entry; "
            f"received input_size={n}, kernel_size={k}."
        )
    out = n - k + 1
    # Tap t of the kernel (column by column) gets the value t + 1, so W tells which tap sits where.
    taps = np.arange(1, k * k + 1, dtype=float).reshape(k, k, order="F")
    W, _ = conv_to_dense(taps.reshape(k, k, 1, 1), None, (n, n, 1))
    W = W.astype(int)
    patches = np.zeros((out * out, k * k), int)
    for o in range(out * out):
        for t in range(k * k):
            patches[o, t] = int(np.flatnonzero(W[o] == t + 1)[0])
    nonzero = int((W != 0).sum())

    c = 0.36
    gap = 0.55
    widths = [n * c, k * k * c, c, c, out * c]
    width = max(sum(widths) + 6 * gap + 0.9, n * n * c + 2.6)
    block = max(k * k * c + 0.35, (n + k) * c + 0.9, out * out * c + 0.55)  # the top row's height
    height = 0.95 + block + 0.75 + out * out * c + 0.55
    alt = (
        f"Top: a {n}x{n} input with pixels numbered 0 to {n * n - 1} column by column, and a {k}x{k} kernel "
        f"with taps w0 to w{k * k - 1}. Each of the {out * out} outputs reads a {k}x{k} window; unrolled into a "
        f"row, the windows make a {out * out} x {k * k} patch matrix, which times the kernel as a {k * k} x 1 "
        f"column gives the {out * out} outputs, a {out}x{out} map. Bottom: the same product as W times the "
        f"flattened input, W of shape {out * out} x {n * n} with {nonzero} non-zero entries out of {W.size}: "
        f"each row holds the same {k * k} kernel weights, shifted to its window."
    )
    fig, ax = _canvas(width, height, f"Convolution as a matrix product: a {k}x{k} kernel on a {n}x{n} input",
                      alt)
    data, conv, out_fill = _tint(PALETTE["data"], 0.3), _tint(PALETTE["conv"], 0.4), _tint(PALETTE["pool"], 0.3)
    top = height - 0.95
    x = 0.45
    # The input, numbered column by column.
    for r in range(n):
        for col in range(n):
            _cell(ax, x + col * c, top - r * c, c, data, text=f"x{col * n + r}")
    _text(ax, x + n * c / 2, top - n * c - 0.22, f"input {n}x{n}")
    _outline(ax, x + 0.02, top - 0.02, k * c - 0.04, k * c - 0.04, PALETTE["accent"], lw=1.8)
    ktop = top - n * c - 0.55
    for r in range(k):
        for col in range(k):
            _cell(ax, x + col * c, ktop - r * c, c, conv, text=f"w{col * k + r}")
    _text(ax, x + k * c / 2, ktop - k * c - 0.22, f"kernel {k}x{k}")
    x += n * c + gap
    # The patch matrix: one row per output.
    for o in range(out * out):
        for t in range(k * k):
            _cell(ax, x + t * c, top - o * c, c, data, text=f"x{patches[o, t]}")
    _outline(ax, x + 0.01, top - 0.01, k * k * c - 0.02, c - 0.02, PALETTE["accent"], lw=1.8)
    _text(ax, x + k * k * c / 2, top - out * out * c - 0.22, f"patches: {out * out} x {k * k}")
    _text(ax, x + k * k * c / 2, top - out * out * c - 0.45, "one row per output window", size=8, color="0.25")
    mid = top - out * out * c / 2
    x += k * k * c + gap / 2
    _text(ax, x, mid, "×", size=14)
    x += gap / 2
    for t in range(k * k):
        _cell(ax, x, top - t * c, c, conv, text=f"w{t}")
    _text(ax, x + c / 2, top - k * k * c - 0.22, f"kernel: {k * k} x 1")
    x += c + gap / 2
    _text(ax, x, mid, "=", size=14)
    x += gap / 2
    for o in range(out * out):
        _cell(ax, x, top - o * c, c, out_fill, text=f"y{o}")
    _text(ax, x + c / 2 + 0.1, top - out * out * c - 0.22, f"{out * out} outputs")
    x += c + gap
    for r in range(out):
        for col in range(out):
            _cell(ax, x + col * c, top - r * c, c, out_fill, text=f"y{col * out + r}")
    _text(ax, x + out * c / 2, top - out * c - 0.22, f"output {out}x{out}")

    # The same product as W x.
    top2 = top - block - 0.75
    x = 0.45 + 0.4
    for col in range(n * n):
        _cell(ax, x + col * c, top2 + c + 0.06, c, data, text=f"x{col}")
    _text(ax, x - 0.1, top2 + c / 2 + 0.06, "x", ha="right", size=10)
    for o in range(out * out):
        for col in range(n * n):
            tap = W[o, col]
            _cell(ax, x + col * c, top2 - o * c, c, conv if tap else "white", text=f"w{tap - 1}" if tap else "")
    _text(ax, x - 0.1, top2 - out * out * c / 2, "W", ha="right", size=10)
    right = x + n * n * c
    _text(ax, right + 0.15, top2 - out * out * c / 2, "· x  =  y", ha="left", size=10)
    _text(ax, x + n * n * c / 2, top2 - out * out * c - 0.25,
          f"W: {out * out} x {n * n}, {nonzero} of {W.size} entries non-zero; each row is the kernel, shifted",
          size=_FONT)
    return fig


# ---------------------------------------------------------------------------
# 06: the receptive field through a stack


def receptive_field_growth(layers=((3, 1), (3, 1), {"kind": "pool", "kernel": 2}, (3, 1)), input_size=16):
    """How the receptive field of one unit grows through a stack of layers (one axis).

    Each row is a layer's units, drawn at the centre of their field on the
    input; the central unit of the last layer, and every unit it depends on
    below, are vermillion. The labels give the two rules with the numbers of
    `receptive_field_stack` (the rules of `course_lib.receptive_field`): a
    window of `k` adds `(k - 1) * jump`, a stride multiplies the jump.

    Args:
        layers: the stack, as `course_lib.widgets.receptive_field_stack` takes
            it: pairs `(kernel, stride)` for convolutions, or dicts with
            "kind" ("conv" or "pool"), "kernel" and "stride"; here with
            "valid" padding and no dilation, so that every unit in the
            highlighted range is one that the top unit depends on.
        input_size: pixels of the input row, at most 32.

    Returns:
        The `Figure`.

    Example:

    >>> "depends on 10 input pixels" in alt_text(receptive_field_growth())
    True
    """
    from course_lib.widgets import receptive_field_stack

    n = check_positive_int(input_size, "input_size")
    if n > 32:
        raise ValueError(f"`input_size` must be at most 32 to draw every pixel; received input_size={n}.")
    rows = receptive_field_stack(list(layers), input_size=n)
    if any(row.padding not in (None, "valid") for row in rows) or any(row.dilation not in (None, 1) for row in rows):
        raise ValueError("`layers` must use 'valid' padding and no dilation in this diagram; received "
                         f"layers={list(layers)!r}.")
    if rows[-1].output_size < 1:
        raise ValueError(f"`layers` leave no unit of an input of {n} pixels.")
    # Walk down from the central unit of the last layer: the units each layer's range reads below.
    last = rows[-1]
    lo = hi = (last.output_size - 1) // 2
    ranges = [(lo, hi)]
    for row in reversed(rows[1:]):
        k_eff = row.dilation * (row.kernel - 1) + 1
        lo, hi = lo * row.stride, hi * row.stride + k_eff - 1
        ranges.append((lo, hi))
    ranges = ranges[::-1]  # one per row, the input first
    assert ranges[0][1] - ranges[0][0] + 1 == last.field

    unit = min(0.34, 6.0 / n)
    row_gap = 0.75
    label_w = 3.3
    width = 0.5 + n * unit + 0.4 + label_w
    height = 0.75 + (len(rows) - 1) * row_gap + 1.2
    descriptions = []
    for prev, row in zip(rows, rows[1:]):
        descriptions.append(f"{row.layer} ({row.kind} {row.kernel}, stride {row.stride}): field {row.field}, "
                            f"jump {row.jump}")
    alt = (
        f"Rows of units, the input of {n} pixels at the bottom and {len(rows) - 1} layers above it: "
        + "; ".join(descriptions)
        + f". The central unit of the last layer depends on {last.field} input pixels, highlighted at the bottom, "
        "and on a range of units in every layer between."
    )
    fig, ax = _canvas(width, height, f"The receptive field grows layer by layer: {last.field} input pixels", alt)
    x0 = 0.5
    for depth, (row, (lo, hi)) in enumerate(zip(rows, ranges)):
        y = 0.75 + depth * row_gap
        size = min(unit * 0.8, 0.26)
        for i in range(row.output_size):
            centre = (0.0 if depth == 0 else row.start) + i * row.jump
            cx = x0 + (centre + 0.5) * unit
            inside = lo <= i <= hi
            role = "data" if depth == 0 else ("pool" if row.kind == "pool" else "conv")
            if inside:
                _cell(ax, cx - size / 2, y + size / 2, size, PALETTE["accent"], edge="black", lw=0.8)
            else:
                _cell(ax, cx - size / 2, y + size / 2, size, "white", edge=PALETTE[role], lw=1.6)
        if depth:
            prev_lo, prev_hi = ranges[depth - 1]
            prev = rows[depth - 1]
            prev_start = 0.0 if depth == 1 else prev.start
            left = x0 + (prev_start + prev_lo * prev.jump + 0.5) * unit - size / 2
            right = x0 + (prev_start + prev_hi * prev.jump + 0.5) * unit + size / 2
            c_lo = x0 + (row.start + lo * row.jump + 0.5) * unit
            c_hi = x0 + (row.start + hi * row.jump + 0.5) * unit
            from matplotlib.patches import Polygon

            ax.add_patch(Polygon([(left, y - row_gap + size / 2), (right, y - row_gap + size / 2),
                                  (c_hi + size / 2, y - size / 2), (c_lo - size / 2, y - size / 2)],
                                 facecolor=_tint(PALETTE["accent"], 0.18), edgecolor="none"))
        lx = x0 + n * unit + 0.4
        if depth == 0:
            label = f"input, {n} pixels: the field, {last.field} pixels, in vermillion"
        else:
            prev = rows[depth - 1]
            k_eff = row.dilation * (row.kernel - 1) + 1
            kind = "convolution" if row.kind == "conv" else "pooling"
            label = (f"{row.layer}, {kind}: window {row.kernel}, stride {row.stride}\n"
                     f"field {row.field} = {prev.field} + ({k_eff} - 1)·{prev.jump},  jump {row.jump}")
        _text(ax, lx, y, label, ha="left", size=8)
    return fig


# ---------------------------------------------------------------------------
# 08: BatchNormalization in training and at inference


def batch_norm_modes(momentum=0.99, epsilon=1e-3):
    """BatchNormalization in training (batch statistics) and at inference (moving averages).

    Left, training: the batch's mean and variance per channel normalise the
    batch, and each step moves the moving statistics towards them by
    `1 - momentum`. Right, inference: the stored moving statistics normalise
    any input, one image alone included. The defaults are those of
    `keras.layers.BatchNormalization` (the formulas are `ops.batchnorm_forward`,
    `ops.update_moving_statistics` and `ops.batchnorm_inference`).

    Args:
        momentum: the moving averages' momentum, in [0, 1).
        epsilon: added to the variance.

    Returns:
        The `Figure`.

    Example:

    >>> "0.99 times the old value plus 0.01" in alt_text(batch_norm_modes())
    True
    """
    momentum = check_number(momentum, "momentum", 0, 1, high_open=True)
    epsilon = check_number(epsilon, "epsilon", low=0)
    m, rest, eps = f"{momentum:g}", f"{1 - momentum:.6g}", f"{epsilon:g}"
    alt = (
        "Two flow charts. Training: a batch of images gives each channel's batch mean and variance; the batch "
        f"is normalised with them, (x - batch mean) / sqrt(batch variance + {eps}), then scaled by gamma and "
        f"shifted by beta; each step also updates the moving mean and variance as {m} times the old value plus "
        f"{rest} times the batch's. Inference: the stored moving mean and variance normalise the input, "
        f"(x - moving mean) / sqrt(moving variance + {eps}), then gamma and beta; the output of an image no "
        "longer depends on the other images of its batch."
    )
    width, height = 11.5, 5.0
    fig, ax = _canvas(width, height, "BatchNormalization: batch statistics in training, moving averages at "
                                     "inference", alt)
    bw, bh = 3.4, 0.62
    cols = (2.1, 9.4)
    ys = (3.85, 2.85, 1.85, 0.85)
    _text(ax, cols[0], 4.45, "training (fit)", size=10, fontweight="bold")
    _text(ax, cols[1], 4.45, "inference (predict, evaluate)", size=10, fontweight="bold")
    left = [
        ("a batch x of N images", "data"),
        (r"batch mean $\mu_B$ and variance $\sigma_B^2$" + "\nper channel", "norm"),
        (r"$\hat{x} = (x - \mu_B)\, /\, \sqrt{\sigma_B^2 + \epsilon}$" + f",  ε = {eps}", "norm"),
        (r"$y = \gamma\, \hat{x} + \beta$" + "  (γ, β trained)", "conv"),
    ]
    right = [
        ("any input x, even one image", "data"),
        ("moving mean and moving variance\n(stored, fixed)", "norm"),
        (r"$\hat{x} = (x - \mathrm{mean})\, /\, \sqrt{\mathrm{var} + \epsilon}$" + f",  ε = {eps}", "norm"),
        (r"$y = \gamma\, \hat{x} + \beta$" + "  (γ, β fixed)", "conv"),
    ]
    for col, boxes in zip(cols, (left, right)):
        for y, (text, role) in zip(ys, boxes):
            _box(ax, col, y, bw, bh, text, role)
        for y0, y1 in zip(ys, ys[1:]):
            _arrow(ax, (col, y0 - bh / 2), (col, y1 + bh / 2))
        # The input itself enters the normalisation too.
        _arrow(ax, (col - bw / 2, ys[0]), (col - bw / 2, ys[2]), rad=0.45)
    # The moving statistics: updated at every training step, used at inference.
    ux = (cols[0] + cols[1]) / 2
    uw = cols[1] - cols[0] - bw - 1.0
    _box(ax, ux, ys[1], uw, 1.0, f"moving statistics, every step:\nmoving = {m}·moving\n+ {rest}·batch statistic",
         "norm", size=8, ls="--")
    _arrow(ax, (cols[0] + bw / 2, ys[1]), (ux - uw / 2, ys[1]), color=PALETTE["norm"], ls="--")
    _arrow(ax, (ux + uw / 2, ys[1]), (cols[1] - bw / 2, ys[1]), color=PALETTE["norm"], ls="--")
    _text(ax, ux, ys[1] - 0.75, "after training, inference\nuses the last moving values", size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 10: mixup


def _default_mixup_images(size=32):
    """Two synthetic RGB images in [0, 1]: a disc and diagonal stripes."""
    r, c = np.mgrid[0:size, 0:size] / (size - 1)
    disc = ((r - 0.5) ** 2 + (c - 0.5) ** 2 < 0.1).astype(float)
    a = np.stack([0.9 * disc + 0.1, 0.6 * disc + 0.2 * (1 - disc), 0.2 + 0.6 * (1 - disc)], axis=-1)
    stripes = (np.floor((r + c) * 5) % 2).astype(float)
    b = np.stack([0.2 + 0.2 * stripes, 0.3 + 0.6 * stripes, 0.3 + 0.2 * stripes], axis=-1)
    return a, b


def mixup_pair(image_a=None, image_b=None, label_a=3, label_b=8, lam=0.7, num_classes=10, class_names=None):
    """Mixup of two images and of their one-hot labels, with weight `lam`.

    Top: `lam * image_a + (1 - lam) * image_b`. Bottom: the same combination
    of the one-hot labels, a soft label with `lam` on `label_a` and
    `1 - lam` on `label_b` (the `MixUp` layer of `course_lib.mixup` computes
    both with a random `lam`).

    Args:
        image_a, image_b: images of the same shape, `(H, W)`, `(H, W, 1)` or
            `(H, W, 3)`: integers, shown on 0-255, or floats, shown on the
            pair's joint range (a mix lies within it); None draws two
            synthetic 32x32 images.
        label_a, label_b: their classes, ints in `[0, num_classes)`.
        lam: the weight of `image_a`, in [0, 1].
        num_classes: length of the one-hot vectors.
        class_names: optional names of the classes, for the bars.

    Returns:
        The `Figure`.

    Example:

    >>> "0.7 on 3 and 0.3 on 8" in alt_text(mixup_pair())
    True
    """
    lam = check_number(lam, "lam", 0, 1)
    num_classes = check_positive_int(num_classes, "num_classes")
    for name, label in (("label_a", label_a), ("label_b", label_b)):
        if not is_int(label) or not 0 <= label < num_classes:
            raise ValueError(f"`{name}` must be an int in [0, {num_classes}); received {name}={label!r}.")
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"`class_names` must have {num_classes} names; received {len(class_names)}.")
    if (image_a is None) != (image_b is None):
        raise ValueError("`image_a` and `image_b` must be given together (or both None for synthetic images).")
    if image_a is None:
        image_a, image_b = _default_mixup_images()
    images = []
    for name, image in (("image_a", image_a), ("image_b", image_b)):
        image = check_array(image, name, ndim=(2, 3), shape="(H, W), (H, W, 1) or (H, W, 3)", finite=True)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim == 3 and image.shape[-1] != 3:
            raise ValueError(f"`{name}` must have shape (H, W), (H, W, 1) or (H, W, 3); received shape {image.shape}.")
        images.append(image)
    if images[0].shape != images[1].shape:
        raise ValueError(f"`image_a` and `image_b` must have the same shape; received {images[0].shape} "
                         f"and {images[1].shape}.")
    # Shown on the data's range: 0-255 for integer images, the pair's joint range for floats.
    if all(np.issubdtype(image.dtype, np.integer) for image in images):
        low, high = 0.0, 255.0
    else:
        low = float(min(image.min() for image in images))
        high = float(max(image.max() for image in images))
        high = high if high > low else low + 1.0
    images = [(image.astype(float) - low) / (high - low) for image in images]
    mixed = lam * images[0] + (1 - lam) * images[1]
    one_hot = np.eye(num_classes)
    labels = [one_hot[label_a], one_hot[label_b], lam * one_hot[label_a] + (1 - lam) * one_hot[label_b]]
    names = [str(c) for c in (class_names if class_names is not None else range(num_classes))]
    a_name, b_name = names[label_a], names[label_b]
    alt = (
        f"Mixup with lambda = {lam:g}. Top: image A (class {a_name}) times {lam:g}, plus image B (class {b_name}) "
        f"times {1 - lam:g}, gives a blended image. Bottom: their one-hot labels over {num_classes} classes, "
        f"mixed the same way: the soft label has {lam:g} on {a_name} and {1 - lam:g} on {b_name}"
        + (" (the same class: it stays one-hot)." if label_a == label_b else ".")
    )
    width, height = 11.0, 5.3
    fig, ax = _canvas(width, height, f"Mixup with λ = {lam:g}: images and labels, mixed the same way", alt)
    panel_x = (0.6, 4.3, 8.0)
    img = 2.0
    titles = [f"image A: class {a_name}", f"image B: class {b_name}", f"mixed: {lam:g}·A + {1 - lam:g}·B"]
    cmap = None if images[0].ndim == 3 else "gray"
    for x, image, title in zip(panel_x, (images[0], images[1], mixed), titles):
        sub = fig.add_axes((x / width, 2.55 / height, img / width, img / height))
        sub.imshow(image, cmap=cmap, vmin=0, vmax=1)
        sub.set_xticks([])
        sub.set_yticks([])
        _text(ax, x + img / 2, 4.78, title)
    _text(ax, (panel_x[0] + img + panel_x[1]) / 2, 3.55, f"× {lam:g}   +", size=12)
    _text(ax, (panel_x[1] + img + panel_x[2]) / 2, 3.55, f"× {1 - lam:g}   =", size=12)
    bar_titles = ["one-hot label of A", "one-hot label of B", f"soft label: {lam:g}·A + {1 - lam:g}·B"]
    for x, values, title in zip(panel_x, labels, bar_titles):
        sub = fig.add_axes(((x - 0.1) / width, 0.85 / height, (img + 0.2) / width, 0.95 / height))
        colors = [PALETTE["accent"] if v > 0 else PALETTE["frozen"] for v in values]
        sub.bar(np.arange(num_classes), values, color=colors)
        sub.set_ylim(0, 1.35)
        sub.set_yticks([0, 1])
        sub.tick_params(labelsize=7)
        sub.set_xticks(np.arange(num_classes), names, fontsize=7,
                       rotation=0 if class_names is None else 90)
        for i, v in enumerate(values):
            if v > 0:
                sub.text(i, v + 0.04, f"{v:g}", ha="center", va="bottom", fontsize=7)
        for side in ("top", "right"):
            sub.spines[side].set_visible(False)
        _text(ax, x + img / 2, 1.98, title, size=8)
    return fig


# ---------------------------------------------------------------------------
# Parameter counts of the course's blocks, by formula (the tests compare them with Keras)


def _residual_block_params(in_channels, filters, strides=1, use_bias=False):
    """Trainable parameters of `ResidualBlock(filters, strides)` (post-activation) on `in_channels`."""
    count = conv2d_params(3, in_channels, filters, use_bias) + _bn_trainable(filters)
    count += conv2d_params(3, filters, filters, use_bias) + _bn_trainable(filters)
    if strides != 1 or in_channels != filters:  # the projection shortcut
        count += conv2d_params(1, in_channels, filters, use_bias) + _bn_trainable(filters)
    return count


def _bottleneck_params(in_channels, filters, expansion=4, strides=1, use_bias=True, groups=1):
    """Trainable parameters of `BottleneckBlock(filters, strides, expansion, groups=groups)`."""
    out = expansion * filters
    count = conv2d_params(1, in_channels, filters, use_bias) + _bn_trainable(filters)
    count += 9 * (filters // groups) * filters + (filters if use_bias else 0) + _bn_trainable(filters)
    count += conv2d_params(1, filters, out, use_bias) + _bn_trainable(out)
    if strides != 1 or in_channels != out:
        count += conv2d_params(1, in_channels, out, use_bias) + _bn_trainable(out)
    return count


def _flow_up(ax, x, y, steps, bw, bh, gap, size=8):
    """Boxes stacked upwards from (x, y), joined by arrows; returns their centre heights."""
    centres = []
    for i, (text, role) in enumerate(steps):
        cy = y + i * (bh + gap)
        _box(ax, x, cy, bw, bh, text, role, size=size)
        if i:
            _arrow(ax, (x, cy - bh - gap + bh / 2), (x, cy - bh / 2))
        centres.append(cy)
    return centres


# ---------------------------------------------------------------------------
# 12: transfer learning, what is frozen and what trains


def transfer_regimes(stage_filters=None, classes=5, input_shape=(32, 32, 3)):
    """What trains in transfer learning: a frozen feature extractor, the last stage, the whole network.

    Three copies of the course backbone (`course_lib.pretrained`: a stem, three
    stages of two residual blocks, global average pooling) with a new head:
    frozen parts grey and hatched, trained parts in their colours, and the
    number of trainable parameters of each regime, from the blocks' formulas
    (`build_transfer_model` and `set_trainable` give the same counts).

    Args:
        stage_filters: filters of the stages; None is the course backbone's
            `pretrained.STAGE_FILTERS`.
        classes: outputs of the new head (the target task's 5 classes).
        input_shape: `(rows, cols, channels)` of the images.

    Returns:
        The `Figure`.

    Example:

    >>> "fine-tune the last stage: stage 3 and the head train, 526,213 parameters" in alt_text(transfer_regimes())
    True
    """
    from course_lib import pretrained

    stage_filters = check_positive_ints(pretrained.STAGE_FILTERS if stage_filters is None else stage_filters,
                                        "stage_filters")
    classes = check_positive_int(classes, "classes")
    rows, cols, channels = (check_positive_int(v, "input_shape") for v in input_shape)
    parts = [("image", f"input {rows}x{cols}x{channels}", 0, "data")]
    stem = stage_filters[0]
    parts.append(("stem", f"stem: 3x3 conv {stem}, BN, ReLU", conv2d_params(3, channels, stem, False)
                  + _bn_trainable(stem), "conv"))
    depth, size = stem, rows
    for i, filters in enumerate(stage_filters, start=1):
        strides = 2 if i > 1 else 1
        count = _residual_block_params(depth, filters, strides) + _residual_block_params(filters, filters)
        size = -(-size // strides)
        parts.append((f"stage{i}", f"stage {i}: 2 residual blocks, {filters} filters, {size}x{size}", count,
                      "conv"))
        depth = filters
    parts.append(("pool", f"global average pooling: {depth} features", 0, "pool"))
    parts.append(("head", f"new head: dense, {classes} classes", depth * classes + classes, "dense"))
    last = f"stage{len(stage_filters)}"
    regimes = [
        ("frozen feature extractor", {"head"}),
        ("fine-tune the last stage", {last, "head"}),
        ("fine-tune the whole network", {name for name, *_ in parts} - {"image", "pool"}),
    ]
    trains = [sum(count for name, _, count, _ in parts if name in trained) for _, trained in regimes]
    total = sum(count for *_, count, _ in parts)
    alt = (
        "Three copies of the course backbone with a new head, bottom to top: "
        + ", ".join(f"{text} ({_n(count)} trainable parameters)" if count else text for _, text, count, _ in parts)
        + ". "
        + "; ".join(f"{title}: {what}, {_n(n)} parameters" for (title, _), what, n in zip(
            regimes, ("only the head trains", f"stage {len(stage_filters)} and the head train", "every part trains"),
            trains))
        + ". The other parts are frozen."
    )
    width, height = 11.0, 0.75 + len(parts) * 0.72 + 0.9
    fig, ax = _canvas(width, height, "Transfer learning: what trains and what stays frozen", alt)
    bw, bh, gap = 3.2, 0.5, 0.22
    for (title, trained), n, x in zip(regimes, trains, (1.85, 5.5, 9.15)):
        _text(ax, x, height - 0.8, title, size=10, fontweight="bold")
        _text(ax, x, height - 1.1, f"trains {_n(n)} of {_n(total)} parameters", size=8, color="0.25")
        y = 0.75
        for i, (name, text, count, role) in enumerate(parts):
            cy = y + i * (bh + gap)
            frozen = count and name not in trained
            label = text if not count else f"{text}\n{_n(count)} parameters" + ("  (frozen)" if frozen else "")
            if frozen:
                _box(ax, x, cy, bw, bh, label, "frozen", size=7.5, hatch="///", fill=_tint(PALETTE["frozen"], 0.15))
            else:
                _box(ax, x, cy, bw, bh, label, role, size=7.5, lw=2.0 if count else 1.2)
            if i:
                _arrow(ax, (x, cy - bh / 2 - gap), (x, cy - bh / 2))
    _text(ax, width / 2, 0.25, "grey, hatched: frozen (not updated);  coloured: trained on the target task",
          size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 14: AlexNet's two GPUs


def _alexnet_columns(model):
    """AlexNet's layers as columns: convolutions and dense layers, with the poolings after them."""
    import keras

    from course_lib.layers import LocalResponseNormalization

    columns = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            columns.append({"name": layer.name, "kind": "conv", "filters": layer.filters,
                            "kernel": layer.kernel_size[0], "stride": layer.strides[0], "groups": layer.groups,
                            "shape": tuple(layer.output.shape[1:]), "extra": []})
        elif isinstance(layer, keras.layers.Dense):
            columns.append({"name": layer.name, "kind": "dense", "filters": layer.units, "groups": 1, "extra": []})
        elif isinstance(layer, LocalResponseNormalization) and columns:
            columns[-1]["extra"].append("LRN")
        elif isinstance(layer, keras.layers.MaxPooling2D) and columns:
            rows, cols = layer.output.shape[1:3]
            columns[-1]["extra"].append(f"pool {rows}x{cols}")
    if not columns or columns[0]["kind"] != "conv" or columns[-1]["kind"] != "dense":
        raise ValueError("`model` must be an AlexNet of course_lib.models (convolutions, then dense layers).")
    return columns


def alexnet_split(model=None):
    """AlexNet on two GPUs (Krizhevsky et al., 2012, figure 2 and section 3.2).

    Each GPU holds half of the filters (or units) of every layer. A grouped
    layer (`groups=2`: conv2, conv4, conv5) reads only the maps of its own
    GPU; conv3 and the dense layers read both halves, so the GPUs exchange
    maps there (vermillion arrows). The filters, windows, strides, groups and
    map sizes are read from `model`.

    Args:
        model: `course_lib.models.alexnet(...)`; None builds `alexnet()`
            (a few seconds: pass the notebook's model when there is one).

    Returns:
        The `Figure`.

    Example:

    >>> "conv3, fc1, fc2, predictions read the maps of both GPUs" in alt_text(alexnet_split())
    True
    """
    if model is None:
        from course_lib.models import alexnet

        model = alexnet()
    columns = _alexnet_columns(model)
    *layers, output = columns
    input_shape = _shape(model.input_shape)
    cross = [c["name"] for c in layers[1:] if c["groups"] == 1] + [output["name"]]
    own = [c["name"] for c in layers[1:] if c["groups"] != 1]

    def label(c):
        half = c["filters"] // 2
        if c["kind"] == "dense":
            return f"{c['name']}\n{half}\nunits"
        shape = c["shape"]
        lines = [c["name"], f"{half} filters", f"{c['kernel']}x{c['kernel']}, stride {c['stride']}",
                 f"{shape[0]}x{shape[1]}x{half}"]
        if c["extra"]:
            lines.append(", ".join(c["extra"]))
        return "\n".join(lines)

    alt = (
        f"AlexNet on two GPUs, drawn as two rows of layers after a {input_shape} input. Each GPU holds half of "
        "every layer: " + "; ".join(label(c).replace("\n", ", ") for c in layers)
        + f"; then {output['name']} with {output['filters']} outputs. "
        + f"{', '.join(own)} read only the maps of their own GPU; {', '.join(cross)} read the maps of both GPUs, "
        "so the GPUs communicate there."
    )
    bw, bh, wide_gap, narrow_gap = 0.95, 1.2, 0.55, 0.22
    xs, x = [], 0.75 + 0.45
    for i, c in enumerate(columns):
        x += (wide_gap if (i > 0 and c["groups"] == 1) or i == 0 else narrow_gap) + bw
        xs.append(x)
    width = xs[-1] + bw / 2 + 0.3
    height = 4.9
    fig, ax = _canvas(width, height, "AlexNet on two GPUs: half of every layer on each;\nthey exchange maps only "
                                     "where the arrows cross", alt)
    rows_y = (3.2, 1.65)
    for y, name in zip(rows_y, ("GPU 1", "GPU 2")):
        _text(ax, 0.25, y, name, size=9, rotation=90, fontweight="bold")
    x_in = 0.75
    _box(ax, x_in, sum(rows_y) / 2, 0.9, 0.9, f"input\n{input_shape}", "data", size=7)
    for i, c in enumerate(layers):
        x = xs[i]
        for g, y in enumerate(rows_y):
            _box(ax, x, y, bw, bh, label(c), "conv" if c["kind"] == "conv" else "dense", size=7)
            if i == 0:
                _arrow(ax, (x_in + 0.45, sum(rows_y) / 2 + (0.2 if g == 0 else -0.2)), (x - bw / 2, y))
                continue
            _arrow(ax, (xs[i - 1] + bw / 2, y), (x - bw / 2, y))
            if c["groups"] == 1:
                other = rows_y[1 - g]
                _arrow(ax, (xs[i - 1] + bw / 2, other + (0.3 if g else -0.3)), (x - bw / 2, y + (0.3 if g else -0.3)),
                       color=PALETTE["accent"], lw=1.6)
    x_out = xs[-1]
    _box(ax, x_out, sum(rows_y) / 2, bw, 1.1, f"{output['name']}\n{output['filters']}\nclasses", "dense", size=7)
    for g, y in enumerate(rows_y):
        _arrow(ax, (xs[-2] + bw / 2, y), (x_out - bw / 2, sum(rows_y) / 2 + (0.3 if g == 0 else -0.3)),
               color=PALETTE["accent"], lw=1.6)
    _text(ax, width / 2, 0.45, "black: within one GPU;  vermillion: across the GPUs, where "
                               f"{', '.join(cross)} read both halves", size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 15: three 3x3 convolutions or one 7x7


def stack_vs_large(channels=64, kernel_size=3, layers=3):
    """A stack of small convolutions against one large one with the same receptive field.

    Left, one axis of `layers` stacked `kernel_size` convolutions; right, one
    convolution of `layers * (kernel_size - 1) + 1`. Both see the same input
    pixels (`receptive_field_stack`); the stack has fewer weights for `C`
    channels in and out (`ops.conv2d_params` without biases: 27C² against
    49C² for three 3x3 and one 7x7) and one ReLU per layer.

    Args:
        channels: `C`, channels of every layer's input and output.
        kernel_size: the small kernel.
        layers: how many small convolutions.

    Returns:
        The `Figure`.

    Example:

    >>> "27C² weights, 110,592 for C = 64" in alt_text(stack_vs_large())
    True
    """
    from course_lib.widgets import receptive_field_stack

    C = check_positive_int(channels, "channels")
    k = check_positive_int(kernel_size, "kernel_size")
    L = check_positive_int(layers, "layers")
    if k < 2 or L > 5 or L * (k - 1) + 1 > 15:
        raise ValueError(
            f"`kernel_size` must be at least 2 and the stack's field at most 15 pixels to draw; received "
            f"kernel_size={k}, layers={L}."
        )
    big = L * (k - 1) + 1
    field_stack = receptive_field_stack([(k, 1)] * L)[-1].field
    field_big = receptive_field_stack([(big, 1)])[-1].field
    small_params = L * conv2d_params(k, C, C, use_bias=False)
    big_params = conv2d_params(big, C, C, use_bias=False)
    alt = (
        f"Left: {L} stacked {k}x{k} convolutions, drawn along one axis: {big} input pixels feed "
        + ", then ".join(str(big - i * (k - 1)) for i in range(1, L + 1))
        + f" units; the top unit sees {field_stack} pixels. It has {L} x {k}·{k}·C·C = {L * k * k}C² weights, "
        f"{_n(small_params)} for C = {C}, and {L} ReLUs. Right: one {big}x{big} convolution, the same field of "
        f"{field_big} pixels, {big}·{big}·C·C = {big * big}C² weights, {_n(big_params)} for C = {C}, and one ReLU."
    )
    unit, gap = 0.36, 0.9
    width = 2 * (big * unit + 0.6) + 3.0
    height = 1.1 + L * gap + 1.6
    fig, ax = _canvas(width, height, f"{L} stacked {k}x{k} convolutions or one {big}x{big}: the same field, "
                                     "fewer weights", alt)
    size = unit * 0.75

    def pyramid(x0, widths, title, lines):
        for depth, count in enumerate(widths):
            y = 1.5 + depth * gap
            offset = (big - count) / 2
            for i in range(count):
                cx = x0 + (offset + i + 0.5) * unit
                _cell(ax, cx - size / 2, y + size / 2, size,
                      _tint(PALETTE["data"], 0.4) if depth == 0 else _tint(PALETTE["conv"], 0.5))
                if depth:
                    below = widths[depth - 1]
                    kk = below - count + 1
                    for j in range(kk):
                        bx = x0 + ((big - below) / 2 + i + j + 0.5) * unit
                        ax.plot([cx, bx], [y - size / 2, y - gap + size / 2], color="0.6", lw=0.5)
        cx = x0 + big * unit / 2
        _text(ax, cx, height - 0.85, title, size=10, fontweight="bold")
        for i, line in enumerate(lines):
            _text(ax, cx, 0.95 - i * 0.28, line, size=8.5)

    pyramid(0.6, [big - i * (k - 1) for i in range(L + 1)], f"{L} x conv {k}x{k}, ReLU after each",
            [f"field {field_stack} x {field_stack};  {L} ReLUs",
             f"{L}·{k}·{k}·C·C = {L * k * k}C² = {_n(small_params)} (C = {C})"])
    pyramid(width - 0.6 - big * unit, [big, 1], f"1 x conv {big}x{big}, one ReLU",
            [f"field {field_big} x {field_big};  1 ReLU",
             f"{big}·{big}·C·C = {big * big}C² = {_n(big_params)} (C = {C})"])
    _text(ax, width / 2, 1.5 + L * gap / 2, "vs", size=14, color="0.3")
    return fig


# ---------------------------------------------------------------------------
# 16: Network in Network


def mlpconv_block(input_shape=(8, 8, 192), filters=192, kernel_size=3, mlp_filters=(192, 10)):
    """Network in Network's mlpconv block: a convolution, then 1x1 convolutions.

    The defaults are block 3 of `course_lib.models.nin` on CIFAR-10, whose
    last 1x1 convolution makes one map per class. Each box gives the layer's
    window, filters, output shape and parameters (`ops.conv2d_params`, with
    biases); a 1x1 convolution is a dense layer applied to every pixel's
    depth vector.

    Args:
        input_shape: `(rows, cols, channels)` of the block's input.
        filters: filters of the first (spatial) convolution.
        kernel_size: its window.
        mlp_filters: filters of the 1x1 convolutions that follow.

    Returns:
        The `Figure`.

    Example:

    >>> "1x1 conv, 10 filters, ReLU, output 8x8x10, 1,930 parameters" in alt_text(mlpconv_block())
    True
    """
    rows, cols, depth = (check_positive_int(v, "input_shape") for v in input_shape)
    filters = check_positive_int(filters, "filters")
    k = check_positive_int(kernel_size, "kernel_size")
    mlp = check_positive_ints(mlp_filters, "mlp_filters")
    if not 1 <= len(mlp) <= 3:
        raise ValueError(f"`mlp_filters` must hold 1 to 3 sizes; received mlp_filters={mlp_filters!r}.")
    steps = [(f"{k}x{k} conv, {filters} filters, ReLU", k, depth, filters)]
    previous = filters
    for units in mlp:
        steps.append((f"1x1 conv, {units} filters, ReLU", 1, previous, units))
        previous = units
    params = [conv2d_params(kk, cin, cout) for _, kk, cin, cout in steps]
    alt = (
        f"The mlpconv block on a {rows}x{cols}x{depth} input, bottom to top: "
        + "; ".join(f"{text}, output {rows}x{cols}x{cout}, {_n(p)} parameters"
                    for (text, _, _, cout), p in zip(steps, params))
        + ". Each 1x1 convolution is a dense layer from the depth vector of one pixel to the next, the same "
        "at every pixel: together the 1x1 layers are a small multi-layer perceptron slid over the image."
    )
    width, height = 8.2, 0.7 + len(steps) * 1.0 + 1.05
    fig, ax = _canvas(width, height, "The mlpconv block: a convolution, then a small MLP at every pixel", alt)
    x, bw, bh, gap = 3.0, 3.6, 0.55, 0.45
    texts = [f"input {rows}x{cols}x{depth}"] + [
        f"{text}\n→ {rows}x{cols}x{cout},  {_n(p)} parameters" for (text, _, _, cout), p in zip(steps, params)]
    roles = ["data"] + ["conv"] * len(steps)
    centres = _flow_up(ax, x, 0.7, list(zip(texts, roles)), bw, bh, gap)
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - bw / 2 - 0.15, centres[1] - bh / 2 - 0.12), bw + 0.3,
                                centres[-1] - centres[1] + bh + 0.24, boxstyle="round,pad=0.02",
                                fill=False, edgecolor="0.4", linestyle=":", linewidth=1.2))
    _text(ax, x - bw / 2 - 0.3, (centres[1] + centres[-1]) / 2, "mlpconv", rotation=90, size=9, color="0.3")
    tx = x + bw / 2 + 0.35
    _text(ax, tx, (centres[2] + centres[-1]) / 2 if len(centres) > 2 else centres[-1],
          "a 1x1 convolution = a dense layer\napplied to each pixel's depth vector,\n"
          "with the same weights at every pixel", ha="left", size=8.5)
    _text(ax, tx, centres[1], f"the only layer that looks\nat neighbours: {k}x{k} window", ha="left", size=8.5)
    return fig


def gap_vs_flatten(input_shape=(8, 8, 192), classes=10):
    """Two heads on the last feature maps: Flatten + Dense against class maps + global average pooling.

    Top, the classic head: flatten the `rows x cols x channels` maps into a
    vector and apply a dense layer to `classes` outputs. Bottom, NiN's head:
    a 1x1 convolution to one map per class, then global average pooling (no
    parameters) and softmax. Parameter counts by formula (`ops.conv2d_params`,
    a dense layer's `inputs * units + units`).

    Args:
        input_shape: the last feature maps, `(rows, cols, channels)`; the
            default is block 3's input in `course_lib.models.nin`.
        classes: number of classes.

    Returns:
        The `Figure`.

    Example:

    >>> "a dense layer to 10 outputs with 122,890 parameters" in alt_text(gap_vs_flatten())
    True
    """
    rows, cols, depth = (check_positive_int(v, "input_shape") for v in input_shape)
    classes = check_positive_int(classes, "classes")
    flat = rows * cols * depth
    dense = flat * classes + classes
    conv = conv2d_params(1, depth, classes)
    alt = (
        f"Two heads on {rows}x{cols}x{depth} feature maps. Top: Flatten to a vector of {_n(flat)} values, then a "
        f"dense layer to {classes} outputs with {_n(dense)} parameters, and softmax. Bottom: a 1x1 convolution "
        f"to {classes} maps of {rows}x{cols} ({_n(conv)} parameters), global average pooling, which averages "
        f"each map into one score and has no parameters, and softmax. The GAP head accepts maps of any size."
    )
    width, height = 11.0, 3.9
    fig, ax = _canvas(width, height, "Flatten + dense against global average pooling", alt)
    bw, bh = 2.1, 0.72
    xs = (1.3, 4.0, 6.7, 9.4)
    top = [(f"maps {rows}x{cols}x{depth}", "data"), (f"Flatten\n→ {_n(flat)} values", "data"),
           (f"dense, {classes} units\n{_n(dense)} parameters", "dense"), (f"softmax\n{classes} classes", "data")]
    bottom = [(f"maps {rows}x{cols}x{depth}", "data"),
              (f"1x1 conv, {classes} filters\n→ {rows}x{cols}x{classes},  {_n(conv)} parameters", "conv"),
              (f"global average pooling\n→ {classes} values, 0 parameters", "pool"),
              (f"softmax\n{classes} classes", "data")]
    for y, steps, title in ((2.55, top, "classic head"), (1.0, bottom, "NiN: one map per class, then GAP")):
        _text(ax, 0.25, y + 0.62, title, ha="left", size=9, fontweight="bold")
        for i, ((text, role), x) in enumerate(zip(steps, xs)):
            _box(ax, x, y, bw if i != 1 or y > 2 else bw + 0.3, bh, text, role, size=8)
            if i:
                half = (bw if i != 1 or y > 2 else bw + 0.3) / 2
                prev_half = (bw if i - 1 != 1 or y > 2 else bw + 0.3) / 2
                _arrow(ax, (xs[i - 1] + prev_half, y), (x - half, y))
    return fig


# ---------------------------------------------------------------------------
# 17: the Inception module


def inception_module(filters=None, input_shape=(28, 28, 192), name=None):
    """The Inception module: four parallel branches, concatenated along the depth.

    Bottom to top, as in the paper's figure 2(b): a 1x1 convolution; a 1x1
    reduction then a 3x3 convolution; a 1x1 reduction then a 5x5 convolution;
    a 3x3 max pooling (stride 1) then a 1x1 projection. Every branch keeps the
    rows and columns ("same" padding), so their maps stack into one volume
    whose depth is the sum of theirs. The branches' shapes come from
    `course_lib.layers.InceptionModule`'s `compute_output_shape`.

    Args:
        filters: `(1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)`, as
            `InceptionModule` takes them (0 drops a reduction or the
            projection); None is GoogLeNet's module 3a
            (`models.googlenet.GOOGLENET_LAYOUT`).
        input_shape: `(rows, cols, channels)` of the module's input (3a's:
            28x28x192).
        name: the module's name in the title (3a's by default).

    Returns:
        The `Figure`.

    Example:

    >>> "64 + 128 + 32 + 32 = 256 maps" in alt_text(inception_module())
    True
    """
    from course_lib.layers import InceptionModule
    from course_lib.models.googlenet import GOOGLENET_LAYOUT

    if filters is None:
        name, *filters = GOOGLENET_LAYOUT[0] if name is None else (name, *GOOGLENET_LAYOUT[0][1:])
    if not isinstance(filters, (list, tuple)) or len(filters) != 6:
        raise ValueError(f"`filters` must hold 6 filter counts; received filters={filters!r}.")
    rows, cols, depth = (check_positive_int(v, "input_shape") for v in input_shape)
    module = InceptionModule(*filters)
    f1, r3, f3, r5, f5, proj = filters
    out_depth = module.compute_output_shape((None, rows, cols, depth))[-1]
    branches = []
    if f1:
        branches.append([(f"1x1 conv, {f1}", "conv")])
    branches.append(([(f"1x1 conv, {r3}", "conv")] if r3 else []) + [(f"3x3 conv, {f3}", "conv")])
    branches.append(([(f"1x1 conv, {r5}", "conv")] if r5 else []) + [(f"5x5 conv, {f5}", "conv")])
    branches.append([("3x3 max pool, stride 1", "pool")] + ([(f"1x1 conv, {proj}", "conv")] if proj else []))
    depths = [f1] if f1 else []
    depths += [f3, f5, proj or depth]
    title_name = f" ({name})" if name else ""
    alt = (
        f"The Inception module{title_name} on a {rows}x{cols}x{depth} input. Four branches run side by side: "
        + "; ".join(" then ".join(text for text, _ in b) + f", giving {rows}x{cols}x{d}"
                    for b, d in zip(branches, depths))
        + f". Their outputs are concatenated along the depth: {' + '.join(map(str, depths))} = {out_depth} maps, "
        f"{rows}x{cols}x{out_depth}."
    )
    width, height = 10.0, 5.3
    fig, ax = _canvas(width, height, f"The Inception module{title_name}: four branches, concatenated", alt)
    bw, bh = 2.05, 0.5
    xs = np.linspace(1.35, width - 1.35, len(branches))
    _box(ax, width / 2, 0.55, 3.6, 0.5, f"previous layer: {rows}x{cols}x{depth}", "data")
    y_top = 4.05
    _box(ax, width / 2, y_top, 5.2, 0.55,
         f"depth concatenation: {' + '.join(map(str, depths))} = {out_depth}  →  {rows}x{cols}x{out_depth}", "merge")
    for x, branch, d in zip(xs, branches, depths):
        ys = [1.55 + i * 0.95 for i in range(len(branch))] if len(branch) > 1 else [2.0]
        for (text, role), y in zip(branch, ys):
            _box(ax, x, y, bw, bh, text, role, size=8.5)
        _arrow(ax, (width / 2 + (x - width / 2) * 0.3, 0.8), (x, ys[0] - bh / 2))
        for y0, y1 in zip(ys, ys[1:]):
            _arrow(ax, (x, y0 + bh / 2), (x, y1 - bh / 2))
        _arrow(ax, (x, ys[-1] + bh / 2), (width / 2 + (x - width / 2) * 0.55, y_top - 0.275))
        _text(ax, x + 0.08, (ys[-1] + bh / 2 + y_top - 0.275) / 2 + 0.05, f"{rows}x{cols}x{d}", ha="left", size=7.5,
              color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 18: residual blocks


def _residual_panel(ax, cx, steps, shortcut, in_label, out_label, title, params, final_relu=True):
    """One residual block, bottom to top: its branch, the shortcut on the right, the sum, the ReLU."""
    from matplotlib.patches import Circle

    bw, bh, gap = 2.3, 0.5, 0.28
    _text(ax, cx, 0.35, in_label, size=8.5)
    base = 0.95
    centres = _flow_up(ax, cx, base, steps, bw, bh, gap, size=8)
    _arrow(ax, (cx, 0.5), (cx, base - bh / 2))
    add_y = centres[-1] + bh / 2 + 0.45
    ax.add_patch(Circle((cx, add_y), 0.17, facecolor=_tint(PALETTE["merge"], 0.3), edgecolor=PALETTE["merge"]))
    _text(ax, cx, add_y, "+", size=12)
    _arrow(ax, (cx, centres[-1] + bh / 2), (cx, add_y - 0.17))
    # The shortcut: from the input, up the right side, into the sum.
    sx = cx + bw / 2 + (0.85 if shortcut else 0.45)
    ax.plot([cx, sx], [0.62, 0.62], color=PALETTE["merge"], lw=1.6)
    if shortcut:
        mid = (0.62 + add_y) / 2
        _box(ax, sx, mid, 1.3, 0.75, shortcut, "conv", size=7.5)
        ax.plot([sx, sx], [0.62, mid - 0.375], color=PALETTE["merge"], lw=1.6)
        ax.plot([sx, sx], [mid + 0.375, add_y], color=PALETTE["merge"], lw=1.6)
    else:
        ax.plot([sx, sx], [0.62, add_y], color=PALETTE["merge"], lw=1.6)
        _text(ax, sx + 0.08, (0.62 + add_y) / 2, "identity", ha="left", size=8, rotation=90, color=PALETTE["merge"])
    _arrow(ax, (sx, add_y), (cx + 0.17, add_y), color=PALETTE["merge"], lw=1.6)
    top = add_y + 0.17
    if final_relu:
        _box(ax, cx, add_y + 0.65, 1.0, 0.4, "ReLU", "data", size=8)
        _arrow(ax, (cx, top), (cx, add_y + 0.45))
        top = add_y + 0.85
    _arrow(ax, (cx, top), (cx, top + 0.3))
    _text(ax, cx, top + 0.45, out_label, size=8.5)
    _text(ax, cx + 0.2, top + 0.95, title, size=9.5, fontweight="bold")
    _text(ax, cx + 0.2, top + 0.7, f"{_n(params)} trainable parameters", size=8, color="0.25")


def residual_shortcuts(filters=64, input_shape=(56, 56, 64)):
    """ResNet's basic block with an identity shortcut, and with a projection shortcut.

    Left: `ResidualBlock(filters)` keeps the shape, so the input is added as it
    is. Right: `ResidualBlock(2 * filters, strides=2)` halves the rows and
    doubles the depth, so the shortcut is a 1x1 convolution with stride 2
    (and BatchNormalization) that gives the input the branch's shape. Shapes
    from the layers' `compute_output_shape`; parameters by formula
    (`ops.conv2d_params`, BatchNormalization's scale and offset).

    Args:
        filters: filters of the identity block (the projection block has twice
            as many).
        input_shape: `(rows, cols, channels)` of both blocks' input; its
            depth must equal `filters` for the identity shortcut.

    Returns:
        The `Figure`.

    Example:

    >>> "output 56x56x64, 73,984 trainable parameters" in alt_text(residual_shortcuts())
    True
    """
    from course_lib.layers import ResidualBlock

    f = check_positive_int(filters, "filters")
    rows, cols, depth = (check_positive_int(v, "input_shape") for v in input_shape)
    if depth != f:
        raise ValueError(f"`input_shape` must have `filters` ({f}) channels for the identity shortcut; "
                         f"received input_shape={tuple(input_shape)}.")
    shape_in = (None, rows, cols, depth)
    same = ResidualBlock(f).compute_output_shape(shape_in)
    down = ResidualBlock(2 * f, strides=2).compute_output_shape(shape_in)
    p_same, p_down = _residual_block_params(depth, f), _residual_block_params(depth, 2 * f, 2)
    alt = (
        f"Two basic residual blocks, bottom to top. Left, identity shortcut: a {_shape(shape_in)} input goes "
        f"through a 3x3 convolution with {f} filters, BN and ReLU, then a 3x3 convolution with {f} filters and "
        f"BN; the input itself is added to the result, then a ReLU: output {_shape(same)}, {_n(p_same)} trainable "
        f"parameters. Right, projection shortcut: the first 3x3 convolution has {2 * f} filters and stride 2, so "
        f"the branch gives {_shape(down)}; the shortcut is a 1x1 convolution with {2 * f} filters and stride 2, "
        f"then BN, which gives the input the same shape before the sum: {_n(p_down)} trainable parameters."
    )
    width, height = 10.0, 5.3
    fig, ax = _canvas(width, height, "Residual blocks: y = ReLU(F(x) + shortcut(x))", alt)
    _residual_panel(ax, 2.4, [(f"3x3 conv, {f}, BN, ReLU", "conv"), (f"3x3 conv, {f}, BN", "conv")], None,
                    f"x: {_shape(shape_in)}", f"{_shape(same)}", "identity shortcut", p_same)
    _residual_panel(ax, 6.8, [(f"3x3 conv, {2 * f}, stride 2,\nBN, ReLU", "conv"), (f"3x3 conv, {2 * f}, BN", "conv")],
                    f"1x1 conv, {2 * f}\nstride 2, BN", f"x: {_shape(shape_in)}", f"{_shape(down)}",
                    "projection shortcut", p_down)
    return fig


def bottleneck_block(filters=64, expansion=4, input_shape=(56, 56, 256), use_bias=True):
    """ResNet-50's bottleneck block: reduce with 1x1, work at 3x3, restore with 1x1.

    `BottleneckBlock(filters, expansion=expansion)` on an input as deep as its
    output (an identity shortcut), shapes from `compute_output_shape` and
    parameters by formula. The 3x3 convolution works on `filters` channels
    instead of `expansion * filters`.

    Args:
        filters: depth of the 1x1 reduction and of the 3x3 convolution.
        expansion: the output has `expansion * filters` channels.
        input_shape: `(rows, cols, channels)`, with `expansion * filters`
            channels.
        use_bias: whether the convolutions have biases (Keras's ResNet50's do).

    Returns:
        The `Figure`.

    Example:

    >>> "56x56x256, 70,784 trainable parameters" in alt_text(bottleneck_block())
    True
    """
    from course_lib.layers import BottleneckBlock

    f = check_positive_int(filters, "filters")
    e = check_positive_int(expansion, "expansion")
    rows, cols, depth = (check_positive_int(v, "input_shape") for v in input_shape)
    if depth != e * f:
        raise ValueError(f"`input_shape` must have expansion * filters ({e * f}) channels for the identity "
                         f"shortcut; received input_shape={tuple(input_shape)}.")
    shape_in = (None, rows, cols, depth)
    shape_out = BottleneckBlock(f, expansion=e, use_bias=use_bias).compute_output_shape(shape_in)
    params = _bottleneck_params(depth, f, e, use_bias=use_bias)
    plain = _residual_block_params(depth, depth, use_bias=use_bias)
    alt = (
        f"The bottleneck block, bottom to top: a {_shape(shape_in)} input; a 1x1 convolution reduces it to {f} "
        f"channels (BN, ReLU); a 3x3 convolution with {f} filters (BN, ReLU); a 1x1 convolution restores "
        f"{e * f} channels (BN); the input is added through an identity shortcut, then a ReLU: output "
        f"{_shape(shape_out)}, {_n(params)} trainable parameters, against {_n(plain)} for two 3x3 convolutions "
        f"at {depth} channels."
    )
    width, height = 7.4, 5.9
    fig, ax = _canvas(width, height, f"The bottleneck block: {depth} → {f} → {f} → {e * f} channels", alt)
    _residual_panel(ax, 2.6, [(f"1x1 conv, {f}, BN, ReLU", "conv"), (f"3x3 conv, {f}, BN, ReLU", "conv"),
                              (f"1x1 conv, {e * f}, BN", "conv")], None, f"x: {_shape(shape_in)}",
                    f"{_shape(shape_out)}", "bottleneck, identity shortcut", params)
    _text(ax, 5.05, 2.2, f"two 3x3 convolutions\nat {depth} channels would\nhave {_n(plain)}\ntrainable parameters",
          ha="left", size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 19: depthwise separable convolution


def separable_conv(in_channels=32, filters=64, kernel_size=3, input_size=112):
    """A depthwise separable convolution: one filter per channel, then 1x1 filters that mix channels.

    The defaults are the first block of MobileNet (`DepthwiseSeparableConv(64)`
    on 112x112x32). Weights by the lecture's formula `K·H·W + N_F·K`
    (`ops.conv2d_params` for the pointwise and the standard convolutions, no
    biases) and multiply-adds at stride 1 with "same" padding
    (`ops.conv2d_macs`).

    Args:
        in_channels: `K`, channels of the input.
        filters: `N_F`, output channels of the pointwise convolution.
        kernel_size: the depthwise window.
        input_size: rows (and columns) of the square input.

    Returns:
        The `Figure`.

    Example:

    >>> "In all 2,336 weights" in alt_text(separable_conv())
    True
    """
    K = check_positive_int(in_channels, "in_channels")
    F = check_positive_int(filters, "filters")
    k = check_positive_int(kernel_size, "kernel_size")
    R = check_positive_int(input_size, "input_size")
    depthwise = K * k * k
    pointwise = conv2d_params(1, K, F, use_bias=False)
    standard = conv2d_params(k, K, F, use_bias=False)
    macs_dw = R * R * K * k * k
    macs_pw = conv2d_macs((R, R, K), 1, F)
    macs_std = conv2d_macs((R, R, K), k, F, padding="same")
    alt = (
        f"A depthwise separable convolution on a {R}x{R}x{K} input. Depthwise: each of the {K} channels is "
        f"filtered by its own {k}x{k} filter, giving {K} maps of {R}x{R}: {K}·{k}·{k} = {_n(depthwise)} weights. "
        f"Pointwise: {F} filters of 1x1x{K} each mix all {K} maps at every pixel into {F} maps: {K}·{F} = "
        f"{_n(pointwise)} weights. In all {_n(depthwise + pointwise)} weights and {_n(macs_dw + macs_pw)} "
        f"multiply-adds, against {_n(standard)} weights and {_n(macs_std)} multiply-adds for a standard {k}x{k} "
        f"convolution from {K} to {F} channels."
    )
    width, height = 11.0, 6.0
    fig, ax = _canvas(width, height, f"Depthwise, then pointwise: {K} → {F} channels with "
                                     f"{standard / (depthwise + pointwise):.1f} times fewer weights", alt)
    shown = min(K, 3)
    ys = [4.2 - i * 0.85 for i in range(shown)]
    channel_names = [f"channel {i + 1}" for i in range(shown - 1)] + [f"channel {K}"]
    if K > shown:
        ys[-1] -= 0.45
    sq, ker = 0.55, 0.36
    _text(ax, 2.5, 5.15, f"depthwise: one {k}x{k} filter per channel", size=10, fontweight="bold")
    _text(ax, 7.9, 5.15, f"pointwise: {F} filters of 1x1x{K}", size=10, fontweight="bold")
    for i, (y, name) in enumerate(zip(ys, channel_names)):
        _cell(ax, 0.55, y + sq / 2, sq, _tint(PALETTE["data"], 0.45))
        _text(ax, 0.55 + sq / 2, y - sq / 2 - 0.13, name, size=7.5)
        _arrow(ax, (1.15, y), (1.95, y))
        _cell(ax, 2.0, y + ker / 2, ker, _tint(PALETTE["conv"], 0.6), text=f"{k}x{k}", text_size=7)
        _arrow(ax, (2.42, y), (3.3, y))
        _cell(ax, 3.35, y + sq / 2, sq, _tint(PALETTE["data"], 0.45))
        _text(ax, 3.35 + sq / 2, y - sq / 2 - 0.13, f"map {i + 1 if i < shown - 1 else K}", size=7.5)
        _arrow(ax, (3.95, y), (6.15, 3.3), color="0.45", lw=0.9)
    if K > shown:
        for x in (0.55 + sq / 2, 3.35 + sq / 2):
            _text(ax, x, (ys[-2] + ys[-1]) / 2, "⋮", size=14)
    _text(ax, 0.55 + sq / 2, 4.85, f"input {R}x{R}x{K}", size=8.5)
    _text(ax, 3.35 + sq / 2, 4.85, f"{K} maps {R}x{R}", size=8.5)
    # One pointwise filter: a 1x1 column through the K maps.
    fx, cells = 6.2, min(K, 6)
    for i in range(cells):
        _cell(ax, fx, 3.3 + cells * 0.13 - i * 0.26, 0.26, _tint(PALETTE["conv"], 0.6))
    _text(ax, fx + 0.13, 3.3 + cells * 0.13 + 0.25, f"one 1x1x{K} filter", size=7.5)
    _arrow(ax, (fx + 0.35, 3.3), (7.25, 3.3))
    for j in range(3):
        _cell(ax, 7.3 + j * 0.12, 3.3 + sq / 2 + j * 0.12, sq, _tint(PALETTE["data"], 0.45))
    _text(ax, 7.85, 2.7, f"× {F} filters → {F} maps, {R}x{R}x{F}", ha="left", size=8.5)
    _text(ax, 7.85, 2.45, f"each output pixel mixes the {K} values\nof one pixel, nothing around it", ha="left",
          size=8, va="top", color="0.25")
    lines = [
        f"depthwise: K·k·k = {K}·{k}·{k} = {_n(depthwise)} weights;   pointwise: K·N_F = {K}·{F} = "
        f"{_n(pointwise)} weights;   together {_n(depthwise + pointwise)}",
        f"a standard {k}x{k} convolution: k·k·K·N_F = {k}·{k}·{K}·{F} = {_n(standard)} weights",
        f"multiply-adds at {R}x{R}: {_n(macs_dw)} + {_n(macs_pw)} = {_n(macs_dw + macs_pw)} against {_n(macs_std)}",
    ]
    for i, line in enumerate(lines):
        _text(ax, width / 2, 1.15 - i * 0.32, line, size=9)
    return fig


# ---------------------------------------------------------------------------
# 20: Wide ResNet, ResNeXt, DenseNet


def _preact_block_params(in_channels, filters):
    """Trainable parameters of `ResidualBlock(filters, preactivation=True)` (identity shortcut)."""
    return (_bn_trainable(in_channels) + conv2d_params(3, in_channels, filters, False)
            + _bn_trainable(filters) + conv2d_params(3, filters, filters, False))


def wide_block(width=10, base_filters=16, input_size=32):
    """Wide ResNet: the same pre-activation block, `width` times more filters.

    Left, a block of a thin ResNet (`base_filters` filters); right, the same
    block in Wide ResNet's first group, with `width * base_filters` filters:
    box widths are proportional to the filters, and the weights grow with
    the square of the width. Parameters by formula, for blocks whose input has
    as many channels as they have filters (`wide_resnet(depth, width)`'s
    group 1 after its first block).

    Args:
        width: the widening factor k (10 in WRN-28-10).
        base_filters: filters of the thin network's first group (16).
        input_size: rows (and columns) of the maps in that group.

    Returns:
        The `Figure`.

    Example:

    >>> "160 filters on 32x32x160 maps, 461,440 trainable parameters" in alt_text(wide_block())
    True
    """
    k = check_positive_int(width, "width")
    f = check_positive_int(base_filters, "base_filters")
    size = check_positive_int(input_size, "input_size")
    thin, wide = _preact_block_params(f, f), _preact_block_params(k * f, k * f)
    alt = (
        f"Two pre-activation residual blocks, bottom to top: BN, ReLU, 3x3 convolution, BN, ReLU, 3x3 "
        f"convolution, plus the identity shortcut. Left, thin: {f} filters on {size}x{size}x{f} maps, "
        f"{_n(thin)} trainable parameters. Right, wide with k = {k}: {k * f} filters on {size}x{size}x{k * f} "
        f"maps, {_n(wide)} trainable parameters, about k² = {k * k} times more. The boxes' widths are "
        "proportional to the filters."
    )
    fig_w, height = 10.5, 5.2
    fig, ax = _canvas(fig_w, height, f"Wide ResNet: the same block, {k} times wider", alt)
    widest = 3.6
    for cx, filters, params, title in ((1.6, f, thin, f"thin: {f} filters"),
                                       (6.4, k * f, wide, f"wide, k = {k}: {k * f} filters")):
        bw = max(0.2, widest * filters / (k * f))
        ys = (1.25, 2.25)
        _text(ax, cx, 0.45, f"{size}x{size}x{filters}", size=8.5)
        _arrow(ax, (cx, 0.6), (cx, ys[0] - 0.25))
        for y, text in zip(ys, (f"BN, ReLU, 3x3 conv, {filters}", f"BN, ReLU, 3x3 conv, {filters}")):
            _box(ax, cx, y, bw, 0.5, "", "conv")
            if bw >= 2.5:
                _text(ax, cx, y, text, size=8)
            else:
                _text(ax, cx + bw / 2 + 0.12, y, text, ha="left", size=8)
        _arrow(ax, (cx, ys[0] + 0.25), (cx, ys[1] - 0.25))
        from matplotlib.patches import Circle

        add_y = 3.15
        ax.add_patch(Circle((cx, add_y), 0.17, facecolor=_tint(PALETTE["merge"], 0.3), edgecolor=PALETTE["merge"]))
        _text(ax, cx, add_y, "+", size=12)
        _arrow(ax, (cx, ys[1] + 0.25), (cx, add_y - 0.17))
        sx = cx - max(bw / 2, 0.1) - 0.35
        ax.plot([cx, sx, sx], [0.72, 0.72, add_y], color=PALETTE["merge"], lw=1.6)
        _arrow(ax, (sx, add_y), (cx - 0.17, add_y), color=PALETTE["merge"], lw=1.6)
        _arrow(ax, (cx, add_y + 0.17), (cx, add_y + 0.5))
        _text(ax, cx, add_y + 0.65, f"{size}x{size}x{filters}", size=8.5)
        _text(ax, cx + 0.6, 4.35, title, size=10, fontweight="bold")
        _text(ax, cx + 0.6, 4.05, f"{_n(params)} trainable parameters", size=8.5, color="0.25")
    _text(ax, fig_w / 2, 0.15, f"box widths proportional to the filters;  {_n(wide)} / {_n(thin)} = "
                               f"{wide / thin:.1f}, about k² = {k * k}", size=8, color="0.25")
    return fig


def resnext_block(filters=128, cardinality=32, input_shape=(56, 56, 256)):
    """ResNeXt's block: `cardinality` paths of the same shape, summed = one grouped convolution.

    Left, the block as the paper draws it (figure 1): `cardinality` paths of
    width `filters // cardinality` (1x1, 3x3, 1x1), summed, plus the shortcut.
    Right, the same function as `ResNeXtBlock(filters, cardinality)` computes
    it: a bottleneck whose 3x3 convolution is grouped. Both have the same
    convolution weights (`ops.conv2d_params` without biases, counted for each
    form).

    Args:
        filters: width of the grouped 3x3 stage (cardinality x path width).
        cardinality: number of paths (groups).
        input_shape: the block's input; ResNeXt's output depth is
            `2 * filters`, and the defaults (ResNeXt-50 32x4d's first stage)
            have the same depth in and out.

    Returns:
        The `Figure`.

    Example:

    >>> "32 x 2,192 = 70,144 convolution weights" in alt_text(resnext_block())
    True
    """
    from course_lib.layers import ResNeXtBlock

    f = check_positive_int(filters, "filters")
    C = check_positive_int(cardinality, "cardinality")
    rows, cols, depth = (check_positive_int(v, "input_shape") for v in input_shape)
    block = ResNeXtBlock(f, cardinality=C)  # checks that the cardinality divides the filters
    d = block.bottleneck_width
    out = block.compute_output_shape((None, rows, cols, depth))[-1]
    per_path = (conv2d_params(1, depth, d, False) + conv2d_params(3, d, d, False)
                + conv2d_params(1, d, out, False))
    grouped = (conv2d_params(1, depth, f, False) + 9 * d * f + conv2d_params(1, f, out, False))
    alt = (
        f"Two drawings of the same ResNeXt block on a {rows}x{cols}x{depth} input. Left: {C} paths, each a 1x1 "
        f"convolution from {depth} to {d} channels, a 3x3 convolution with {d} filters and a 1x1 convolution "
        f"back to {out}; the {C} outputs are summed and added to the shortcut: {C} x {_n(per_path)} = "
        f"{_n(C * per_path)} convolution weights. Right: a 1x1 convolution to {f} channels, a 3x3 convolution "
        f"with {f} filters in {C} groups of {d}, and a 1x1 convolution to {out}: {_n(grouped)} weights, the same."
    )
    width, height = 11.0, 5.6
    fig, ax = _canvas(width, height, f"ResNeXt: {C} paths of width {d}, summed = a grouped convolution", alt)
    _text(ax, 3.1, 4.85, f"{C} paths, summed (paper's figure 1)", size=10, fontweight="bold")
    _text(ax, 8.55, 4.85, "one grouped convolution (ResNeXtBlock)", size=10, fontweight="bold")
    _box(ax, 3.1, 0.55, 2.2, 0.42, f"input {rows}x{cols}x{depth}", "data", size=8)
    paths = [1, 2, C] if C > 2 else list(range(1, C + 1))
    xs = [1.0, 2.2, 4.8][: len(paths)] if C > 2 else [1.6 + 1.5 * i for i in range(len(paths))]
    from matplotlib.patches import Circle

    for x, p in zip(xs, paths):
        steps = [(f"1x1, {d}", "conv"), (f"3x3, {d}", "conv"), (f"1x1, {out}", "conv")]
        centres = _flow_up(ax, x, 1.45, steps, 1.0, 0.36, 0.28, size=7.5)
        _arrow(ax, (3.1, 0.76), (x, centres[0] - 0.18))
        _arrow(ax, (x, centres[-1] + 0.18), (3.1 - 0.12 * np.sign(3.1 - x), 3.45), lw=0.9)
        side = 1 if x > 3.1 else -1
        _text(ax, x + side * 0.1, centres[-1] + 0.35, f"path {p}", size=7, color="0.3",
              ha="left" if side > 0 else "right")
    if C > 3:
        _text(ax, 3.5, 2.1, f"⋯  {C - 3} more  ⋯", size=8.5)
    ax.add_patch(Circle((3.1, 3.62), 0.17, facecolor=_tint(PALETTE["merge"], 0.3), edgecolor=PALETTE["merge"]))
    _text(ax, 3.1, 3.62, "+", size=12)
    _arrow(ax, (3.1, 3.79), (3.1, 4.15))
    _text(ax, 3.1, 4.3, f"{rows}x{cols}x{out} (+ shortcut, ReLU)", size=8)
    _text(ax, 3.1, 0.12, f"{C} x ({depth}·{d} + 3·3·{d}·{d} + {d}·{out}) = {_n(C * per_path)} weights", size=8.5)
    steps = [(f"1x1 conv, {f}", "conv"), (f"3x3 conv, {f}, {C} groups of {d}", "conv"), (f"1x1 conv, {out}", "conv")]
    centres = _flow_up(ax, 8.55, 1.45, steps, 2.9, 0.42, 0.42, size=8)
    _box(ax, 8.55, 0.55, 2.2, 0.42, f"input {rows}x{cols}x{depth}", "data", size=8)
    _arrow(ax, (8.55, 0.76), (8.55, centres[0] - 0.21))
    _arrow(ax, (8.55, centres[-1] + 0.21), (8.55, 4.15))
    _text(ax, 8.55, 4.3, f"{rows}x{cols}x{out} (+ shortcut, ReLU)", size=8)
    _text(ax, 8.55, 0.12, f"{depth}·{f} + 3·3·{d}·{f} + {f}·{out} = {_n(grouped)} weights", size=8.5)
    _text(ax, 5.95, 2.5, "=", size=20)
    return fig


def dense_block(num_layers=6, growth_rate=32, input_channels=64, bottleneck=True):
    """A dense block: every layer reads the concatenation of all earlier maps and adds `growth_rate`.

    One row per layer: the stack it reads (the block's input and every
    earlier layer's maps, widths proportional to their depths), the layer,
    and the `growth_rate` maps it appends. The defaults are DenseNet-121's
    first block (`DenseBlock(6, growth_rate=32)` on 64 channels); the output
    depth comes from `DenseBlock.compute_output_shape`.

    Args:
        num_layers: layers in the block (at most 8, to draw).
        growth_rate: maps each layer adds (k).
        input_channels: `k0`, the block's input depth.
        bottleneck: whether each layer starts with a 1x1 convolution to
            `4 * growth_rate` maps (DenseNet-B).

    Returns:
        The `Figure`.

    Example:

    >>> "The block outputs 64 + 6·32 = 256 maps" in alt_text(dense_block())
    True
    """
    from course_lib.layers import DenseBlock

    L = check_positive_int(num_layers, "num_layers")
    k = check_positive_int(growth_rate, "growth_rate")
    k0 = check_positive_int(input_channels, "input_channels")
    if L > 8:
        raise ValueError(f"`num_layers` must be at most 8 to draw; received num_layers={L}.")
    out = DenseBlock(L, k, bottleneck=bottleneck).compute_output_shape((None, 8, 8, k0))[-1]
    layer_text = (f"BN, ReLU, 1x1 conv {4 * k}, BN, ReLU, 3x3 conv {k}" if bottleneck
                  else f"BN, ReLU, 3x3 conv {k}")
    reads = [k0 + i * k for i in range(L)]
    alt = (
        f"A dense block of {L} layers with growth rate {k} on {k0} input channels. Layer 1 reads the {k0} input "
        f"maps; each later layer reads the concatenation of the input and of every earlier layer's maps "
        f"({', '.join(map(str, reads))} maps for layers 1 to {L}), applies {layer_text}, and appends {k} new maps. "
        f"The block outputs {k0} + {L}·{k} = {out} maps."
    )
    bar = min(4.2 / out, 0.55 / k)  # inches per channel
    width, height = 10.8, 1.55 + (L + 1) * 0.58 + 0.2
    fig, ax = _canvas(width, height, f"A dense block: each layer reads all earlier maps and adds {k}", alt)
    from matplotlib.patches import Rectangle

    def stack(x, y, depth, newest=False):
        ax.add_patch(Rectangle((x, y - 0.16), k0 * bar, 0.32, facecolor=_tint(PALETTE["data"], 0.5),
                               edgecolor="0.3", lw=0.6))
        if k0 * bar > 0.3:
            _text(ax, x + k0 * bar / 2, y, str(k0), size=7)
        for j in range((depth - k0) // k):
            last = newest and j == (depth - k0) // k - 1
            ax.add_patch(Rectangle((x + (k0 + j * k) * bar, y - 0.16), k * bar, 0.32,
                                   facecolor=PALETTE["accent"] if last else _tint(PALETTE["conv"], 0.55),
                                   edgecolor="0.3", lw=0.6))

    top = height - 1.25
    _text(ax, 0.3, top + 0.42, "what the layer reads: the input and all earlier maps, concatenated", ha="left",
          size=8, fontweight="bold")
    _text(ax, 7.4, top + 0.42, "the layer", size=8, fontweight="bold")
    _text(ax, 10.05, top + 0.42, "new maps", size=8, fontweight="bold")
    for i in range(L):
        y = top - i * 0.58
        stack(0.3, y, reads[i])
        _text(ax, 0.3 + reads[i] * bar + 0.08, y, f"{reads[i]}", ha="left", size=7.5)
        _arrow(ax, (4.95, y), (5.3, y))
        _box(ax, 7.4, y, 4.1, 0.42, f"layer {i + 1}: {layer_text}", "conv", size=7.5)
        _arrow(ax, (9.45, y), (9.8, y))
        ax.add_patch(Rectangle((9.85, y - 0.16), k * bar, 0.32, facecolor=PALETTE["accent"], edgecolor="0.3",
                               lw=0.6))
        _text(ax, 9.85 + k * bar + 0.08, y, f"+{k}", ha="left", size=7.5)
    y = top - L * 0.58
    stack(0.3, y, out, newest=True)
    _text(ax, 0.3 + out * bar + 0.1, y, f"block output: {k0} + {L}·{k} = {out} maps", ha="left", size=8.5,
          fontweight="bold")
    _text(ax, width / 2, 0.25, f"blue: the block's input ({k0} maps);  orange: earlier layers' maps, "
                               f"concatenated;  vermillion: the {k} maps a layer adds", size=8, color="0.25")
    return fig


# ---------------------------------------------------------------------------
# 24: data parallelism and model parallelism


def parallelism(model=None, devices=4, batch_size=64, model_devices=2):
    """Data parallelism against model parallelism.

    Left: each of `devices` devices holds a full copy of the model and takes
    `batch_size / devices` images of every batch; the gradients are summed
    across devices (an all-reduce) and every copy takes the same step.
    Right: AlexNet's filters split over `model_devices` devices, as
    `sharding.alexnet_layout_map` splits them: each device holds its share
    of every layer's filters and units and sees the whole batch; the devices
    exchange activations where a layer reads all of the previous one's maps.

    Args:
        model: `course_lib.models.alexnet(...)`; None builds `alexnet()` (a few
            seconds: pass the notebook's model when there is one).
        devices: devices of the data-parallel picture (at most 8).
        batch_size: the global batch, a multiple of `devices`.
        model_devices: devices of the model-parallel picture (2, AlexNet's GPUs).

    Returns:
        The `Figure`.

    Example:

    >>> from course_lib.models import alexnet
    >>> "split over 4 devices, 16 each" in alt_text(parallelism(alexnet(width=1 / 8)))
    True
    """
    devices = check_positive_int(devices, "devices")
    batch_size = check_positive_int(batch_size, "batch_size")
    if devices > 8 or batch_size % devices:
        raise ValueError(f"`batch_size` must be a multiple of `devices` (at most 8); received "
                         f"batch_size={batch_size}, devices={devices}.")
    if model_devices != 2:
        raise ValueError(f"`model_devices` must be 2 (AlexNet's split); received model_devices={model_devices!r}.")
    if model is None:
        from course_lib.models import alexnet

        model = alexnet()
    columns = _alexnet_columns(model)
    total = model.count_params()
    # sharding.alexnet_layout_map splits every kernel and bias along its output axis.
    per_device = sum(layer.count_params() // model_devices for layer in model.layers if layer.weights)
    per = batch_size // devices
    cross = [c["name"] for c in columns[1:] if c["groups"] == 1]
    shares = ", ".join(f"{c['name']} {c['filters'] // 2}" for c in columns)
    alt = (
        f"Left, data parallelism: a batch of {batch_size} images is split over {devices} devices, {per} each; every "
        f"device holds a full copy of the model ({_n(total)} parameters) and computes the gradient on its "
        f"images; an all-reduce sums the {devices} gradients and every copy takes the same step. Right, model "
        f"parallelism: {model_devices} devices each hold half of every layer of AlexNet ({shares}) and see the "
        f"whole batch of {batch_size}; they exchange activations before {', '.join(cross)}."
    )
    width, height = 11.5, 5.8
    fig, ax = _canvas(width, height, "Data parallelism splits the batch; model parallelism splits the layers", alt)
    # Data parallelism.
    cx = 2.9
    _text(ax, cx, 5.05, "data parallelism", size=10, fontweight="bold")
    _box(ax, cx, 4.45, 3.0, 0.45, f"a batch of {batch_size} images", "data", size=8.5)
    dw = min(1.25, 5.3 / devices - 0.1)
    xs = [cx + (i - (devices - 1) / 2) * (dw + 0.1) for i in range(devices)]
    for i, x in enumerate(xs):
        _box(ax, x, 2.95, dw, 1.25, f"device {i}\nimages\n{i * per}-{(i + 1) * per - 1}\nfull copy\nof the model",
             "conv", size=7)
        _arrow(ax, (cx + (x - cx) * 0.3, 4.22), (x, 3.58))
        _arrow(ax, (x, 2.32), (cx + (x - cx) * 0.3, 1.58), color=PALETTE["merge"])
    _box(ax, cx, 1.3, 3.6, 0.55, f"all-reduce: sum the {devices} gradients", "merge", size=8.5)
    _text(ax, cx, 0.65, f"every copy ({_n(total)} parameters) takes the same step", size=8.5)
    # Model parallelism.
    mx = 8.5
    _text(ax, mx, 5.05, "model parallelism (AlexNet's split)", size=10, fontweight="bold")
    _box(ax, mx, 4.45, 3.0, 0.45, f"the whole batch of {batch_size} images", "data", size=8.5)
    for g, x in enumerate((mx - 1.35, mx + 1.35)):
        lines = "\n".join(f"{c['name']}: {c['filters'] // 2} {'filters' if c['kind'] == 'conv' else 'units'}"
                          for c in columns)
        _box(ax, x, 2.55, 2.2, 2.6, f"device {g}: half of every layer\n\n{lines}", "conv", size=7.5)
        _arrow(ax, (mx + (x - mx) * 0.3, 4.22), (x, 3.87))
    _arrow(ax, (mx - 0.25, 2.9), (mx + 0.25, 2.9), color=PALETTE["accent"], lw=1.8)
    _arrow(ax, (mx + 0.25, 2.5), (mx - 0.25, 2.5), color=PALETTE["accent"], lw=1.8)
    _text(ax, mx, 0.85, "vermillion: activations exchanged before", size=8.5)
    _text(ax, mx, 0.6, ", ".join(cross), size=8.5)
    _text(ax, mx, 0.3, f"each device: {_n(per_device)} of the {_n(total)} parameters", size=8.5, color="0.25")
    return fig


DIAGRAMS = {
    "02": (sliding_window,),
    "04": (lenet5,),
    "05": (im2col,),
    "06": (receptive_field_growth,),
    "08": (batch_norm_modes,),
    "10": (mixup_pair,),
    "12": (transfer_regimes,),
    "14": (alexnet_split,),
    "15": (stack_vs_large,),
    "16": (mlpconv_block, gap_vs_flatten),
    "17": (inception_module,),
    "18": (residual_shortcuts, bottleneck_block),
    "19": (separable_conv,),
    "20": (wide_block, resnext_block, dense_block),
    "24": (parallelism,),
}
