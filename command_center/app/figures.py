"""Small Bokeh building blocks shared by the wall and the planning page.

Both draw on plain Web Mercator without tiles (the wall is a dark kiosk, planning overlays
stand on their own), with the street outlines of ``layers/streets.yaml`` for orientation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure
from sqlalchemy.orm import Session

from command_center.app.layout import DARK_BG
from layers.build import BBox, Glyph, build_layer, project
from layers.spec import LayerSpec

TEXT_COLOR = "#e6edf7"


def urban_bbox(session: Session) -> BBox:
    """The urban core in WGS84: the extent of the old courtyards, else of the grids, else of
    the district (rural grids stretch over the whole district; courtyards do not)."""
    row = session.execute(sa.text(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
        "(SELECT coalesce((SELECT ST_Extent(geom) FROM courtyard), "
        "(SELECT ST_Extent(geom) FROM grid), "
        "(SELECT ST_Extent(geom) FROM district)) AS b) q")).one()
    if row[0] is None:
        return (104.9, 29.45, 105.2, 29.7)
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def map_figure(bbox: BBox, *, name: str, tools: str = "pan,wheel_zoom,reset",
               pad: float = 0.04, **kwargs: Any) -> Any:
    """A dark, axis-less Web Mercator figure showing ``bbox``."""
    fig = figure(x_axis_type="mercator", y_axis_type="mercator", tools=tools,
                 background_fill_color=DARK_BG, border_fill_color=DARK_BG,
                 outline_line_color=None, min_border=0, name=name, **kwargs)
    fig.axis.visible = False
    fig.grid.visible = False
    fig.toolbar.logo = None
    x, y = project(np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]), None)
    px, py = (x[1] - x[0]) * pad, (y[1] - y[0]) * pad
    fig.x_range = Range1d(float(x[0] - px), float(x[1] + px))
    fig.y_range = Range1d(float(y[0] - py), float(y[1] + py))
    return fig


def add_glyph(fig: Any, glyph: Glyph, *, hover: bool = True) -> ColumnDataSource:
    """Draw one :class:`layers.build.Glyph` on ``fig``; returns its data source."""
    source = ColumnDataSource(glyph.data, name=glyph.name)
    if glyph.kind == "polygons":
        renderer = fig.multi_polygons("xs", "ys", source=source, name=glyph.name,
                                      **glyph.style)
    else:
        renderer = fig.scatter("x", "y", source=source, name=glyph.name, **glyph.style)
    if hover and glyph.tooltips:
        fig.add_tools(HoverTool(renderers=[renderer], tooltips=glyph.tooltips))
    return source


def add_layer(fig: Any, session: Session, spec: LayerSpec | None, language: str,
              **kwargs: Any) -> list[ColumnDataSource]:
    """Draw every glyph of layer ``spec`` (nothing when the spec is missing)."""
    if spec is None:
        return []
    built = build_layer(session, spec, language=language, **kwargs)
    return [add_glyph(fig, g) for g in built.glyphs]


def find_layer(layers: tuple[LayerSpec, ...], layer_id: str) -> LayerSpec | None:
    """The layer spec with ``layer_id`` (None when not shipped)."""
    return next((s for s in layers if s.id == layer_id), None)
