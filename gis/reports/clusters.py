"""DBSCAN on a fine lattice of counted cells: hot spots of a million events in about a second.

``ST_ClusterDBSCAN`` over every event is exact but slow where events are dense: each point
looks at all its neighbours, hundreds in the urban core, so a district year of a million
events takes minutes. Here the database first counts events per cell of a lattice on the
EPSG:4544 plane (``cell_m``, by default ``eps / 5`` = 20 m), and DBSCAN runs on the occupied
cells, each weighted by its count:

* two cells are neighbours when their centres are at most ``eps`` apart (the cell itself
  included);
* a cell is a **core** when the events of its neighbours (its own included) reach
  ``min_points``: the events within ``eps`` of an event, as DBSCAN counts them, up to the
  position error of the lattice (at most half a cell's diagonal, 14 m for 20 m cells);
* core cells that are neighbours join one cluster; a non-core cell next to a core joins the
  cluster of its neighbouring core with the smallest index (DBSCAN's border points); the other
  cells are noise.

Everything is numpy: neighbours are found by binary search of the cells' lattice keys, one
search per lattice offset within ``eps`` (81 offsets for ``eps = 5`` cells), and clusters are
connected components found by label propagation with pointer jumping.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

__all__ = ["lattice_dbscan"]


def _offsets(eps_cells: float) -> list[tuple[int, int]]:
    r = math.floor(eps_cells)
    return [(di, dj) for di in range(-r, r + 1) for dj in range(-r, r + 1)
            if di * di + dj * dj <= eps_cells * eps_cells + 1e-9]


def lattice_dbscan(i: npt.ArrayLike, j: npt.ArrayLike, weight: npt.ArrayLike, *,
                   eps_cells: float, min_points: int) -> IntArray:
    """Cluster labels of lattice cells (``-1`` = noise), clusters numbered from 0.

    Parameters
    ----------
    i, j
        Integer lattice indices of the occupied cells (each pair once).
    weight
        Events per cell.
    eps_cells
        DBSCAN radius in cell sides (centre to centre).
    min_points
        Events within ``eps`` that make a core.

    Examples
    --------
    A block of four cells holding 3 events each, a lone cell far away:

    >>> lattice_dbscan([0, 0, 1, 1, 9], [0, 1, 0, 1, 9], [3, 3, 3, 3, 5],
    ...                eps_cells=1.5, min_points=10).tolist()
    [0, 0, 0, 0, -1]
    """
    ii = np.asarray(i, dtype=np.int64)
    jj = np.asarray(j, dtype=np.int64)
    w = np.asarray(weight, dtype=np.int64)
    n = len(ii)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    offsets = _offsets(eps_cells)
    r = max(abs(d) for pair in offsets for d in pair)
    # A key per cell with enough room around it that no offset wraps into another row.
    width = int(jj.max() - jj.min()) + 2 * r + 1
    keys = (ii - ii.min() + r) * width + (jj - jj.min() + r)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    neighbours: list[tuple[IntArray, IntArray]] = []  # (cell, neighbour) per offset
    total = np.zeros(n, dtype=np.int64)
    for di, dj in offsets:
        want = keys + di * width + dj
        pos = np.searchsorted(sorted_keys, want)
        pos[pos >= n] = 0
        hit = sorted_keys[pos] == want
        src = np.flatnonzero(hit)
        dst = order[pos[hit]]
        total[src] += w[dst]
        neighbours.append((src, dst))
    core = total >= min_points
    if not core.any():
        return labels

    # Connected components of the core cells: every core starts as its own root and takes
    # the smallest root among its core neighbours until nothing changes.
    root = np.arange(n, dtype=np.int64)
    core_pairs = [(s[core[s] & core[d]], d[core[s] & core[d]]) for s, d in neighbours]
    while True:
        before = root.copy()
        for src, dst in core_pairs:  # a cell has one neighbour per offset: no repeats
            root[src] = np.minimum(root[src], root[dst])
        while True:  # pointer jumping: follow roots to their roots
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
        if np.array_equal(root, before):
            break

    # Border cells: not core, next to a core; they join the smallest neighbouring root.
    border = np.full(n, n, dtype=np.int64)
    for src, dst in neighbours:
        m = ~core[src] & core[dst]
        border[src[m]] = np.minimum(border[src[m]], root[dst[m]])
    assigned = np.where(core, root, np.where(border < n, border, -1))
    roots = np.unique(assigned[assigned >= 0])
    labels[assigned >= 0] = np.searchsorted(roots, assigned[assigned >= 0])
    return labels
