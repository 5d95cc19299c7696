"""Tests of course_lib.viz."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.viz import show_images


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize(
    "shape", [(5, 28, 28), (5, 28, 28, 1), (5, 32, 32, 3)]
)
def test_show_images_grid_and_titles(shape):
    images = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    fig = show_images(images, labels=np.arange(5).reshape(-1, 1), class_names="abcde", ncols=3, title="t")
    assert len(fig.axes) == 6  # 2 rows x 3 columns, the last one empty
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["a", "b", "c", "d", "e", ""]
    assert fig._suptitle.get_text() == "t"
    assert len(fig.axes[0].images) == 1 and len(fig.axes[5].images) == 0


def test_show_images_scales_float_images_to_their_range():
    images = np.stack([np.linspace(-3, 5, 16).reshape(4, 4)] * 2)
    fig = show_images(images, labels=["x", "y"])
    shown = fig.axes[0].images[0].get_array()
    assert np.isclose(shown.min(), 0) and np.isclose(shown.max(), 1)
    assert [ax.get_title() for ax in fig.axes] == ["x", "y"]


def test_show_images_bad_input():
    with pytest.raises(ValueError, match="`images` must have shape"):
        show_images(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match="`images` must have shape"):
        show_images(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="one entry per image"):
        show_images(np.zeros((3, 8, 8)), labels=[0, 1])
    with pytest.raises(ValueError, match="`ncols` must be a positive int"):
        show_images(np.zeros((3, 8, 8)), ncols=0)
    with pytest.raises(ValueError, match="at least one image"):
        show_images(np.zeros((0, 8, 8)))
    with pytest.raises(TypeError, match="numeric"):
        show_images(np.full((2, 8, 8), "a"))
