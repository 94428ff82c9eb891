"""The area a report covers: the whole district, a street, a community or a grid.

Events, grids and courtyards belong to an area through their grid (grid → community →
street), exactly as :func:`gis.queries.kpi.kpis` attributes them, so a report's numbers equal
the KPI table's. The district is the exception: it takes *every* event, including those not
(yet) inside any grid, like the KPI table's total row.
"""

from __future__ import annotations

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.reports.errors import ReportError
from gis.reports.model import Area, AreaKind

__all__ = ["AREA_JOIN", "area_condition", "area_params", "resolve_area"]

#: English labels of the kinds, for areas without an English name (grids have none).
KIND_LABELS: dict[str, tuple[str, str]] = {
    "district": ("区县", "district"), "street": ("街道", "street"),
    "community": ("社区", "community"), "grid": ("网格", "grid"),
}

#: Joins that give a row with a ``grid_id`` (alias ``t``) its grid ``g`` and community ``c``.
AREA_JOIN = ("LEFT JOIN grid g ON g.id = {alias}.grid_id "
             "LEFT JOIN community c ON c.id = g.community_id")

_CONDITIONS: dict[str, str] = {
    "district": "true",
    "street": "c.street_id = (SELECT id FROM street WHERE code = :area_code)",
    "community": "g.community_id = (SELECT id FROM community WHERE code = :area_code)",
    "grid": "g.id = (SELECT id FROM grid WHERE code = :area_code)",
}

_LOOKUP = """
SELECT 'street' AS kind, code, name_zh, name_en, ST_AsBinary(geom) FROM street WHERE code = :c
UNION ALL
SELECT 'community', code, name_zh, name_en, ST_AsBinary(geom) FROM community WHERE code = :c
UNION ALL
SELECT 'grid', code, name_zh, NULL, ST_AsBinary(geom) FROM grid WHERE code = :c
"""


def area_condition(area: Area) -> str:
    """SQL condition on the aliases ``g`` (grid) and ``c`` (community) of :data:`AREA_JOIN`.

    Bind it with :func:`area_params`. ``true`` for the district.
    """
    return _CONDITIONS[area.kind]


def area_params(area: Area) -> dict[str, object]:
    """Bind parameters of :func:`area_condition`."""
    return {"area_code": area.code}


def resolve_area(session: Session, code: str | None) -> Area:
    """The area named by ``code``.

    Parameters
    ----------
    session
        An open session.
    code
        ``None``, empty or the district's adcode (``511002``) for the whole district; otherwise
        a street (``511002-001``), community (``511002-001-001``) or grid
        (``511002-001-001-01``) code.

    Returns
    -------
    Area
        Kind, code, Chinese and English names and the boundary (EPSG:4326). Grids have no
        English name in the schema: their English name is ``grid <code>``.

    Raises
    ------
    ReportError
        When no district is loaded, or no area has this code (the message lists the kinds of
        codes that exist, with an example of each).
    """
    district = session.execute(sa.text(
        "SELECT adcode, name_zh, name_en, ST_AsBinary(geom) FROM district LIMIT 1")).first()
    if district is None:
        raise ReportError("尚未导入辖区边界，无法生成报告",
                          "no district boundary is loaded: there is nothing to report on")
    text = (code or "").strip()
    if not text or text == district[0]:
        return Area("district", district[0], district[1], district[2] or district[0],
                    shapely.from_wkb(bytes(district[3])))
    row = session.execute(sa.text(_LOOKUP), {"c": text}).first()
    if row is None:
        raise _unknown(session, text, district[0])
    kind: AreaKind = row[0]
    name_en = row[3] or f"{KIND_LABELS[kind][1]} {row[1]}"
    return Area(kind, row[1], row[2], name_en, shapely.from_wkb(bytes(row[4])))


def _unknown(session: Session, code: str, adcode: str) -> ReportError:
    examples = session.execute(sa.text(
        "SELECT (SELECT min(code) FROM street), (SELECT min(code) FROM community), "
        "(SELECT min(code) FROM grid)")).one()
    zh = [f"区县 {adcode}"]
    en = [f"district {adcode}"]
    for kind, example in zip(("street", "community", "grid"), examples, strict=True):
        if example is not None:
            zh.append(f"{KIND_LABELS[kind][0]}（如 {example}）")
            en.append(f"{KIND_LABELS[kind][1]} (e.g. {example})")
    return ReportError(f"没有编码为“{code}”的区域。可用的区域编码：{'、'.join(zh)}",
                       f"no area has the code '{code}'. Area codes are: {', '.join(en)}")
