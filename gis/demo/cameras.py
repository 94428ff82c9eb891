"""Roads and cameras of the demo district.

There is no street data in the repository, so the generator synthesizes a road network: a
jittered lattice of ~230 m blocks in the urban core and a sparse ~1.6 km lattice in the
countryside. Junctions (lattice crossings) carry the SkyNet (天网) cameras, each looking
along one arm of its junction; courtyard cameras sit on a courtyard's edge at its gate looking
inward; community cameras sit around each community's centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.demo import names
from gis.demo.courtyards import CourtyardPlan
from gis.demo.divisions import URBAN_RADIUS_M, Divisions
from gis.demo.space import FloatArray, azimuth_deg, core_xy, points_in

SIMULATOR = "rtsp://127.0.0.1:8554"
_URBAN_BLOCK_M = 230.0
_RURAL_BLOCK_M = 1600.0
_VENDOR_MIX = {
    "skynet": (0.5, 0.4, 0.1),
    "courtyard": (0.3, 0.2, 0.5),
    "community": (0.45, 0.35, 0.2),
}
_VENDORS = ("hikvision", "dahua", "generic")


@dataclass
class RoadNet:
    """Junctions and, per junction, its two road directions, block size and road names."""

    xy: FloatArray
    axis_u: FloatArray
    axis_v: FloatArray
    block_m: FloatArray
    road_u: list[str]
    road_v: list[str]
    urban: np.ndarray


@dataclass
class CameraPlan:
    code: str
    name_zh: str
    source: str
    vendor: str
    xy: tuple[float, float]
    azimuth: float
    fov: float
    range_m: float
    courtyard: int | None = None

    def urls(self) -> tuple[str, str]:
        """Main and sub stream on the local camera simulator."""
        return f"{SIMULATOR}/{self.code}/main", f"{SIMULATOR}/{self.code}/sub"


def _lattice(rng: np.random.Generator, block: float, half_extent: float, jitter: float,
             road_names: list[str]) -> tuple[FloatArray, FloatArray, FloatArray, list[str],
                                             list[str]]:
    theta = np.radians(rng.uniform(-25, 25))
    e_u = np.array([np.cos(theta), np.sin(theta)])
    e_v = np.array([-np.sin(theta), np.cos(theta)])
    k = int(half_extent // block) + 1
    offs_u = np.arange(-k, k + 1) * block + rng.uniform(-0.2, 0.2, 2 * k + 1) * block
    offs_v = np.arange(-k, k + 1) * block + rng.uniform(-0.2, 0.2, 2 * k + 1) * block
    uu, vv = np.meshgrid(offs_u, offs_v, indexing="ij")
    pts = uu.reshape(-1, 1) * e_u + vv.reshape(-1, 1) * e_v
    pts += rng.uniform(-jitter, jitter, size=pts.shape)
    # Lines of constant u run along e_v and vice versa; each line gets one road name.
    iu, iv = np.meshgrid(np.arange(2 * k + 1), np.arange(2 * k + 1), indexing="ij")
    name_u = [road_names[i % len(road_names)] for i in iu.ravel()]
    name_v = [road_names[(i + 7) % len(road_names)] for i in iv.ravel()]
    return pts + core_xy(), np.tile(e_u, (len(pts), 1)), np.tile(e_v, (len(pts), 1)), \
        name_v, name_u


def build_roads(div: Divisions, rng: np.random.Generator) -> RoadNet:
    """A jittered road lattice: dense in the urban core, sparse in the countryside."""
    inner = div.boundary_m.buffer(-15)
    shapely.prepare(inner)
    minx, miny, maxx, maxy = div.boundary_m.bounds
    half = max(maxx - minx, maxy - miny)
    rural_names = [f"{n}村道" for n in names.VILLAGE_STEMS] + ["县道X153", "县道X155"]
    parts = []
    for block, extent, jitter, road_names, urban in (
        (_URBAN_BLOCK_M, URBAN_RADIUS_M + 400, 12.0, list(names.ROAD_NAMES), True),
        (_RURAL_BLOCK_M, half, 200.0, rural_names, False),
    ):
        xy, eu, ev, ru, rv = _lattice(rng, block, extent, jitter, road_names)
        dist = np.hypot(*(xy - core_xy()).T)
        keep = shapely.contains_xy(inner, xy[:, 0], xy[:, 1])
        if urban:
            keep &= dist < URBAN_RADIUS_M + 300
        else:  # country roads are sparse: not every lattice crossing exists
            keep &= (dist >= URBAN_RADIUS_M + 300) & (rng.random(len(xy)) < 0.6)
        idx = np.flatnonzero(keep)
        parts.append((xy[idx], eu[idx], ev[idx], np.full(len(idx), block),
                      [ru[i] for i in idx], [rv[i] for i in idx], np.full(len(idx), urban)))
    def cat(j: int) -> np.ndarray:
        return np.concatenate([p[j] for p in parts])

    return RoadNet(xy=cat(0), axis_u=cat(1), axis_v=cat(2), block_m=cat(3),
                   road_u=parts[0][4] + parts[1][4], road_v=parts[0][5] + parts[1][5],
                   urban=cat(6))


def _vendor(rng: np.random.Generator, source: str) -> str:
    return _VENDORS[int(rng.choice(3, p=_VENDOR_MIX[source]))]


def _skynet(roads: RoadNet, n: int, adcode: str, rng: np.random.Generator) -> list[CameraPlan]:
    if n == 0 or len(roads.xy) == 0:
        return []
    dist = np.hypot(*(roads.xy - core_xy()).T)
    weight = np.where(roads.urban, np.exp(-dist / 3000), 0.15)
    # A slot is one arm of one junction, so a busy crossing carries up to four cameras.
    p = np.repeat(weight, 4)
    p /= p.sum()
    slots = rng.choice(len(p), size=n, replace=n > len(p), p=p)
    cams = []
    for k, slot in enumerate(sorted(slots), start=1):
        j, arm = divmod(int(slot), 4)
        axis = (roads.axis_u, roads.axis_v)[arm % 2][j] * (1 if arm < 2 else -1)
        corner = (roads.axis_u[j] + roads.axis_v[j]) * rng.choice([-1, 1]) * rng.uniform(4, 8)
        x, y = roads.xy[j] + corner
        dome = rng.random() < 0.15
        cams.append(CameraPlan(
            code=f"{adcode}-SN-{k:04d}", name_zh=f"{roads.road_u[j]}与{roads.road_v[j]}交叉口",
            source="skynet", vendor=_vendor(rng, "skynet"), xy=(float(x), float(y)),
            azimuth=float(azimuth_deg(*(axis + rng.normal(0, 0.08, 2)))),
            fov=360.0 if dome else float(rng.uniform(60, 95)),
            range_m=float(rng.uniform(80, 150))))
    return cams


def _gate(rng: np.random.Generator, shape: shapely.Polygon) -> tuple[FloatArray, float]:
    """A point on one edge of ``shape`` (longer edges likelier) and the inward bearing."""
    ring = np.asarray(shape.exterior.coords)
    edges = np.diff(ring, axis=0)
    lengths = np.hypot(*edges.T)
    e = int(rng.choice(len(edges), p=lengths / lengths.sum()))
    point = ring[e] + edges[e] * rng.uniform(0.3, 0.7)
    normal = np.array([-edges[e][1], edges[e][0]]) / lengths[e]
    centre = np.asarray(shape.centroid.coords[0])
    if np.dot(normal, centre - point) < 0:
        normal = -normal
    # Half a metre inside the wall: on the edge at map scale, never outside the courtyard.
    return point + normal * 0.5, float(azimuth_deg(*normal))


def _courtyard_cams(courtyards: list[CourtyardPlan], n: int, adcode: str,
                    rng: np.random.Generator) -> list[CameraPlan]:
    cams = []
    order = rng.permutation(len(courtyards)) if courtyards else np.array([], dtype=int)
    for k in range(1, n + 1):
        ci = int(order[(k - 1) % len(order)])
        c = courtyards[ci]
        shape = max(shapely.get_parts(c.shape_m), key=lambda g: g.area)
        xy, az = _gate(rng, shape)
        gate = "大门" if k <= len(order) else "侧门"
        cams.append(CameraPlan(
            code=f"{adcode}-YL-{k:04d}", name_zh=f"{c.name_zh}{gate}", source="courtyard",
            vendor=_vendor(rng, "courtyard"), xy=(float(xy[0]), float(xy[1])), azimuth=az,
            fov=float(rng.uniform(80, 110)), range_m=float(rng.uniform(30, 60)), courtyard=ci))
    return cams


def _community_cams(div: Divisions, n: int, adcode: str,
                    rng: np.random.Generator) -> list[CameraPlan]:
    spots = ("党群服务中心", "文化广场", "主干道", "便民服务站", "小游园")
    cams = []
    comms = div.communities
    for k in range(1, n + 1):
        ci = (k - 1) % len(comms)
        c = comms[ci]
        centre = c.shape_m.representative_point()
        disk = c.shape_m.intersection(centre.buffer(120)).buffer(-5)
        area = disk if not disk.is_empty else c.shape_m
        x, y = points_in(area, 1, rng)[0]
        dome = rng.random() < 0.3
        cams.append(CameraPlan(
            code=f"{adcode}-SQ-{k:04d}", name_zh=f"{c.name_zh}{spots[(k - 1) // len(comms) % 5]}",
            source="community", vendor=_vendor(rng, "community"), xy=(float(x), float(y)),
            azimuth=float(rng.uniform(0, 360)) % 360.0,
            fov=360.0 if dome else float(rng.uniform(70, 110)),
            range_m=float(rng.uniform(40, 100))))
    return cams


def build_cameras(div: Divisions, courtyards: list[CourtyardPlan], roads: RoadNet, n: int,
                  adcode: str, rng: np.random.Generator) -> list[CameraPlan]:
    """``n`` cameras: about 45 % SkyNet, one gate camera per courtyard (+10 %), 12 % community.

    Parameters
    ----------
    div, courtyards, roads
        Where the cameras go.
    n
        Total number of cameras.
    adcode
        Code prefix (``511002-SN-0001``); codes are also the simulator's stream paths.
    rng
        Source of all randomness.
    """
    n_comm = round(0.12 * n) if div.communities else 0
    n_court = min(round(len(courtyards) * 1.1), round(0.45 * n)) if courtyards else 0
    n_sky = max(0, n - n_comm - n_court)
    return (_skynet(roads, n_sky, adcode, rng) + _courtyard_cams(courtyards, n_court, adcode, rng)
            + _community_cams(div, n_comm, adcode, rng))
