"""Writing a matplotlib figure in several formats with one layout: :func:`save_figure`.

``Figure.savefig`` on a figure with a layout engine (constrained layout...) runs the
engine and draws the whole figure once without output before drawing it into the file;
``bbox_inches="tight"`` needs that extra draw too, to measure the figure's tight
bounding box.  Saving one figure as PNG and SVG that way lays it out and draws it up to
four times.  :func:`save_figure` writes the same files with less work:

* the layout engine runs once, for the first file, on the renderer ``savefig`` would use
  for it, then it is removed (``fig.set_layout_engine(None)``): every file has that layout
  and no save repeats it;
* the tight bounding box of each file is measured directly on a renderer of that file's
  kind (the PNG's Agg renderer at the PNG's resolution; for an SVG, an SVG renderer at
  72 dpi, as ``savefig`` measures it) and passed to ``savefig`` as a box, which spares
  the draw without output.  ``savefig`` crops an SVG to its box with the figure at
  72 dpi (where that draw left it), so such an SVG is saved at 72 dpi, which is the same
  file when nothing in the figure is rasterised (images, ``rasterized=True``): figures
  with raster content are left to ``savefig``.

The PNGs have the same pixels and the SVGs the same markup as with plain ``savefig``
(``tests/test_save_figure.py``).  The figure must be on an Agg canvas
(:class:`matplotlib.backends.backend_agg.FigureCanvasAgg`) for the first of these;
otherwise, and when the first file is not a PNG, ``savefig`` lays the figure out itself.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib import rcParams
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.image import AxesImage, BboxImage, FigureImage
from matplotlib.transforms import Bbox

__all__ = ["save_figure"]


@contextmanager
def _resolution(fig: Any, dpi: float) -> Iterator[None]:
    """The figure at ``dpi`` for the block (as ``savefig`` sets it while saving), then restored."""
    old = fig.dpi
    fig.dpi = dpi
    try:
        yield
    finally:
        fig.dpi = old


def _freeze(fig: Any) -> None:
    """Remove the layout engine: the figure keeps its layout and ``savefig`` makes no extra draw."""
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")
        if not (rcParams["figure.autolayout"] or rcParams["figure.constrained_layout.use"]):
            fig.set_layout_engine(None)  # with these rcParams, None would install an engine again


def _raster_box(fig: Any, dpi: float, *, layout: bool, tight: bool) -> Bbox | None:
    """Lay out (``layout``) and measure (``tight``) the figure on the Agg renderer of a PNG at ``dpi``."""
    engine = fig.get_layout_engine()
    with _resolution(fig, dpi):
        if layout and engine is not None and fig.axes:
            try:
                engine.execute(fig)
            except ValueError:  # as in Figure.draw: a layout that cannot be made is skipped
                pass
        box = fig.get_tightbbox(fig.canvas.get_renderer()) if tight else None
    return box.padded(rcParams["savefig.pad_inches"]) if box is not None else None


def _vector_box(fig: Any, dpi: float) -> Bbox:
    """The tight bounding box of the figure as ``savefig`` measures it for an SVG (figure at 72 dpi)."""
    with _resolution(fig, 72):
        width, height = fig.get_size_inches()
        renderer = MixedModeRenderer(fig, width, height, dpi,
                                     RendererSVG(width * 72, height * 72, io.StringIO(), image_dpi=dpi))
        box = fig.get_tightbbox(renderer)
    return box.padded(rcParams["savefig.pad_inches"])


def _has_raster_content(fig: Any) -> bool:
    """Whether an SVG of the figure embeds raster images (whose resolution is the save's dpi)."""
    if any(ax.get_rasterization_zorder() is not None for ax in fig.axes):
        return True
    return bool(fig.findobj(lambda a: a.get_rasterized() or isinstance(a, (AxesImage, BboxImage, FigureImage))))


def save_figure(fig: Any, paths: Sequence[str | Path], *, dpi: float | None = None, tight: bool = False) -> list[Path]:
    """Save a matplotlib figure to each of ``paths`` (format by suffix), laid out once.

    The files are those of ``fig.savefig(path, dpi=dpi, bbox_inches="tight" if tight
    else None)`` for the first path and, for the others, of the same call after
    ``fig.set_layout_engine("none")`` (the first file's layout is kept), with less work
    (the module's introduction says how).  Afterwards the figure has no layout engine.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    paths : sequence of str or Path
        The files, in order; the suffix (``.png``, ``.svg``...) gives the format.
    dpi : float, optional
        Resolution of the raster files (default: ``savefig``'s); without it every file
        is left to ``savefig``.
    tight : bool, default False
        Crop each file to the figure's tight bounding box (``bbox_inches="tight"``).

    Returns
    -------
    list of Path
        ``paths``.
    """
    out = [Path(p) for p in paths]
    # Inset axes are placed by a locator that savefig calls with its renderer: left to savefig.
    direct = dpi is not None and all(ax.get_axes_locator() is None for ax in fig.axes)
    for i, p in enumerate(out):
        fmt = p.suffix.lower().lstrip(".")
        box: Bbox | str | None = "tight" if tight else None
        file_dpi = dpi
        laid_out = i > 0 or fig.get_layout_engine() is None
        if direct and fmt == "png" and hasattr(fig.canvas, "get_renderer"):
            box = _raster_box(fig, dpi, layout=not laid_out, tight=tight) if tight or not laid_out else box
            laid_out = True
        elif direct and fmt == "svg" and tight and laid_out and not _has_raster_content(fig):
            box, file_dpi = _vector_box(fig, dpi), 72  # savefig crops an SVG with the figure at 72 dpi
        if laid_out:
            _freeze(fig)
        fig.savefig(p, format=fmt, dpi=file_dpi, bbox_inches=box)
        _freeze(fig)  # the later files keep this layout
    return out
