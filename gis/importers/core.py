"""``import_file``: read, validate every row, then write the whole file or nothing.

Validation runs completely before the first write, so one bad row near the end of a file
leaves the database as it was and the user gets every problem at once, with row numbers,
instead of fixing them one run at a time. The caller owns the transaction
(:func:`gis.db.session_scope`); a failure inside the write rolls it back as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import CATEGORY_BY_CODE
from gis.district import district_geometry
from gis.errors import ImportValidationError
from gis.importers import fields, geometry, writer
from gis.importers.columns import KIND_FIELDS, KINDS, POLYGON_KINDS, match_columns
from gis.importers.reader import Problem, read_source
from gis.scrub import scrub

#: ``progress(stage, done, total)``; stages are read, validate, write and done.
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    """What an import did (or, attached to :class:`ImportRejected`, would have done)."""

    kind: str
    path: str
    fmt: str = ""
    crs: str = ""
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    repairs: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def repaired(self) -> int:
        """Rows whose geometry was repaired."""
        return len(self.repairs)

    @property
    def unchanged(self) -> int:
        """Rows already in the database exactly as in the file."""
        return self.rows_read - self.inserted - self.updated - self.rejected


class ImportRejected(ImportValidationError):
    """The file failed validation; ``problems`` lists the rows, ``report`` the counts."""

    def __init__(self, zh: str, en: str, problems: list[Problem], report: ImportReport) -> None:
        super().__init__(zh, en, problems=problems)
        self.report = report


def _noop(stage: str, done: int, total: int) -> None:
    return None


def _parse_attributes(frame: pd.DataFrame, kind: str, headers: dict[str, str],
                      problems: list[Problem]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for spec in KIND_FIELDS[kind]:
        series = frame[spec.name] if spec.name in frame.columns else None
        out[spec.name] = fields.parse_field(spec, series, len(frame), problems,
                                            headers.get(spec.name))
    fields.duplicate_codes(out["code"], headers.get("code", "code"), problems)
    return out


def _resolve_communities(session: Session, values: pd.DataFrame, header: str,
                         problems: list[Problem]) -> pd.Series:
    codes = values["community_code"]
    wanted = sorted(set(codes.dropna()))
    known: dict[str, int] = {}
    if wanted:
        known = dict(session.execute(sa.text("SELECT code, id FROM community WHERE code = ANY(:c)"),
                                     {"c": wanted}).tuples().all())
    ids = codes.map(known)
    for i in np.flatnonzero((codes.notna() & ids.isna()).to_numpy()):
        problems.append((int(i) + 1, header, f"社区编码 {codes.iloc[i]} 不存在 / no community "
                                             f"with code {codes.iloc[i]}"))
    return ids.astype("Int64")


def _check_event_times(values: pd.DataFrame, headers: dict[str, str],
                       problems: list[Problem]) -> None:
    """Fill missing deadlines from the category, then apply the database's time rules early."""
    hours = values["category"].map({c: v.deadline_hours for c, v in CATEGORY_BY_CODE.items()})
    start = values["accepted_at"].fillna(values["reported_at"])
    default = start + pd.to_timedelta(hours.astype(float), unit="h")
    values["deadline_at"] = values["deadline_at"].fillna(default)
    late_deadline = (values["deadline_at"] <= values["accepted_at"]).fillna(False).to_numpy()
    for i in np.flatnonzero(late_deadline):
        problems.append((int(i) + 1, headers.get("deadline_at", "deadline_at"),
                         "办结时限必须晚于受理时间 / the deadline must be after acceptance"))
    early_close = (values["closed_at"] < values["reported_at"]).fillna(False).to_numpy()
    for i in np.flatnonzero(early_close):
        problems.append((int(i) + 1, headers.get("closed_at", "closed_at"),
                         "结案时间早于上报时间 / closed before it was reported"))


def _write_frame(kind: str, values: pd.DataFrame, geoms: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame(index=values.index)
    for spec in KIND_FIELDS[kind]:
        if spec.column is not None:
            out[spec.column] = values[spec.name]
        elif spec.name.startswith("worker_"):
            out[spec.name] = values[spec.name]
    if kind == "grids":
        out["community_id"] = values["community_id"]
    out["geom"] = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
    return out


def _rejected(path: Path, report: ImportReport, problems: list[Problem],
              hint: tuple[str, str] | None) -> ImportRejected:
    problems = sorted(problems, key=lambda p: (p[0] is not None, p[0] or 0))
    rows = {p[0] for p in problems if p[0] is not None}
    report.rejected = len(rows) if rows else report.rows_read
    zh = f"{path.name}：{report.rejected} 行未通过校验，未写入任何数据"
    en = f"{path.name}: {report.rejected} row(s) failed validation; nothing was written"
    if hint is not None:
        zh, en = f"{zh}。{hint[0]}", f"{en}. {hint[1]}"
    return ImportRejected(zh, en, problems, report)


def import_file(session: Session, kind: str, path: Path | str, *, crs: str | None = None,
                layer: str | None = None, progress: ProgressCallback | None = None
                ) -> ImportReport:
    """Validate every row of ``path`` and upsert it into the table of ``kind``.

    Parameters
    ----------
    session
        The unit of work; the caller commits (or rolls back on error).
    kind
        ``grids``, ``courtyards``, ``cameras`` or ``events``.
    path
        GeoJSON, GeoPackage, Shapefile, KML, CSV or XLSX.
    crs
        ``EPSG:xxxx``, ``gcj02`` or ``bd09``; needed when the file declares no CRS.
    layer
        Layer or sheet to read.
    progress
        Called as ``progress(stage, done, total)`` while the import runs.

    Returns
    -------
    ImportReport
        Rows read, inserted, updated, repaired; notes and ignored columns.

    Raises
    ------
    ImportValidationError
        The file cannot be used; :class:`ImportRejected` (with ``problems`` and ``report``)
        when rows fail validation. Nothing is written in either case.
    """
    if kind not in KINDS:
        raise ImportValidationError(f"未知的导入类型 {kind}（可用：{'、'.join(KINDS)}）",
                                    f"unknown import kind {kind} (one of {', '.join(KINDS)})")
    began = time.perf_counter()
    path = Path(path)
    report_progress = progress or _noop
    report_progress("read", 0, 1)
    source = read_source(path, crs=crs, layer=layer)
    frame = source.frame
    report = ImportReport(kind, path.name, source.fmt, source.crs_label, len(frame),
                          notes=list(source.notes))
    report_progress("validate", 0, len(frame))
    attrs = [c for c in frame.columns if c != frame.geometry.name]
    match = match_columns(attrs, kind, truncated=source.fmt == "Shapefile",
                          kml=source.fmt == "KML")
    report.ignored_columns, report.notes = match.ignored, report.notes + match.notes
    headers = {canonical: original for original, canonical in match.rename.items()}
    problems: list[Problem] = list(source.problems)
    values = _parse_attributes(frame[list(match.rename)].rename(columns=match.rename), kind,
                               headers, problems)
    if kind == "grids":
        values["community_id"] = _resolve_communities(
            session, values, headers.get("community_code", "community_code"), problems)
    if kind == "events":
        _check_event_times(values, headers, problems)
    checked = geometry.shape_geometries(frame.geometry.to_numpy(), kind in POLYGON_KINDS,
                                        problems, {p[0] for p in source.problems if p[0]})
    report.repairs = checked.repairs
    district = district_geometry(session)
    if district is None:
        raise ImportValidationError("数据库中还没有辖区边界，请先导入辖区边界",
                                    "no district boundary in the database yet; load it first")
    geometry.check_location(checked, district, source.geographic_wgs84, problems)
    report_progress("validate", len(frame), len(frame))
    if problems:
        raise _rejected(path, report, problems, checked.hint)
    table = _write_frame(kind, values, checked.geoms)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report_progress("write", done, len(table))

    try:
        writer.copy_rows(session, kind, table, advance)
        result = writer.upsert(session, kind)
    except (sa.exc.DBAPIError, psycopg.Error) as exc:
        raise _database_refused(path, exc) from None
    report.inserted, report.updated = result.inserted, result.updated
    report.seconds = time.perf_counter() - began
    report_progress("done", len(table), len(table))
    return report


def _database_refused(path: Path, exc: Exception) -> ImportValidationError:
    # Only the primary message: PostgreSQL's DETAIL quotes the failing row, stream URLs too.
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or type(orig).__name__
    text = scrub(primary)
    return ImportValidationError(f"{path.name}：数据库拒绝写入，未写入任何数据（{text}）",
                                 f"{path.name}: the database refused the rows; nothing was "
                                 f"written ({text})")
