"""Plotting helpers shared by the notebooks (matplotlib only).

- `show_images`: a grid of labelled images.
- `plot_history`: training curves of a `model.fit` run.
- `plot_filters`, `plot_feature_maps`: what a convolutional layer holds and
  what it computes.
- `show_receptive_field`: an image with a receptive field outlined.
- `plot_confusion_matrix`, `show_misclassified`: what a classifier gets wrong.

Every function draws a new figure (or on a given Axes) and returns it, so that
notebooks and tests can inspect what was drawn.
"""

import numpy as np

from course_lib._checks import (
    check_array,
    check_bool,
    check_choice,
    check_int_pair,
    check_number,
    check_positive_int,
    class_indices,
)

__all__ = [
    "show_images",
    "plot_history",
    "plot_learning_curves",
    "overlay_map",
    "plot_filters",
    "plot_feature_maps",
    "show_receptive_field",
    "plot_confusion_matrix",
    "show_misclassified",
]


def _as_image_batch(images):
    """Validates a batch of images and returns it as `(N, H, W)` or `(N, H, W, 3)`."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(
            "`images` must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3); "
            f"received shape {images.shape}."
        )
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise TypeError(f"`images` must be numeric; received dtype {images.dtype}.")
    return images


def _value_range(value_range):
    """Validates `show_images`'s `value_range`: None, "image" or a pair (low, high)."""
    if value_range is None or isinstance(value_range, str):
        return check_choice(value_range, "value_range", (None, "image"))
    if not (isinstance(value_range, (list, tuple)) and len(value_range) == 2):
        raise ValueError(
            "`value_range` must be None, 'image' or a pair (low, high); "
            f"received value_range={value_range!r}."
        )
    low = check_number(value_range[0], "value_range[0]")
    high = check_number(value_range[1], "value_range[1]")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            "`value_range` must be a pair of finite numbers (low, high) with low < high; "
            f"received value_range={value_range!r}."
        )
    return low, high


def _data_range(values):
    """The smallest and largest finite value of an array, (0, 1) if it has none."""
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def show_images(
    images,
    labels=None,
    class_names=None,
    ncols=8,
    title=None,
    cell_size=1.2,
    cmap="gray",
    value_range=None,
):
    """Shows a grid of images, each titled with its label.

    Which value is black and which is white (the display scale) follows the
    data, not a fixed 0-255: by default, the smallest value of the whole
    batch is black and its largest white, the same scale for every image, so
    that their brightness can be compared. uint8 images in [0, 255] and
    float images in [0, 1] therefore look as usual, and scikit-learn's 8x8
    digits (0 to 16) are not nearly black. Colour images are scaled the same
    way, all three channels together.

    Args:
        images: array of shape `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, 3)`,
            integers or floats.
        labels: optional integer labels of shape `(N,)` or `(N, 1)`, or
            strings, one per image (a string may hold several lines).
        class_names: optional sequence mapping integer labels to names.
        ncols: number of columns of the grid.
        title: optional title of the whole figure.
        cell_size: size of one image in inches.
        cmap: colour map of single-channel images.
        value_range: the display scale. None (default): the batch's smallest
            and largest value; `"image"`: each image scaled to its own
            range (for filters and feature maps, whose ranges differ); a
            pair `(low, high)`: that range for every image, values outside
            it shown as black or white (e.g. `(0, 255)` for uint8 pixels).

    Returns:
        The matplotlib `Figure`. Its layout is "constrained", with room for
        every line of the titles, so that no title covers the image above it.

    Example:

    >>> fig = show_images(np.zeros((4, 28, 28), np.uint8), labels=[0, 1, 2, 3])
    """
    import matplotlib.pyplot as plt

    images = _as_image_batch(images)
    n = len(images)
    if n == 0:
        raise ValueError("`images` must hold at least one image.")
    ncols = check_positive_int(ncols, "ncols")
    cell_size = check_number(cell_size, "cell_size", low=0, low_open=True)
    value_range = _value_range(value_range)
    if labels is not None:
        labels = np.asarray(labels).reshape(len(labels), -1)[:, 0]
        if len(labels) != n:
            raise ValueError(
                f"`labels` must have one entry per image ({n}); received {len(labels)}."
            )
        captions = []
        for label in labels:
            if class_names is not None and np.issubdtype(np.asarray(label).dtype, np.integer):
                label = class_names[int(label)]
            captions.append(str(label))
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    # Room for the captions, about 0.15 inch per line of "small" text; the
    # constrained layout then places titles and images so that none overlap.
    lines = max(caption.count("\n") + 1 for caption in captions) if labels is not None else 0
    caption_height = 0.05 + 0.15 * lines if lines else 0.05
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(cell_size * ncols, (cell_size + caption_height) * nrows + (0.45 if title else 0.1)),
        squeeze=False,
        layout="constrained",
    )
    if value_range is None:
        low, high = _data_range(images)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i]
        if value_range == "image":
            low, high = _data_range(image)
        elif value_range is not None:
            low, high = value_range
        span = high - low or 1.0
        if value_range == "image" or (image.ndim == 3 and not (
                image.dtype == np.uint8 and (low, high) == (0.0, 255.0))):
            # Colour images (which imshow does not scale) and per-image scaling:
            # drawn as floats in [0, 1].
            shown = np.clip((image.astype(np.float64) - low) / span, 0, 1)
            ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
        else:
            ax.imshow(image, cmap=cmap, vmin=low, vmax=low + span)
        if labels is not None:
            ax.set_title(captions[i], fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def _label_name(label, class_names):
    return str(class_names[int(label)]) if class_names is not None else str(int(label))


# ---------------------------------------------------------------------------
# Training


def plot_history(history, metrics=("loss", "accuracy"), title=None):
    """Plots training curves, one axis per metric, training and validation.

    Args:
        history: the `keras.callbacks.History` that `model.fit` returns, or
            its `history` dict (metric name -> list of values, one per
            epoch).
        metrics: names of the metrics to plot (a string or a sequence). The
            validation curve `"val_" + name` is drawn when `history` has it.
        title: optional title of the whole figure.

    Returns:
        The matplotlib `Figure`, one axis per metric, x axis "epoch"
        (numbered from 1).

    Example:

    >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, metrics="loss")
    """
    import matplotlib.pyplot as plt

    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            "`history` must be a keras History or a dict of metric lists; "
            f"received {type(history).__name__}."
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError("`metrics` must name at least one metric.")
    for metric in metrics:
        if metric not in logs:
            raise ValueError(
                f"`metrics` names {metric!r}, which `history` does not hold; "
                f"it holds {sorted(logs)}."
            )
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        for key, label, style in ((metric, "training", "-o"), (f"val_{metric}", "validation", "-s")):
            if key in logs:
                values = np.asarray(logs[key], dtype=float)
                ax.plot(np.arange(1, len(values) + 1), values, style, markersize=3, label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_learning_curves(history, metric="accuracy", ax=None, title=None, test=None,
                         error=False):
    """Training and validation curves of a run, or their mean and spread over seeds.

    Args:
        history: a per-epoch DataFrame with columns `metric` and
            `"val_" + metric`: one run (indexed by epoch, as
            `course_lib.zoo.history` returns it) or several (with "seed" and
            "epoch" columns, as `course_lib.experiment.Runs.histories`),
            drawn as the mean over seeds with a band of one standard
            deviation.
        metric: the metric to draw ("accuracy", "crossentropy", "loss").
        ax: the matplotlib axes to draw on (default: a new figure).
        title: the axes' title.
        test: optional test score, drawn as a dashed horizontal line.
        error: with `metric="accuracy"`, draw the error `1 - accuracy`.

    Returns:
        The matplotlib `Axes`.

    Example:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]}, index=[1, 2])
    >>> ax = plot_learning_curves(table, title="a run")
    """
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import pandas as pd

    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"`history` must be a pandas DataFrame; received {type(history).__name__}.")
    for column in (metric, f"val_{metric}"):
        if column not in history:
            raise ValueError(
                f"`metric` must name a column of `history` (with its 'val_' twin); received "
                f"metric={metric!r}, columns {sorted(history.columns)}."
            )
    if error and metric != "accuracy":
        raise ValueError(f"`error=True` needs metric='accuracy'; received metric={metric!r}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    table = history.set_index("epoch") if "epoch" in history.columns else history
    seeds = history["seed"].nunique() if "seed" in history.columns else 1
    for column, label, style in ((metric, "training", "-o"), (f"val_{metric}", "validation", "-s")):
        values = 1 - table[column] if error else table[column]
        grouped = values.groupby(level=0)
        mean, std = grouped.mean(), grouped.std()
        line, = ax.plot(mean.index, mean.values, style, markersize=3,
                        label=label + (f" (mean of {seeds} seeds)" if seeds > 1 else ""))
        if seeds > 1:
            ax.fill_between(mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    if test is not None:
        test = 1 - test if error else test
        ax.axhline(test, color="black", linestyle="--", linewidth=1, label=f"test: {test:.3f}")
    name = "error" if error else metric
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # epochs are whole
    ax.set_ylabel(f"{name} (fraction)" if metric == "accuracy" else name)
    ax.set_title(title or name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def overlay_map(image, heat_map, ax=None, alpha=0.5, title=None, cmap="viridis", vmin=None, vmax=None,
                colorbar=True):
    """Draws a map (CAM, Grad-CAM, occlusion, saliency) over its image.

    The map is stretched to the image's size with bilinear interpolation
    (`course_lib.interpret.upsample_to`) and drawn semi-transparently over
    the image. By default it is scaled to its own range and gets its own
    colour bar. With `vmin` or `vmax`, its values are drawn as they are, so
    that several maps drawn with the same limits can share one colour bar
    (`colorbar=False`, then `figure.colorbar(ax.images[-1], ax=axes)`).

    Args:
        image: `(rows, cols, channels)` or `(rows, cols)`, uint8 (0-255) or
            float in [0, 1].
        heat_map: `(H', W')` map for this image, non-empty and finite.
        ax: the matplotlib axes (default: a new figure).
        alpha: opacity of the map, in [0, 1].
        title: the axes' title.
        cmap: colour map of the map. A perceptually uniform one ("viridis",
            "magma") for magnitudes; a diverging one ("RdBu_r") with
            `vmin=-vmax` for signed maps, so that white is 0.
        vmin, vmax: None (default: the map scaled to [0, 1], its smallest
            value 0 and its largest 1), or the values at the two ends of the
            colour map (a missing one is the map's own smallest or largest
            value); `vmin < vmax`.
        colorbar: whether to draw a colour bar for this axes alone.

    Returns:
        The matplotlib `Axes`.

    Example:

    >>> ax = overlay_map(np.zeros((32, 32, 3), "uint8"), np.eye(8), title="a map")
    >>> ax = overlay_map(np.zeros((32, 32, 3), "uint8"), np.eye(8) - 0.5, cmap="RdBu_r", vmin=-1, vmax=1,
    ...                  colorbar=False)
    """
    import matplotlib.pyplot as plt

    from course_lib.interpret import upsample_to

    image = check_array(image, "image", ndim=(2, 3), shape="(rows, cols) or (rows, cols, channels)")
    heat_map = check_array(heat_map, "heat_map", ndim=2, shape="(rows, cols)", finite=True).astype("float32")
    alpha = check_number(alpha, "alpha", 0, 1)
    colorbar = check_bool(colorbar, "colorbar")
    scaled = vmin is None and vmax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    shown = image.astype("float32") / 255 if np.issubdtype(image.dtype, np.integer) else image
    ax.imshow(np.squeeze(shown), cmap="gray" if shown.ndim == 2 or shown.shape[-1] == 1 else None)
    large = upsample_to(heat_map[None], image.shape[:2])[0]
    if scaled:
        span = float(large.max() - large.min()) or 1.0
        large, vmin, vmax = (large - large.min()) / span, 0.0, 1.0
    else:
        vmin = float(large.min()) if vmin is None else check_number(vmin, "vmin")
        vmax = float(large.max()) if vmax is None else check_number(vmax, "vmax")
        if not vmin < vmax:
            raise ValueError(f"`vmin` must be smaller than `vmax`; received vmin={vmin}, vmax={vmax}.")
    overlay = ax.imshow(large, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    if colorbar:
        bar = ax.figure.colorbar(overlay, ax=ax, fraction=0.046, pad=0.04)
        bar.set_label("map, scaled to its range" if scaled else "map")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------
# Convolutional layers


def plot_filters(kernel, ncols=8, title=None):
    """Shows the filters of a `Conv2D` kernel as small images.

    Each filter is scaled to its own range (its smallest weight black, its
    largest white). A filter over 3 input channels (a first layer on colour
    images) is shown in colour, its channels as red, green and blue; a filter
    over any other number of channels is shown as the mean of its channels
    (for one channel, the filter itself).

    Args:
        kernel: array of shape `(kernel_rows, kernel_cols, channels,
            filters)`, the layout of `Conv2D.get_weights()[0]`.
        ncols: number of columns of the grid.
        title: optional title of the whole figure.

    Returns:
        The matplotlib `Figure`, one axis per filter titled with its index.

    Example:

    >>> fig = plot_filters(np.random.normal(size=(5, 5, 1, 6)))
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(
            "`kernel` must have shape (kernel_rows, kernel_cols, channels, filters); "
            f"received shape {kernel.shape}."
        )
    if not np.issubdtype(kernel.dtype, np.number) or kernel.size == 0:
        raise TypeError(f"`kernel` must be a non-empty numeric array; received dtype {kernel.dtype}.")
    filters = np.moveaxis(kernel.astype(np.float64), -1, 0)  # (F, kh, kw, C)
    if filters.shape[-1] != 3:
        filters = filters.mean(axis=-1)
    return show_images(  # each filter scaled to its own range
        filters,
        labels=[str(i) for i in range(len(filters))],
        ncols=ncols,
        title=title,
        cell_size=0.9,
        value_range="image",
    )


def plot_feature_maps(feature_maps, ncols=8, title=None, max_maps=32):
    """Shows the feature maps (activations) of one image as a grid of images.

    Each map is scaled to its own range; a constant map shows as black.

    Args:
        feature_maps: array of shape `(rows, cols, maps)` or `(1, rows, cols,
            maps)`, e.g. a layer's output for one image.
        ncols: number of columns of the grid.
        title: optional title of the whole figure.
        max_maps: show at most this many maps, the first ones.

    Returns:
        The matplotlib `Figure`, one axis per map shown, titled with the
        map's index.

    Example:

    >>> fig = plot_feature_maps(np.random.uniform(size=(1, 24, 24, 6)))
    """
    maps = np.asarray(feature_maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(
            "`feature_maps` must have shape (rows, cols, maps) or (1, rows, cols, maps) "
            f"(one image); received shape {maps.shape}."
        )
    if not np.issubdtype(maps.dtype, np.number) or maps.size == 0:
        raise TypeError(
            f"`feature_maps` must be a non-empty numeric array; received dtype {maps.dtype}."
        )
    max_maps = check_positive_int(max_maps, "max_maps")
    shown = np.moveaxis(maps[..., :max_maps].astype(np.float64), -1, 0)
    return show_images(
        shown,
        labels=[str(i) for i in range(len(shown))],
        ncols=ncols,
        title=title,
        cell_size=1.0,
        cmap="viridis",
        value_range="image",
    )


def show_receptive_field(image, size, center=None, ax=None, title=None):
    """Shows an image with a receptive field outlined by a rectangle.

    The field covers `rows x cols` pixels centred on the pixel (or between
    the pixels, for an even size) `center`. The part that falls outside the
    image (where a "same"-padded layer sees zeros) is clipped at the border.

    Args:
        image: array of shape `(rows, cols)`, `(rows, cols, 1)` or `(rows,
            cols, 3)`.
        size: size of the receptive field, an int (square) or `(rows, cols)`.
        center: `(row, col)` of the field's centre in pixel coordinates;
            defaults to the centre of the image, `((rows - 1) / 2, (cols - 1)
            / 2)`.
        ax: matplotlib Axes to draw on; a new figure when None.
        title: title of the Axes; defaults to the field's size.

    Returns:
        The matplotlib `Axes`. Its patch `ax.patches[0]` is the rectangle,
        in the coordinates of `imshow` (pixel `(i, j)` spans
        `[j - 0.5, j + 0.5]` horizontally and `[i - 0.5, i + 0.5]`
        vertically).

    Example:

    >>> ax = show_receptive_field(np.zeros((28, 28)), size=5, center=(10, 12))
    """
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(
            "`image` must have shape (rows, cols), (rows, cols, 1) or (rows, cols, 3); "
            f"received shape {image.shape}."
        )
    field_rows, field_cols = check_int_pair(size, "size")  # (rows, cols)
    rows, cols = image.shape[:2]
    if center is None:
        center = ((rows - 1) / 2, (cols - 1) / 2)
    try:
        center_row, center_col = (float(c) for c in center)
    except (TypeError, ValueError):
        raise ValueError(f"`center` must be a pair (row, col); received center={center!r}.") from None
    if not (0 <= center_row <= rows - 1 and 0 <= center_col <= cols - 1):
        raise ValueError(
            f"`center` must lie in the image (rows 0-{rows - 1}, cols 0-{cols - 1}); "
            f"received center={center!r}."
        )
    # Pixel edges of the field, clipped to the image's edges.
    top = max(center_row - field_rows / 2, -0.5)
    bottom = min(center_row + field_rows / 2, rows - 0.5)
    left = max(center_col - field_cols / 2, -0.5)
    right = min(center_col + field_cols / 2, cols - 0.5)

    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.5))
    if image.dtype == np.uint8:
        ax.imshow(image, vmin=0, vmax=255, cmap="gray")
    else:
        ax.imshow(image, cmap="gray")
    ax.add_patch(
        mpatches.Rectangle(
            (left, top), right - left, bottom - top, fill=False, edgecolor="red", linewidth=2
        )
    )
    ax.plot([center_col], [center_row], "r+", markersize=8)
    ax.set_title(title if title is not None else f"receptive field {field_rows}x{field_cols}")
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    return ax


# ---------------------------------------------------------------------------
# Classification errors


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=None, title=None,
                          mask_diagonal=False):
    """Plots the confusion matrix of a classifier (rows: true, columns: predicted).

    Built on `sklearn.metrics.confusion_matrix` and `ConfusionMatrixDisplay`.
    For a good classifier the diagonal (the correct answers) is far larger
    than any error, so on one colour scale every error is nearly white:
    `mask_diagonal=True` draws the diagonal in grey, with its numbers, and
    scales the colours (and the colour bar) to the errors only.

    Args:
        y_true: integer labels, shape `(N,)` or `(N, 1)`.
        y_pred: predicted integer labels, same length.
        class_names: optional names of the classes `0, 1, ...`; every class
            gets a row and a column, even one absent from both label arrays.
            Without names, the labels present in either array are used.
        normalize: `None` (counts), `"true"` (each row sums to 1, the
            recall of each class on the diagonal), `"pred"` (each column
            sums to 1) or `"all"`.
        title: title of the Axes; defaults to "Confusion matrix".
        mask_diagonal: whether to grey out the diagonal and scale the
            colours to the off-diagonal cells (the errors).

    Returns:
        The matplotlib `Figure`; `fig.axes[0].images[0].get_array()` holds
        the matrix (with `mask_diagonal`, a masked array whose mask is the
        diagonal).

    Example:

    >>> fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["a", "b"])
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    y_true = class_indices(y_true, "y_true")
    y_pred = class_indices(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"`y_true` and `y_pred` must have the same length; received {len(y_true)} "
            f"and {len(y_pred)}."
        )
    if len(y_true) == 0:
        raise ValueError("`y_true` and `y_pred` must hold at least one label.")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(
            "`normalize` must be one of None, 'true', 'pred', 'all'; "
            f"received normalize={normalize!r}."
        )
    mask_diagonal = check_bool(mask_diagonal, "mask_diagonal")
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        labels = np.arange(len(class_names))
        largest = max(y_true.max(), y_pred.max())
        if y_true.min() < 0 or y_pred.min() < 0 or largest >= len(class_names):
            raise ValueError(
                f"`class_names` names {len(class_names)} classes, but the labels range "
                f"from {min(y_true.min(), y_pred.min())} to {largest}."
            )
    else:
        labels = np.union1d(y_true, y_pred)
    matrix = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    side = max(3.5, 0.45 * len(labels) + 1.5)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    display = ConfusionMatrixDisplay(
        matrix, display_labels=class_names if class_names is not None else labels
    )
    long_names = class_names is not None and max(len(n) for n in class_names) > 3
    display.plot(
        ax=ax,
        cmap="Blues",
        values_format="d" if normalize is None else ".2f",
        xticks_rotation=45 if long_names else "horizontal",
        colorbar=True,
    )
    if mask_diagonal:
        _mask_diagonal(display, matrix, normalize)
    if len(labels) > 12:  # the numbers no longer fit in the cells
        for text in display.text_.flat:
            text.set_visible(False)
    ax.set_title(title if title is not None else "Confusion matrix")
    return fig


def _mask_diagonal(display, matrix, normalize):
    """Greys out the diagonal of a drawn `ConfusionMatrixDisplay`; the colours scale to the errors."""
    diagonal = np.eye(len(matrix), dtype=bool)
    errors = matrix[~diagonal]
    largest = float(errors.max()) if errors.size and errors.max() > 0 else 1.0
    image = display.im_
    cmap = image.get_cmap().with_extremes(bad="0.85")  # masked cells: light grey
    image.set_cmap(cmap)
    image.set_data(np.ma.masked_array(matrix, mask=diagonal))
    image.set_clim(0, largest)  # the colour bar follows
    for (i, j), text in np.ndenumerate(display.text_):
        # Dark text on light cells, light text on dark ones, as scikit-learn does.
        text.set_color("black" if i == j else cmap(1.0) if matrix[i, j] < largest / 2 else cmap(0.0))
    unit = {None: "count", "true": "share of the true class", "pred": "share of the predicted class",
            "all": "share of all examples"}[normalize]
    image.colorbar.set_label(f"errors ({unit}); diagonal in grey")


def show_misclassified(
    images, y_true, y_pred, class_names=None, max_images=16, ncols=8, title=None
):
    """Shows the wrongly classified images, each titled "true -> predicted".

    Args:
        images: array of shape `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, 3)`,
            as for `show_images`.
        y_true: integer labels, shape `(N,)` or `(N, 1)`.
        y_pred: predicted integer labels, same length.
        class_names: optional sequence mapping labels to names.
        max_images: show at most this many errors, the first ones in the
            order of `images`.
        ncols: number of columns of the grid.
        title: title of the figure; defaults to "K of M misclassified images
            (true -> predicted)".

    Returns:
        The matplotlib `Figure`. When every image is classified correctly,
        it holds one empty axis saying so.

    Example:

    >>> fig = show_misclassified(np.zeros((3, 8, 8)), [0, 1, 2], [0, 2, 2])
    """
    import matplotlib.pyplot as plt

    images = _as_image_batch(images)
    y_true = class_indices(y_true, "y_true")
    y_pred = class_indices(y_pred, "y_pred")
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(
            "`images`, `y_true` and `y_pred` must have the same length; received "
            f"{len(images)}, {len(y_true)} and {len(y_pred)}."
        )
    max_images = check_positive_int(max_images, "max_images")
    wrong = np.flatnonzero(y_true != y_pred)
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(4.0, 1.0))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no misclassified images (0 of {len(images)})", ha="center", va="center")
        if title:
            fig.suptitle(title)
        return fig
    shown = wrong[:max_images]
    captions = [
        f"{_label_name(y_true[i], class_names)} -> {_label_name(y_pred[i], class_names)}"
        for i in shown
    ]
    if title is None:
        title = f"{len(shown)} of {len(wrong)} misclassified images (true -> predicted)"
    longest = max(len(caption) for caption in captions)
    return show_images(
        images[shown],
        labels=captions,
        ncols=ncols,
        title=title,
        cell_size=max(1.2, 0.09 * longest),
    )
