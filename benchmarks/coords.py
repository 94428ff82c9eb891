"""Benchmark gis.coords: vectorised numpy vs. a pure-Python per-point loop.

Run with ``python benchmarks/coords.py``. Each direction converts 100k points
(median of 7 runs). The baseline is a straightforward scalar ``math``
implementation of the same formulas and iterations, timed on 10k points in the
same process and scaled linearly to 100k; it is also checked to agree with the
numpy code so the comparison is like for like.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a checkout without install
    sys.path.insert(0, str(ROOT))

from gis import coords  # noqa: E402

N_POINTS = 100_000
N_BASELINE = 10_000
RUNS = 7
BASELINE_RUNS = 3
Pair = tuple[float, float]

# --- pure-Python scalar reference ------------------------------------------
A, EE, X_PI = 6378245.0, 0.00669342162296594323, math.pi * 3000.0 / 180.0


def _py_delta(lon: float, lat: float) -> Pair:
    x, y, pi = lon - 105.0, lat - 35.0, math.pi
    shared = (20.0 * math.sin(6.0 * pi * x) + 20.0 * math.sin(2.0 * pi * x)) * 2.0 / 3.0
    sx = math.sqrt(abs(x))
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + shared
        + (20.0 * math.sin(pi * y) + 40.0 * math.sin(pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * math.sin(pi * y / 12.0) + 320.0 * math.sin(pi * y / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + shared
        + (20.0 * math.sin(pi * x) + 40.0 * math.sin(pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * math.sin(pi * x / 12.0) + 300.0 * math.sin(pi * x / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    rad = math.radians(lat)
    w2 = 1.0 - EE * math.sin(rad) ** 2
    m_radius, n_radius = A * (1.0 - EE) / (w2 * math.sqrt(w2)), A / math.sqrt(w2)
    return math.degrees(dlon / (n_radius * math.cos(rad))), math.degrees(dlat / m_radius)


def _py_in_china(lon: float, lat: float) -> bool:
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _py_iterate(forward: Callable[[float, float], Pair], t: Pair, guess: Pair) -> Pair:
    lon, lat = guess
    for _ in range(10):
        f_lon, f_lat = forward(lon, lat)
        e_lon, e_lat = f_lon - t[0], f_lat - t[1]
        lon, lat = lon - e_lon, lat - e_lat
        if max(abs(e_lon), abs(e_lat)) < 1e-9:
            break
    return lon, lat


def _py_gcj_raw(lon: float, lat: float) -> Pair:
    d_lon, d_lat = _py_delta(lon, lat)
    return lon + d_lon, lat + d_lat


def py_wgs84_to_gcj02(lon: float, lat: float) -> Pair:
    return _py_gcj_raw(lon, lat) if _py_in_china(lon, lat) else (lon, lat)


def py_gcj02_to_wgs84(lon: float, lat: float) -> Pair:
    if not _py_in_china(lon, lat):
        return lon, lat
    d_lon, d_lat = _py_delta(lon, lat)
    return _py_iterate(_py_gcj_raw, (lon, lat), (lon - d_lon, lat - d_lat))


def py_gcj02_to_bd09(lon: float, lat: float) -> Pair:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def py_bd09_to_gcj02(lon: float, lat: float) -> Pair:
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return _py_iterate(py_gcj02_to_bd09, (lon, lat), (z * math.cos(theta), z * math.sin(theta)))


def py_wgs84_to_bd09(lon: float, lat: float) -> Pair:
    return py_gcj02_to_bd09(*py_wgs84_to_gcj02(lon, lat))


def py_bd09_to_wgs84(lon: float, lat: float) -> Pair:
    return py_gcj02_to_wgs84(*py_bd09_to_gcj02(lon, lat))


# --- harness -----------------------------------------------------------------


def _median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(42)
    wgs = (rng.uniform(73.0, 135.0, N_POINTS), rng.uniform(18.0, 53.5, N_POINTS))
    gcj = coords.wgs84_to_gcj02(*wgs)
    bd = coords.gcj02_to_bd09(*gcj)
    # (label, numpy function, pure-Python function, input already in the source CRS)
    cases = [
        ("wgs84 -> gcj02", coords.wgs84_to_gcj02, py_wgs84_to_gcj02, wgs),
        ("gcj02 -> wgs84", coords.gcj02_to_wgs84, py_gcj02_to_wgs84, gcj),
        ("gcj02 -> bd09", coords.gcj02_to_bd09, py_gcj02_to_bd09, gcj),
        ("bd09 -> gcj02", coords.bd09_to_gcj02, py_bd09_to_gcj02, bd),
        ("wgs84 -> bd09", coords.wgs84_to_bd09, py_wgs84_to_bd09, wgs),
        ("bd09 -> wgs84", coords.bd09_to_wgs84, py_bd09_to_wgs84, bd),
    ]
    scale = N_POINTS / N_BASELINE
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}; {N_POINTS:,} points")
    header = f"{'direction':<16}{'numpy ms':>10}{'Mpts/s':>8}{'pure-Py ms*':>13}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    slowest = 0.0
    for label, np_fn, py_fn, (lon, lat) in cases:
        t_np = _median_seconds(lambda f=np_fn, x=lon, y=lat: f(x, y), RUNS)
        slowest = max(slowest, t_np)
        sub = list(zip(lon[:N_BASELINE].tolist(), lat[:N_BASELINE].tolist(), strict=True))

        def loop(f: Callable[[float, float], Pair] = py_fn, pts: list[Pair] = sub) -> list[Pair]:
            return [f(x, y) for x, y in pts]

        t_py = _median_seconds(loop, BASELINE_RUNS) * scale
        # Same answers, or the speed-up would be meaningless.
        ref = np.array(loop())
        out_lon, out_lat = np_fn(lon[:N_BASELINE], lat[:N_BASELINE])
        worst = max(np.abs(ref[:, 0] - out_lon).max(), np.abs(ref[:, 1] - out_lat).max())
        assert worst < 1e-9, f"{label}: numpy and pure-Python disagree by {worst:.2e} deg"
        print(
            f"{label:<16}{t_np * 1e3:>10.1f}{N_POINTS / t_np / 1e6:>8.2f}"
            f"{t_py * 1e3:>13.0f}{t_py / t_np:>9.0f}x"
        )
    print("-" * len(header))
    print(f"* pure-Python loop timed on {N_BASELINE:,} points and scaled x{scale:g}.")
    verdict = "OK, well under 1 s" if slowest < 0.5 else "SLOW: target is well under 1 s"
    print(f"slowest direction: {slowest * 1e3:.1f} ms per {N_POINTS:,} points [{verdict}]")


if __name__ == "__main__":
    main()
