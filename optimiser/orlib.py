"""OR-Library p-median instances (Beasley 1990): the classical benchmark the model is checked
against. A file holds ``n m p`` then ``m`` lines ``i j cost`` of an undirected graph; distances
are all-pairs shortest paths. Where a vertex pair appears more than once, the LAST occurrence
is the edge's cost (OR-Library's convention; taking the minimum gives wrong optima)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from optimiser.errors import InputError


def read_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """(n x n shortest-path distance matrix, p) of an OR-Library pmed file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii").split("\n")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except UnicodeDecodeError:
        raise InputError("not a text file", file=path) from None
    rows = [(k + 1, line.split()) for k, line in enumerate(lines) if line.strip()]
    if not rows:
        raise InputError("empty file", file=path, expected="a first line 'n m p'")
    line_no, head = rows[0]
    if len(head) != 3 or not all(h.isdigit() for h in head):
        raise InputError(f"first line should be three whole numbers 'n m p', got {' '.join(head)!r}",
                         file=path, row=line_no)
    n, m, p = map(int, head)
    edges = rows[1:]
    if len(edges) < m:
        raise InputError(f"the header promises {m} edges but the file has {len(edges)}", file=path,
                         row=len(lines), expected=f"{m} lines 'i j cost'")
    cost: dict[tuple[int, int], float] = {}
    for line_no, parts in edges[:m]:
        if len(parts) != 3:
            raise InputError(f"expected 'i j cost', got {' '.join(parts)!r}", file=path, row=line_no)
        try:
            i, j, c = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            raise InputError(f"non-numeric edge {' '.join(parts)!r}", file=path, row=line_no) from None
        if not (1 <= i <= n and 1 <= j <= n):
            raise InputError(f"vertex out of range 1..{n}", file=path, row=line_no)
        if c < 0:
            raise InputError("negative edge cost", file=path, row=line_no, expected="a cost >= 0")
        key = (min(i, j) - 1, max(i, j) - 1)
        cost[key] = c            # the last occurrence wins
    if not 1 <= p <= n:
        raise InputError(f"p = {p} is outside 1..{n}", file=path, row=1)
    ij = np.array(list(cost), int).reshape(-1, 2)
    c = np.array(list(cost.values()), float)
    graph = csr_matrix((np.concatenate([c, c]), (np.concatenate([ij[:, 0], ij[:, 1]]),
                                                  np.concatenate([ij[:, 1], ij[:, 0]]))), shape=(n, n))
    # Zero-cost edges vanish from a sparse matrix; OR-Library costs are positive, but keep them.
    dist = shortest_path(graph, method="FW", directed=False)
    if np.isinf(dist).any():
        raise InputError("the graph is not connected: some vertices cannot reach others", file=path)
    return dist, p


def read_optima(path: str | Path) -> dict[str, float]:
    """pmedopt.txt: instance name -> optimal objective."""
    out = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("pmed"):
            out[parts[0]] = float(parts[1])
    return out
