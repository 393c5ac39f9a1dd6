"""coursekit.plotting: the item and result plots of lessons 02 and 03 (labels, clipping, bad input)."""
from __future__ import annotations

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import coursekit.plotting as pcf  # noqa: E402
from coursekit._validation import CourseKitError  # noqa: E402
from coursekit.plotting import items, results, style  # noqa: E402


@pytest.mark.parametrize("module", [items, results, style], ids=lambda m: m.__name__)
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_item_map_labels_axes_and_clips_outliers():
    rng = np.random.default_rng(1)
    xy = np.r_[rng.uniform(-1, 1, size=(300, 2)), [[500.0, 0.0], [0.0, -300.0]]]
    labels = np.array(["a", "b", "c"] * 100 + ["a", "b"])
    ax = pcf.plot_item_map(xy, labels, title="map", xlabel="PC1 (40% of variance)", ylabel="PC2 (20% of variance)")
    assert ax.get_xlabel() == "PC1 (40% of variance)" and ax.get_ylabel() == "PC2 (20% of variance)"
    assert ax.get_xlim()[1] < 2 and ax.get_ylim()[0] > -2           # the outliers do not squash the map
    assert "2 of 302 points outside" in ax.get_title() and ax.get_title().startswith("map")
    plt.close("all")
    ax = pcf.plot_item_map(xy, labels, clip=None)
    assert ax.get_xlim()[1] > 400 and "outside" not in ax.get_title()
    plt.close("all")


@pytest.mark.parametrize("clip", [(0.9, 0.1), (-0.1, 0.5), (0.2, 1.5)])
def test_item_map_bad_clip_names_the_argument(clip):
    with pytest.raises(CourseKitError, match="clip must be two quantiles"):
        pcf.plot_item_map(np.zeros((3, 2)), ["a"] * 3, clip=clip)
    plt.close("all")
