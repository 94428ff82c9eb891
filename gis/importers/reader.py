"""Read any supported file into a GeoDataFrame in WGS84, refusing to guess its CRS.

A file is only converted when we know its coordinate system: KML is WGS84 by its spec, a
GeoPackage and a Shapefile with a ``.prj`` declare theirs, a GeoJSON declares one only with a
``crs`` member (RFC 7946 says "WGS84" for the rest, but Chinese GeoJSON is usually GCJ-02 from
a web map, so we ask), and CSV/XLSX never do. ``--crs`` fills the gap or overrides the file.
EPSG codes go through pyproj; GCJ-02 and BD-09, unknown to PROJ, through :mod:`gis.coords`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from gis.coords import is_chinese_crs, to_wgs84
from gis.errors import ImportValidationError
from gis.importers.columns import canonical_name

VECTOR_FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage",
                  ".shp": "Shapefile", ".kml": "KML"}
TABLE_FORMATS = {".csv": "CSV", ".txt": "CSV", ".xlsx": "XLSX"}
STORAGE_EPSG = 4326
Problem = tuple[int | None, str | None, str]


@dataclass
class Source:
    """A file read into WGS84, with what we learnt about it on the way."""

    frame: gpd.GeoDataFrame
    fmt: str
    crs_label: str
    geographic_wgs84: bool
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _refuse(zh: str, en: str) -> ImportValidationError:
    return ImportValidationError(zh, en)


def _crs_missing(path: Path, fmt: str) -> ImportValidationError:
    why = {
        "GeoJSON": ("该GeoJSON没有“crs”成员。RFC 7946 规定GeoJSON为WGS84，但国内GeoJSON多来自"
                    "高德/腾讯等网络地图，实为GCJ-02坐标，因此不能默认",
                    'this GeoJSON has no "crs" member. RFC 7946 says GeoJSON is WGS84, but '
                    "Chinese GeoJSON usually comes from web maps (Gaode/Tencent) and is really "
                    "GCJ-02, so we do not assume"),
        "Shapefile": ("该Shapefile缺少 .prj 文件", "this Shapefile has no .prj file"),
        "GeoPackage": ("该图层没有声明坐标系", "this layer declares no spatial reference"),
    }.get(fmt, (f"{fmt} 文件不包含坐标系信息", f"a {fmt} file carries no coordinate system"))
    return _refuse(
        f"{path.name}: {why[0]}。请用 --crs 指明坐标系，例如 --crs EPSG:4326、--crs gcj02 或 "
        "--crs bd09",
        f"{path.name}: {why[1]}. State it with --crs, e.g. --crs EPSG:4326, --crs gcj02 or "
        "--crs bd09",
    )


def parse_crs(text: str) -> str | pyproj.CRS:
    """``gcj02``/``bd09`` as lower-case names, anything else as a :class:`pyproj.CRS`.

    Raises
    ------
    ImportValidationError
        When PROJ does not know ``text``; the message names ``--crs``.
    """
    if is_chinese_crs(text):
        return "bd09" if "bd" in text.lower() else "gcj02"
    alias = {"wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "cgcs2000": "EPSG:4490"}
    try:
        return pyproj.CRS.from_user_input(alias.get(text.strip().lower(), text.strip()))
    except pyproj.exceptions.CRSError:
        raise _refuse(f"无法识别的坐标系 --crs {text}（可用 EPSG:xxxx、gcj02、bd09）",
                      f"unknown coordinate system --crs {text} (use EPSG:xxxx, gcj02 or bd09)"
                      ) from None


def _crs_text(crs: str | pyproj.CRS) -> str:
    if isinstance(crs, str):
        return crs
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _is_wgs84_like(crs: pyproj.CRS) -> bool:
    # CGCS2000 agrees with WGS84 to centimetres; no datum shift is wanted for either.
    return crs.to_epsg() in (4326, 4490) or crs.equals("OGC:CRS84")


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(f"{path.name} 不是有效的JSON（{exc}）",
                      f"{path.name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("type") not in ("FeatureCollection", "Feature"):
        raise _refuse(f"{path.name} 不是GeoJSON要素集合（缺少 \"type\": \"FeatureCollection\"）",
                      f"{path.name} is not a GeoJSON FeatureCollection (no \"type\" member)")
    return data


def _read_vector(path: Path, fmt: str, layer: str | None) -> tuple[gpd.GeoDataFrame, bool]:
    """The file as read by GDAL, and whether the file itself declares its CRS."""
    declares = True
    if fmt == "GeoJSON":
        data = _read_json(path)
        declares = "crs" in data
        if data.get("type") == "FeatureCollection" and not data.get("features"):
            raise _refuse(f"{path.name} 中没有要素", f"{path.name} holds no features")
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        raise _refuse(f"无法读取 {path.name}：格式无法识别或文件已损坏（{exc}）",
                      f"cannot read {path.name}: unrecognised or damaged file ({exc})") from None
    if layer is not None and layer not in layers:
        raise _refuse(f"{path.name} 中没有图层 {layer}（现有：{'、'.join(layers)}）",
                      f"{path.name} has no layer {layer} (layers: {', '.join(layers)})")
    if layer is None and len(layers) > 1 and fmt != "KML":
        raise _refuse(f"{path.name} 有多个图层，请用 --layer 选择：{'、'.join(layers)}",
                      f"{path.name} has several layers, choose one with --layer: "
                      f"{', '.join(layers)}")
    # KML folders are layers; a planner's KML is one dataset split by folder, so read them all.
    wanted = [layer] if layer else layers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL's chatter about field laundering and the like
        frames = [gpd.read_file(path, layer=name, engine="pyogrio") for name in wanted]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if fmt == "KML":
        frame = frame.set_crs(STORAGE_EPSG, allow_override=True)  # WGS84 by the KML spec
    declares = declares and frame.crs is not None
    return gpd.GeoDataFrame(frame, geometry=frame.geometry.name), declares


def _read_sheet(path: Path, fmt: str, layer: str | None) -> pd.DataFrame:
    try:
        if fmt == "XLSX":
            sheets = pd.ExcelFile(path, engine="openpyxl").sheet_names
            if layer is not None and layer not in sheets:
                raise _refuse(f"{path.name} 中没有工作表 {layer}（现有：{'、'.join(sheets)}）",
                              f"{path.name} has no sheet {layer} (sheets: {', '.join(sheets)})")
            return pd.read_excel(path, sheet_name=layer or 0, dtype=str, engine="openpyxl")
        try:
            return pd.read_csv(path, dtype=str, encoding="utf-8-sig", skipinitialspace=True)
        except UnicodeDecodeError:
            # Excel on Chinese Windows saves CSV as GBK; GB18030 is its superset.
            return pd.read_csv(path, dtype=str, encoding="gb18030", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise _refuse(f"{path.name} 是空文件", f"{path.name} is empty") from None
    except ImportValidationError:
        raise
    except Exception as exc:  # openpyxl/pandas raise many types for a damaged file
        raise _refuse(f"无法读取 {path.name}：{type(exc).__name__}: {exc}",
                      f"cannot read {path.name}: {type(exc).__name__}: {exc}") from None


def _sheet_geometry(table: pd.DataFrame, problems: list[Problem]) -> gpd.GeoDataFrame:
    """Build geometries from lon/lat columns or a WKT column; bad rows become problems."""
    found = {canonical_name(c): c for c in reversed(table.columns)}
    rows = np.arange(1, len(table) + 1)
    if "lon" in found and "lat" in found:
        lon = pd.to_numeric(table[found["lon"]], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(table[found["lat"]], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        for row in rows[bad]:
            problems.append((int(row), f"{found['lon']}/{found['lat']}",
                             "经纬度缺失或不是数字 / lon/lat missing or not a number"))
        geoms = shapely.points(np.where(bad, np.nan, lon), np.where(bad, np.nan, lat))
        geoms[bad] = None
        table = table.drop(columns=[found["lon"], found["lat"]])
    elif "wkt" in found:
        text = table[found["wkt"]].fillna("").astype(str).str.strip().to_numpy(object)
        geoms = shapely.from_wkt(np.where(text == "", None, text), on_invalid="ignore")
        for row in rows[pd.isna(geoms)]:
            problems.append((int(row), found["wkt"],
                             "WKT几何缺失或无法解析 / WKT geometry missing or unreadable"))
        table = table.drop(columns=[found["wkt"]])
    else:
        raise _refuse("找不到坐标列：需要“经度/纬度”（lon/lat）两列，或一列WKT几何（geometry/wkt）",
                      "no coordinate columns: need lon/lat (经度/纬度) or a WKT column "
                      "(geometry/wkt)")
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms))


def _to_wgs84(frame: gpd.GeoDataFrame, crs: str | pyproj.CRS) -> gpd.GeoDataFrame:
    geoms = shapely.force_2d(frame.geometry.to_numpy())
    if isinstance(crs, str):
        def shift(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs))

        geoms = shapely.transform(geoms, shift)
    elif not _is_wgs84_like(crs):
        geoms = gpd.GeoSeries(geoms, crs=crs).to_crs(STORAGE_EPSG).to_numpy()
    out = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index), crs=STORAGE_EPSG)
    return gpd.GeoDataFrame(out)


def read_source(path: Path | str, crs: str | None = None, layer: str | None = None) -> Source:
    """Read ``path`` and convert its geometries to WGS84.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile, KML, CSV or XLSX.
    crs
        ``EPSG:xxxx``, ``gcj02`` or ``bd09``: required when the file declares no CRS,
        overrides the file's own when given (a note says so).
    layer
        Layer (GeoPackage, KML) or sheet (XLSX) to read.

    Raises
    ------
    ImportValidationError
        Missing, empty or unreadable file; no CRS; unknown ``--crs``; unknown layer.
    """
    path = Path(path)
    if not path.is_file():
        raise _refuse(f"找不到文件 {path}", f"file not found: {path}")
    suffix = path.suffix.lower()
    fmt = VECTOR_FORMATS.get(suffix) or TABLE_FORMATS.get(suffix)
    if fmt is None:
        raise _refuse(f"不支持的文件类型 {suffix or '(无扩展名)'}（支持 GeoJSON、GeoPackage、"
                      "Shapefile、KML、CSV、XLSX）",
                      f"unsupported file type {suffix or '(none)'} (GeoJSON, GeoPackage, "
                      "Shapefile, KML, CSV and XLSX are)")
    if path.stat().st_size == 0:
        raise _refuse(f"{path.name} 是空文件", f"{path.name} is empty")
    problems: list[Problem] = []
    notes: list[str] = []
    if suffix in VECTOR_FORMATS:
        frame, declares = _read_vector(path, fmt, layer)
    else:
        frame, declares = _sheet_geometry(_read_sheet(path, fmt, layer), problems), False
    if frame.empty:
        raise _refuse(f"{path.name} 中没有数据行", f"{path.name} holds no data rows")
    declared = frame.crs if declares else None
    if crs is not None:
        target = parse_crs(crs)
        if declared is not None:
            notes.append(f"文件声明的坐标系 {_crs_text(declared)} 已被 --crs {crs} 覆盖 / the "
                         f"file's declared CRS {_crs_text(declared)} was overridden by --crs {crs}")
    elif declared is not None:
        target = declared
    else:
        raise _crs_missing(path, fmt)
    frame = _to_wgs84(frame.reset_index(drop=True), target)
    wgs84 = not isinstance(target, str) and _is_wgs84_like(target)
    return Source(frame, fmt, _crs_text(target), wgs84, notes, problems)


def read_table(path: Path | str, crs: str | None = None,
               layer: str | None = None) -> gpd.GeoDataFrame:
    """Read ``path`` into a GeoDataFrame in EPSG:4326 (see :func:`read_source`).

    Examples
    --------
    >>> from pathlib import Path
    >>> boundary = read_table(Path("../shared/data/neijiang_511000_gcj02.geojson"),
    ...                       crs="gcj02")  # doctest: +SKIP
    >>> boundary.crs.to_epsg()  # doctest: +SKIP
    4326
    """
    return read_source(path, crs=crs, layer=layer).frame
