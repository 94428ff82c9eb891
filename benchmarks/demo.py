"""Time the demo district: ``seed_demo`` at the default size, against its own parts.

Run with ``.venv/bin/python benchmarks/demo.py [--runs N]``. Starts a throwaway cluster in a
temporary folder (removed at the end). The baseline, measured in the same run, is the cost of
loading the district boundary alone, so the ratio shows what generating and writing ~22,000
rows (plus 6,000 survey answers) adds on top of a single-row load. Target: under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

from config.settings import load_settings  # noqa: E402
from gis import migrate  # noqa: E402
from gis.db import get_engine  # noqa: E402
from gis.demo import seed_demo  # noqa: E402
from gis.district import load_district  # noqa: E402
from gis.localdb import LocalCluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    base = Path(tempfile.mkdtemp(prefix="cc-bench-demo-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster(base / "pg")
    cluster.init()
    cluster.start()
    try:
        cluster.ensure_database("bench")
        engine = get_engine(cluster.url("bench"))
        migrate.upgrade(engine)
        boundary, seeding = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            with Session(engine) as s:
                load_district(s, settings)
                s.commit()
            boundary.append(time.perf_counter() - t)
            t = time.perf_counter()
            summary = seed_demo(engine, settings)
            seeding.append(time.perf_counter() - t)
        b, d = statistics.median(boundary), statistics.median(seeding)
        print(f"{'benchmark':44s} {'median':>9s} {'min':>9s} {'max':>9s}")
        print(f"{'district boundary only (baseline)':44s} {b:8.2f}s {min(boundary):8.2f}s "
              f"{max(boundary):8.2f}s")
        print(f"{'demo seed, default size':44s} {d:8.2f}s {min(seeding):8.2f}s "
              f"{max(seeding):8.2f}s")
        print(f"ratio seed/boundary {d / b:.1f}x; target < 60 s: "
              f"{'met' if d < 60 else 'MISSED'}; rows: {summary.grids} grids, "
              f"{summary.courtyards} courtyards, {summary.cameras} cameras, "
              f"{summary.events} events")
        engine.dispose()
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
