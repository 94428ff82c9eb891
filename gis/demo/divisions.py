"""Administrative divisions of the demo: streets (街道/镇) → communities (社区/村) → grids (网格).

Grids are Voronoi cells of seed points thrown with a distance-dependent spacing: a few hundred
metres apart in the urban core around 105.05°E 29.58°N, several kilometres in the countryside.
The cells are clipped to the real boundary, so together they tile the district exactly.
Communities are k-means clusters of grid seeds and streets k-means clusters of communities,
which keeps each level contiguous (or nearly) without any hand-drawn data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.demo import names
from gis.demo.space import FloatArray, as_multipolygon, core_xy, kmeans, wgs84_multipolygon

#: Seeds closer than this to the core make urban grids (courtyards live only there).
URBAN_RADIUS_M = 3500.0
_DENSE_UNTIL_M = 1800.0  # spacing is smallest inside this radius…
_SPARSE_FROM_M = 6500.0  # …and largest beyond this one
_SPACING_RATIO = 7.0  # rural spacing ÷ urban spacing
_GRIDS_PER_COMMUNITY = 5
_COMMUNITIES_PER_STREET = 7.5


@dataclass
class GridPlan:
    code: str
    name_zh: str
    shape_m: BaseGeometry  # metric, for placing things inside it
    shape: shapely.MultiPolygon  # WGS84, what is stored
    households: int
    population: int
    urban: bool
    community: int  # index into Divisions.communities


@dataclass
class CommunityPlan:
    code: str
    name_zh: str
    name_en: str
    street: int
    shape_m: BaseGeometry
    shape: shapely.MultiPolygon
    grids: list[int] = field(default_factory=list)


@dataclass
class StreetPlan:
    code: str
    name_zh: str
    name_en: str
    shape: shapely.MultiPolygon


@dataclass
class WorkerPlan:
    grid: int
    post: str
    name: str
    phone: str


@dataclass
class Divisions:
    boundary_m: BaseGeometry
    streets: list[StreetPlan]
    communities: list[CommunityPlan]
    grids: list[GridPlan]
    workers: list[WorkerPlan]


def _spacing_factor(dist_m: FloatArray) -> FloatArray:
    """1 in the core, growing geometrically to ``_SPACING_RATIO`` in the countryside."""
    t = np.clip((dist_m - _DENSE_UNTIL_M) / (_SPARSE_FROM_M - _DENSE_UNTIL_M), 0.0, 1.0)
    return np.asarray(_SPACING_RATIO ** t, dtype=np.float64)


def _greedy_accept(cand: FloatArray, radius: FloatArray, limit: int) -> list[int]:
    """Indices of candidates kept by dart throwing (pairwise gap ≥ the mean of both radii)."""
    kept: list[int] = []
    kx = np.empty(limit + 1)
    ky = np.empty(limit + 1)
    kr = np.empty(limit + 1)
    for i in range(len(cand)):
        n = len(kept)
        if n:
            d2 = (kx[:n] - cand[i, 0]) ** 2 + (ky[:n] - cand[i, 1]) ** 2
            if np.any(d2 < ((kr[:n] + radius[i]) * 0.5) ** 2):
                continue
        kx[n], ky[n], kr[n] = cand[i, 0], cand[i, 1], radius[i]
        kept.append(i)
        if len(kept) > limit:
            break
    return kept


def seed_points(boundary_m: BaseGeometry, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` grid seeds inside ``boundary_m``, dense in the core and sparse outside."""
    shapely.prepare(boundary_m)
    core = core_xy()
    minx, miny, maxx, maxy = boundary_m.bounds
    # Candidates with density ∝ 1/spacing², so dart throwing needs few of them everywhere.
    m = 400 * n
    raw = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
    raw = raw[shapely.contains_xy(boundary_m, raw[:, 0], raw[:, 1])]
    factor = _spacing_factor(np.hypot(*(raw - core).T))
    keep = rng.random(len(raw)) < 1.0 / factor**2
    cand, factor = raw[keep], factor[keep]
    # Bisect the core spacing until dart throwing yields at least n seeds, then keep n.
    lo, hi = 20.0, 5000.0
    best: list[int] = []
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        kept = _greedy_accept(cand, mid * factor, n)
        if len(kept) >= n:
            best, lo = kept, mid
            if len(kept) == n:
                break
        else:
            hi = mid
    if len(best) < n:  # unreachable with sane n; keep the candidates in order instead
        best = list(range(min(n, len(cand))))
    return cand[best[:n]]


def _cells(seeds: FloatArray, boundary_m: BaseGeometry) -> list[BaseGeometry]:
    extent = shapely.box(*boundary_m.buffer(2000).bounds)
    diagram = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=extent, ordered=True)
    cells = shapely.get_parts(diagram)
    clipped = shapely.intersection(cells, boundary_m)
    return [as_multipolygon(c) for c in clipped]


def _order_by_core(points: FloatArray, labels: np.ndarray, k: int) -> list[int]:
    """Cluster indices sorted by their centre's distance to the core (closest first)."""
    core = core_xy()
    centres = np.array([points[labels == j].mean(axis=0) for j in range(k)])
    return [int(j) for j in np.argsort(np.hypot(*(centres - core).T), kind="stable")]


def _split(total: int, share: float, n_a: int, n_b: int) -> tuple[int, int]:
    """Split ``total`` clusters between two groups of ``n_a`` and ``n_b`` members."""
    if n_a == 0 or n_b == 0:
        return (total, 0) if n_b == 0 else (0, total)
    a = int(np.clip(round(total * share), 1, min(n_a, total - 1) if total > 1 else 1))
    return a, max(0, min(total - a, n_b))


def _cluster_levels(seeds: FloatArray, urban: np.ndarray, n_comm: int, n_street: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """Community label per seed, street label per community, community centres."""
    comm_of_seed = np.zeros(len(seeds), dtype=np.int64)
    k_u, k_r = _split(n_comm, float(urban.mean()), int(urban.sum()), int((~urban).sum()))
    offset = 0
    for mask, k in ((urban, k_u), (~urban, k_r)):
        if k and mask.any():
            comm_of_seed[mask] = kmeans(seeds[mask], k, rng) + offset
            offset += int(comm_of_seed[mask].max()) + 1 - offset
    centres = np.array([seeds[comm_of_seed == j].mean(axis=0) for j in range(offset)])
    urban_comm = np.array([urban[comm_of_seed == j].mean() >= 0.5 for j in range(offset)])
    s_u, s_r = _split(n_street, float(urban_comm.mean()), int(urban_comm.sum()),
                      int((~urban_comm).sum()))
    street_of_comm = np.zeros(offset, dtype=np.int64)
    s_off = 0
    for mask, k in ((urban_comm, s_u), (~urban_comm, s_r)):
        if k and mask.any():
            street_of_comm[mask] = kmeans(centres[mask], k, rng) + s_off
            s_off = int(street_of_comm[mask].max()) + 1
    return comm_of_seed, street_of_comm, centres


def build_divisions(boundary: BaseGeometry, n_grids: int, adcode: str,
                    rng: np.random.Generator) -> Divisions:
    """Streets, communities, grids and grid workers tiling ``boundary`` (WGS84).

    Parameters
    ----------
    boundary
        The district boundary in WGS84.
    n_grids
        Number of grids; communities and streets follow (about 5 grids per community,
        7.5 communities per street).
    adcode
        Prefix of every code (``511002-001-003-07`` = street 1, community 3, grid 7).
    rng
        Source of all randomness.
    """
    from gis.demo.space import to_metric

    boundary_m = shapely.make_valid(to_metric(boundary))
    seeds = seed_points(boundary_m, n_grids, rng)
    cells = _cells(seeds, boundary_m)
    dist = np.hypot(*(seeds - core_xy()).T)

    # Urban and rural seeds are clustered apart: k-means over both at once would give the
    # dense core a few huge communities and the countryside many one-grid villages.
    urban_seed = dist < URBAN_RADIUS_M
    n_comm = max(1, round(n_grids / _GRIDS_PER_COMMUNITY))
    n_street = max(1, min(len(names.STREET_NAMES), round(n_comm / _COMMUNITIES_PER_STREET)))
    comm_of_seed, street_of_comm, comm_centres = _cluster_levels(
        seeds, urban_seed, n_comm, n_street, rng)
    n_comm, n_street = len(comm_centres), int(street_of_comm.max()) + 1

    street_order = _order_by_core(comm_centres, street_of_comm, n_street)
    urban_stems = names.community_names(rng, n_comm)
    village_stems = names.community_names(rng, n_comm, village=True)
    urban_names = [s for s in names.STREET_NAMES if s[0].endswith("街道")]
    town_names = [s for s in names.STREET_NAMES if not s[0].endswith("街道")]

    streets: list[StreetPlan] = []
    communities: list[CommunityPlan] = []
    grids: list[GridPlan] = []
    for s_no, s_idx in enumerate(street_order, start=1):
        s_comms = np.flatnonzero(street_of_comm == s_idx)
        s_seeds = np.isin(comm_of_seed, s_comms)
        is_urban_street = float(np.mean(dist[s_seeds] < URBAN_RADIUS_M)) >= 0.5
        pool = urban_names if is_urban_street and urban_names else (town_names or urban_names)
        s_zh, s_en = pool.pop(0)
        s_code = f"{adcode}-{s_no:03d}"
        c_order = sorted(s_comms, key=lambda j: float(np.hypot(*(comm_centres[j] - core_xy()))))
        street_index = len(streets)
        s_shapes: list[BaseGeometry] = []
        for c_no, c_idx in enumerate(c_order, start=1):
            # North-west first, the way a paper grid map is numbered.
            member = sorted(np.flatnonzero(comm_of_seed == c_idx).tolist(),
                            key=lambda i: (-round(seeds[i, 1], -2), seeds[i, 0]))
            urban_comm = float(np.mean(dist[member] < URBAN_RADIUS_M)) >= 0.5
            stem = (urban_stems if urban_comm else village_stems).pop(0)
            c_zh = f"{stem}社区" if urban_comm else f"{stem}村"
            c_code = f"{s_code}-{c_no:03d}"
            c_en = f"{stem} {'Community' if urban_comm else 'Village'}"
            comm = CommunityPlan(c_code, c_zh, c_en, street_index, shapely.Point(),
                                 shapely.MultiPolygon())
            for g_no, i in enumerate(member, start=1):
                urban = bool(dist[i] < URBAN_RADIUS_M)
                area_km2 = cells[i].area / 1e6
                if urban:
                    households = int(rng.integers(300, 801))
                else:
                    households = int(np.clip(area_km2 * rng.uniform(45, 110), 120, 900))
                population = int(households * rng.uniform(2.4, 3.1))
                comm.grids.append(len(grids))
                grids.append(GridPlan(
                    code=f"{c_code}-{g_no:02d}", name_zh=f"{c_zh}第{g_no}网格",
                    shape_m=cells[i], shape=wgs84_multipolygon(cells[i]),
                    households=households, population=population, urban=urban,
                    community=len(communities)))
            comm.shape_m = as_multipolygon(shapely.union_all([cells[i] for i in member]))
            comm.shape = as_multipolygon(shapely.union_all([grids[g].shape for g in comm.grids]))
            s_shapes.append(comm.shape)
            communities.append(comm)
        streets.append(StreetPlan(s_code, s_zh, s_en, as_multipolygon(shapely.union_all(s_shapes))))

    workers = _workers(len(grids), rng)
    return Divisions(boundary_m, streets, communities, grids, workers)


def _workers(n_grids: int, rng: np.random.Generator) -> list[WorkerPlan]:
    """Exactly one A (lead) and one B (assistant) worker per grid."""
    people = names.person_names(rng, 2 * n_grids)
    phones = names.phone_numbers(rng, 2 * n_grids)
    return [WorkerPlan(g, post, people[2 * g + k], phones[2 * g + k])
            for g in range(n_grids) for k, post in enumerate(("A", "B"))]
