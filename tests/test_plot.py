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


def _draw(a):
    fig, ax = plot.figure(width=2, height=1.5)
    ax.plot([0, 1], [0, a])
    ax.set_ylim(-3, 3)
    return fig


def test_slider_renders_one_distinct_frame_per_value_and_closes_them():
    before = len(plt.get_fignums())
    s = plot.slider(_draw, [-2.0, 0.0, 2.0], label="slope", start=1)
    assert len(s) == 3 and s.values == [-2.0, 0.0, 2.0]
    assert all(f.startswith(b"\x89PNG") for f in s.frames)
    assert len(set(s.frames)) == 3  # each value draws a different picture
    assert len(plt.get_fignums()) == before  # every frame's figure was closed
    page = s._repr_html_()
    assert page.count("data:image/png;base64,") == 4  # the first frame shown + all three
    assert 'max="2"' in page and 'value="1"' in page and "slope = " in page
    assert s.texts == ["-2", "0", "2"]
    # the text form holds no memory address: a rerun stores the same output
    assert repr(s) == "<dlcore.plot.Slider 'slope': 3 frames, -2 … 2>"


def test_slider_escapes_labels_and_uses_unique_ids():
    a = plot.slider(_draw, [1, 2], label="<b>", fmt="{}</script>")
    b = plot.slider(_draw, [1, 2], label="x")
    page = a._repr_html_()
    assert "<b>" not in page and "&lt;b&gt;" in page
    assert "1</script>" not in page  # the value texts cannot close the script element
    assert a.id != b.id


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"draw": 3}, ValueError, "`draw` must be a function"),
    ({"values": "abc"}, ValueError, "`values` must be a sequence"),
    ({"values": 5}, ValueError, "`values` must be a sequence"),
    ({"values": [1]}, ValueError, "`values` must hold 2 to 60 values"),
    ({"values": list(range(61))}, ValueError, "got 61"),
    ({"label": ""}, ValueError, "`label` must be a non-empty string"),
    ({"fmt": 3}, ValueError, "`fmt` must be a format string"),
    ({"fmt": "{:d}"}, ValueError, "`fmt` must format one value"),
    ({"start": 5}, ValueError, "`start` must be <= 2"),
    ({"dpi": 5}, ValueError, "`dpi` must be >= 20"),
    ({"draw": lambda v: None}, ValueError, "`draw` must return a matplotlib Figure, got NoneType"),
])
def test_slider_bad_arguments(kwargs, exc, msg):
    args = {"draw": _draw, "values": [0.5, 1.5, 2.5], "label": "a", **kwargs}
    with pytest.raises(exc, match=msg):
        plot.slider(args.pop("draw"), args.pop("values"), **args)


def test_use_switches_agg_to_inline_inside_a_kernel(monkeypatch):
    import sys
    import types

    import IPython

    magics = []

    class Shell:
        def run_line_magic(self, name, arg):
            magics.append((name, arg))

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    plot.use()
    assert magics == [("matplotlib", "inline")]
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # ipykernel imported, no shell
    plot.use()
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.x")
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    plot.use()
    assert magics == [("matplotlib", "inline")]  # an interactive backend is left alone
