"""geoattr.io.figures.save_figure: one layout for every format, files identical to plain ``savefig``.

The reference of each check is matplotlib's own ``savefig`` on an identical figure (the
way the pipeline saved its figures before the helper): the PNG must decode to the same
pixels (tolerance: none), the SVG must have the same markup once its random ids and its
date are masked.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PIL import Image

from geoattr.io.figures import save_figure

_MASKS = [(re.compile(r"<dc:date>[^<]*</dc:date>"), "<dc:date/>"),
          (re.compile(r'(?<=["#])(?:image|[a-z])[0-9a-f]{10}(?=[")])'), "ID")]


def _figure(layout: str | None = "constrained") -> Figure:
    """Three panels with ticks, titles, a legend and long labels: the layout moves them."""
    fig = Figure(figsize=(7.0, 3.2), layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharey=True)
    x = np.linspace(0.0, 10.0, 40)
    for i, ax in enumerate(axes):
        ax.plot(x, np.sin(x + i), label=f"series {i}")
        ax.fill_between(x, np.sin(x + i) - 0.2, np.sin(x + i) + 0.2, alpha=0.3)
        ax.set_title(f"a rather long title number {i}")
        ax.set_xlabel("year")
    axes[0].set_yticks([-1, 0, 1], ["low value", "zero", "high value"])
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle("Figure laid out by the engine")
    return fig


def _pixels(p: Path) -> np.ndarray:
    return np.asarray(Image.open(p).convert("RGBA"))


def _svg(p: Path) -> str:
    text = p.read_text(encoding="utf-8")
    for pat, rep in _MASKS:
        text = pat.sub(rep, text)
    return text


def _plain_saves(tmp_path: Path, dpi: float, tight: bool, layout: str | None) -> tuple[Path, Path]:
    """The reference: savefig for the PNG, then the SVG with the PNG's layout kept."""
    fig = _figure(layout)
    png, svg = tmp_path / "ref.png", tmp_path / "ref.svg"
    fig.savefig(png, dpi=dpi, bbox_inches="tight" if tight else None)
    fig.set_layout_engine("none")
    fig.savefig(svg, format="svg", dpi=dpi, bbox_inches="tight" if tight else None)
    return png, svg


@pytest.mark.parametrize("tight", [False, True])
@pytest.mark.parametrize("layout", ["constrained", None])
def test_same_files_as_savefig(tmp_path: Path, tight: bool, layout: str | None) -> None:
    ref_png, ref_svg = _plain_saves(tmp_path, 150, tight, layout)
    fig = _figure(layout)
    paths = save_figure(fig, [tmp_path / "f.png", str(tmp_path / "f.svg")], dpi=150, tight=tight)
    assert paths == [tmp_path / "f.png", tmp_path / "f.svg"]
    np.testing.assert_array_equal(_pixels(paths[0]), _pixels(ref_png))
    assert _svg(paths[1]) == _svg(ref_svg)
    assert fig.get_layout_engine() is None  # the layout is frozen: a later save keeps it


def test_layout_runs_once(tmp_path: Path) -> None:
    """The engine runs once, at the PNG's resolution, and not again for the SVG."""
    fig = _figure()
    engine = fig.get_layout_engine()
    dpis: list[float] = []
    execute = engine.execute

    def counted(f: Figure) -> None:
        dpis.append(f.dpi)
        execute(f)

    engine.execute = counted
    save_figure(fig, [tmp_path / "f.png", tmp_path / "f.svg"], dpi=150)
    assert dpis == [150]
    assert fig.dpi == 100  # the figure's own resolution is restored
    assert (tmp_path / "f.svg").read_text(encoding="utf-8").startswith("<?xml")


def test_svg_first_lays_out_in_savefig(tmp_path: Path) -> None:
    """An SVG first: savefig lays the figure out (as before); the PNG after it keeps that layout."""
    fig = _figure()
    ref = _figure()
    ref.savefig(tmp_path / "ref.svg", format="svg", dpi=150)
    save_figure(fig, [tmp_path / "f.svg", tmp_path / "f.png"], dpi=150)
    assert _svg(tmp_path / "f.svg") == _svg(tmp_path / "ref.svg")
    assert _pixels(tmp_path / "f.png").shape == (480, 1050, 4)  # 7.0 x 3.2 inches at 150 dpi


@pytest.mark.parametrize("tight", [False, True])
def test_inset_axes_left_to_savefig(tmp_path: Path, tight: bool) -> None:
    """Inset axes are placed by a locator savefig calls with its renderer: same files as savefig."""
    figs = []
    for _ in range(2):
        fig = _figure()
        inset = fig.axes[1].inset_axes([0.6, 0.6, 0.35, 0.35])
        inset.plot([0, 1], [1, 0])
        inset.set_title("inset")
        figs.append(fig)
    ref_png, ref_svg = tmp_path / "ref.png", tmp_path / "ref.svg"
    figs[0].savefig(ref_png, dpi=150, bbox_inches="tight" if tight else None)
    figs[0].set_layout_engine("none")
    figs[0].savefig(ref_svg, format="svg", dpi=150, bbox_inches="tight" if tight else None)
    png, svg = save_figure(figs[1], [tmp_path / "f.png", tmp_path / "f.svg"], dpi=150, tight=tight)
    np.testing.assert_array_equal(_pixels(png), _pixels(ref_png))
    assert _svg(svg) == _svg(ref_svg)


def test_rcparams_that_install_an_engine(tmp_path: Path) -> None:
    """With figure.constrained_layout.use set, removing the engine must not install a new one."""
    with mpl.rc_context({"figure.constrained_layout.use": True}):
        ref_png, ref_svg = _plain_saves(tmp_path, 110, True, "constrained")
        fig = _figure()
        png, svg = save_figure(fig, [tmp_path / "f.png", tmp_path / "f.svg"], dpi=110, tight=True)
        assert not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    np.testing.assert_array_equal(_pixels(png), _pixels(ref_png))
    assert _svg(svg) == _svg(ref_svg)


def test_raster_content_left_to_savefig(tmp_path: Path) -> None:
    """An image in the figure: the SVG (whose embedded image depends on the dpi) is savefig's own."""
    figs = []
    for _ in range(2):
        fig = _figure()
        fig.axes[2].imshow(np.arange(12.0).reshape(3, 4), extent=(0, 10, -1, 1), aspect="auto")
        figs.append(fig)
    figs[0].savefig(tmp_path / "ref.png", dpi=150, bbox_inches="tight")
    figs[0].set_layout_engine("none")
    figs[0].savefig(tmp_path / "ref.svg", format="svg", dpi=150, bbox_inches="tight")
    png, svg = save_figure(figs[1], [tmp_path / "f.png", tmp_path / "f.svg"], dpi=150, tight=True)
    np.testing.assert_array_equal(_pixels(png), _pixels(tmp_path / "ref.png"))
    assert _svg(svg) == _svg(tmp_path / "ref.svg")


@pytest.mark.parametrize("tight", [False, True])
def test_one_draw_per_file(tmp_path: Path, tight: bool) -> None:
    """Each file is drawn once (savefig alone draws each twice: once without output)."""
    counts = {}
    for how in ("savefig", "save_figure"):
        fig = _figure()
        n = [0]
        draw = fig.draw

        def counted(renderer: object, draw=draw, n=n) -> None:
            n[0] += 1
            draw(renderer)

        fig.draw = counted
        if how == "savefig":
            fig.savefig(tmp_path / "a.png", dpi=150, bbox_inches="tight" if tight else None)
            fig.set_layout_engine("none")
            fig.savefig(tmp_path / "a.svg", format="svg", dpi=150, bbox_inches="tight" if tight else None)
        else:
            save_figure(fig, [tmp_path / "b.png", tmp_path / "b.svg"], dpi=150, tight=tight)
        counts[how] = n[0]
    assert counts == {"savefig": 4, "save_figure": 2}
