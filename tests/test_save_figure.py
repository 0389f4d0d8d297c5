"""geoattr._format.save_figure: one layout for every format, files identical to plain ``savefig``.

The reference of each check is matplotlib's own ``savefig`` on an identical figure (the
way the pipeline saved its figures before the helper): the PNG must decode to the same
pixels (tolerance: none), the SVG must have the same markup once its random ids and its
date are masked.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from geoattr._format import save_figure

_MASKS = [(re.compile(r"<dc:date>[^<]*</dc:date>"), "<dc:date/>"),
          (re.compile(r'(?<=["#])[a-z][0-9a-f]{10}(?=[")])'), "ID")]


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
