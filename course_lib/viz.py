"""Plotting helpers shared by the notebooks (matplotlib only)."""

import numpy as np


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


def show_images(
    images,
    labels=None,
    class_names=None,
    ncols=8,
    title=None,
    cell_size=1.2,
    cmap="gray",
):
    """Shows a grid of images, each titled with its label.

    Args:
        images: array of shape `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, 3)`;
            uint8 in [0, 255], or floats (each image is then scaled to its own
            range for display).
        labels: optional integer labels of shape `(N,)` or `(N, 1)`, or
            strings, one per image.
        class_names: optional sequence mapping integer labels to names.
        ncols: number of columns of the grid.
        title: optional title of the whole figure.
        cell_size: size of one image in inches.
        cmap: colour map of single-channel images.

    Returns:
        The matplotlib `Figure`.

    Example:

    >>> fig = show_images(np.zeros((4, 28, 28), np.uint8), labels=[0, 1, 2, 3])
    """
    import matplotlib.pyplot as plt

    images = _as_image_batch(images)
    n = len(images)
    if n == 0:
        raise ValueError("`images` must hold at least one image.")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"`ncols` must be a positive int; received ncols={ncols!r}.")
    if labels is not None:
        labels = np.asarray(labels).reshape(len(labels), -1)[:, 0]
        if len(labels) != n:
            raise ValueError(
                f"`labels` must have one entry per image ({n}); received {len(labels)}."
            )
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(cell_size * ncols, cell_size * nrows + (0.4 if title else 0.0)),
        squeeze=False,
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i]
        if np.issubdtype(image.dtype, np.integer):
            ax.imshow(image, cmap=cmap, vmin=0, vmax=255)
        else:
            low, high = float(image.min()), float(image.max())
            ax.imshow((image - low) / (high - low or 1.0), cmap=cmap, vmin=0, vmax=1)
        if labels is not None:
            label = labels[i]
            if class_names is not None and np.issubdtype(np.asarray(label).dtype, np.integer):
                label = class_names[int(label)]
            ax.set_title(str(label), fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
