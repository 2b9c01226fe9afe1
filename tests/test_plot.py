import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlcore import plot  # noqa: E402


def test_figure_applies_style_and_size():
    matplotlib.rcdefaults()
    fig, axes = plot.figure(2, 3, width=9, height=5)
    assert axes.shape == (2, 3)
    assert tuple(fig.get_size_inches()) == (9, 5)
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == plot.COLORS[0]
    plt.close(fig)


def test_default_height_scales_with_rows():
    f1, _ = plot.figure(1, 1)
    f2, _ = plot.figure(2, 1)
    assert f2.get_size_inches()[1] > f1.get_size_inches()[1]
    plt.close("all")


@pytest.mark.parametrize("kwargs,msg", [({"nrows": 0}, "`nrows` must be >= 1"),
                                        ({"width": -1}, "`width` must be > 0")])
def test_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        plot.figure(**kwargs)


def test_figsize_is_rejected_with_a_pointer_to_width_and_height():
    with pytest.raises(ValueError, match="`figsize` is set through `width` and `height`, got"):
        plot.figure(figsize=(4, 3))
