"""Turn raw attribute columns into typed, checked values, a whole column at a time.

Each parser takes a column as read (strings from CSV/XLSX, typed values from GDAL) and
returns the clean column plus the problems found, row-numbered from 1. Nothing here loops
over rows in Python: 100k-row files are validated with pandas/numpy vector operations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.importers.columns import Field, _norm
from gis.scrub import register_secret, scrub

LOCAL_TZ = "Asia/Shanghai"
Problem = tuple[int | None, str | None, str]


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


def clean_text(series: pd.Series) -> pd.Series:
    """Strings with blanks trimmed; empty cells become missing (``None``).

    Integral floats from typed sources (``1001.0`` from a DBF) read back as ``1001``.
    """
    if pd.api.types.is_float_dtype(series):
        integral = (series.notna() & (series == np.floor(series))).to_numpy()
        text = series.astype(object).where(series.isna(), series.astype(str))
        whole = series.where(integral, 0).astype("int64").astype(str)
        text = text.where(~integral, whole)
    else:
        text = series.astype(object)
        text = text.where(text.isna(), text.astype(str).str.strip())
    return text.where(text.notna() & (text != ""), None).astype(object)


def parse_field(spec: Field, series: pd.Series | None, n_rows: int,
                problems: list[Problem], header: str | None) -> pd.Series:
    """Parse one field of every row; appends ``(row, column, message)`` to ``problems``.

    A missing column behaves like a column of empty cells: the default applies, or each row
    is reported when the field is required.
    """
    column = header or spec.name
    raw = clean_text(series) if series is not None else pd.Series([None] * n_rows, dtype=object)
    missing = raw.isna().to_numpy()
    if spec.required and missing.any():
        what = f"缺少必填字段“{spec.title}” / required field {spec.name!r} is missing"
        if series is None:
            # One line for the whole file instead of one per row.
            problems.append((None, spec.name, f"{what}（整列缺失 / no such column）"))
        else:
            problems.extend((row, column, what) for row in _rows(missing))
    parser = {"str": _text, "int": _number, "float": _number, "choice": _choice,
              "time": _time}[spec.kind]
    out = parser(spec, raw, missing, problems, column)
    if spec.default is not None:
        out = out.where(~missing, spec.default)
    return out


def _text(spec: Field, raw: pd.Series, missing: np.ndarray, problems: list[Problem],
          column: str) -> pd.Series:
    if spec.name in ("main_url", "sub_url"):
        # Registered so that any later message that quotes a row masks the password too.
        for url in raw.dropna():
            register_secret(_password_of(url))
    if spec.max_len is not None:
        too_long = raw.str.len().fillna(0).to_numpy() > spec.max_len
        for row in _rows(too_long):
            value = scrub(raw.iloc[row - 1])[:20]
            problems.append((row, column, f"“{value}…”超过{spec.max_len}个字符 / longer than "
                                          f"{spec.max_len} characters"))
    return raw


def _password_of(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _number(spec: Field, raw: pd.Series, missing: np.ndarray, problems: list[Problem],
            column: str) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = values.isna().to_numpy() & ~missing
    if spec.kind == "int":
        bad |= values.notna().to_numpy() & (values != np.floor(values)).to_numpy()
    zh, en = ("整数", "an integer") if spec.kind == "int" else ("数字", "a number")
    for row in _rows(bad):
        value = scrub(raw.iloc[row - 1])[:30]
        problems.append((row, column, f"“{value}”不是{zh} / {value!r} is not {en}"))
    if spec.name == "azimuth":
        values = values % 360.0  # -90 and 270 point the same way; the database wants [0, 360)
    out_of_range = np.zeros(len(values), bool)
    if spec.low is not None:
        out_of_range |= (values < spec.low).to_numpy()
    if spec.high is not None:
        out_of_range |= (values > spec.high).to_numpy()
    low = "-∞" if spec.low is None else f"{spec.low:g}"
    high = "∞" if spec.high is None else f"{spec.high:g}"
    for row in _rows(out_of_range):
        problems.append((row, column, f"{values.iloc[row - 1]:g} 超出范围 {low}–{high} / out of "
                                      f"range {low}–{high}"))
    values = values.where(~(bad | out_of_range))
    return values.astype("Int64") if spec.kind == "int" else values


def _choice(spec: Field, raw: pd.Series, missing: np.ndarray, problems: list[Problem],
            column: str) -> pd.Series:
    keys = raw.map(lambda v: None if v is None else _norm(v))
    codes = keys.map(spec.choices)
    bad = codes.isna().to_numpy() & ~missing
    if bad.any():
        accepted = "、".join(sorted(set(spec.choices.values())))
        for row in _rows(bad):
            problems.append((row, column, f"无法识别的取值“{scrub(raw.iloc[row - 1])[:30]}”（可用："
                                          f"{accepted}及其中文名）/ unknown value"))
    return codes.astype(object).where(codes.notna(), None)


def _parse_times(raw: pd.Series) -> pd.Series:
    with np.errstate(all="ignore"):
        try:
            # The common case: one format throughout, inferred from the first value (fast).
            parsed = pd.to_datetime(raw, errors="coerce")
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=raw.index)
        retry = parsed.isna() & raw.notna()
        if retry.any():
            # Hand-edited sheets mix "2024/5/1 8:00" with ISO strings; parse those one by one.
            again = pd.to_datetime(raw[retry], errors="coerce", format="mixed", utc=False)
            parsed = _as_local(parsed)
            parsed[retry] = _as_local(again)
    return _as_local(parsed)


def _as_local(values: pd.Series) -> pd.Series:
    if values.dtype == object:  # a mix of aware and naive values
        values = values.map(lambda v: v if pd.isna(v) or v.tzinfo else
                            pd.Timestamp(v).tz_localize(LOCAL_TZ))
        return pd.to_datetime(values, utc=True).dt.tz_convert(LOCAL_TZ)
    if getattr(values.dt, "tz", None) is None:
        return values.dt.tz_localize(LOCAL_TZ)
    return values.dt.tz_convert(LOCAL_TZ)


def _time(spec: Field, raw: pd.Series, missing: np.ndarray, problems: list[Problem],
          column: str) -> pd.Series:
    parsed = _parse_times(raw)
    bad = parsed.isna().to_numpy() & ~missing
    for row in _rows(bad):
        problems.append((row, column, f"“{scrub(raw.iloc[row - 1])[:30]}”不是有效时间 / not a "
                                      "valid date-time"))
    return parsed


def duplicate_codes(codes: pd.Series, header: str, problems: list[Problem]) -> None:
    """Report every row whose code occurs more than once, naming all rows of that code."""
    dup = codes.notna() & codes.duplicated(keep=False)
    if not dup.any():
        return
    groups = codes[dup].groupby(codes[dup], sort=False).groups
    for code, index in groups.items():
        rows = [int(i) + 1 for i in index]
        listed = "、".join(str(r) for r in rows)
        for row in rows:
            problems.append((row, header, f"编码 {code} 在第 {listed} 行重复 / duplicate code "
                                          f"{code} in rows {', '.join(map(str, rows))}"))
