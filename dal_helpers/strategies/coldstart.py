"""Cold-start strategies: TypiClust (Hacohen et al., ICML 2022) and ProbCover (Yehuda et al., NeurIPS 2022).

Both look only at features: as AL strategies at the model's embeddings of the pool and the labeled set,
as seed-set methods (`seeding.py`) at label-free features with an empty labeled set. Positions below
index the rows of `cat([pool, labeled])`, so pool position p is global index `pool_idx[p]` and a tie
going to the lower position goes to the lower global pool index.

TypiClust. k-means (`kmeans.py`: k-means++ seeding from the generator, Lloyd to convergence) clusters
pool and labeled points together into k = |L| + budget clusters, capped at `TYPICLUST_MAX_CLUSTERS`
(500): the paper caps the number of clusters for large budgets, and Lloyd costs N k D per iteration.
The typicality of a point is 1 / (mean distance to its k_nn nearest other members of its cluster),
k_nn = min(20, cluster size - 1); the single member of a cluster of size 1 gets +inf. Typicality is
computed once, over each whole cluster (labeled members included), in row blocks. Then, `budget`
times: take the cluster with the fewest labeled-or-picked members (0 while some cluster holds neither),
among those the largest, and pick its most typical unpicked pool member (ties: lower position; between
equal clusters, the one whose pick has the lower position). With the cap and |L| + budget > 500 the
clusters run out of free ones and the rule keeps spreading picks over the least-covered large clusters.
Cost: k-means, plus sum over clusters of size^2 D for the typicality.

ProbCover. Points are nodes of the delta-ball graph (i -> j when ||x_i - x_j|| <= delta, self-loops
included; the graph is symmetric). The labeled points cover their balls; then greedy maximum coverage:
pick the pool point whose ball holds the most uncovered points, mark them covered, repeat (ties: lower
position). Once everything is covered, the remaining picks are drawn uniformly from the unpicked pool
points with the generator, as the paper does when the graph is fully covered.

The graph is a CSR list of int32 neighbour ids (4 bytes per directed edge) built in row blocks of 2^23 / N
rows (2^22 / N without the filter below); no N x N matrix exists. Rows are processed grouped by k-means
cluster (k = the number of classes, the clustering used for delta below), and a block of rows skips a whole
cluster b when the triangle inequality proves it out of reach:
min over the rows of ||x_i - c_b|| - max_{j in b} ||x_j - c_b|| > delta. That is exact; it saves most of the N^2 D work when clusters are apart compared
with delta, and nothing when they are not. The edge list is capped at `PROBCOVER_MAX_EDGES` = 2^26 directed
edges (256 MiB); see `choose_delta` for how the automatic delta respects it, and an explicit delta whose
graph exceeds it raises a ValueError.

delta. `probcover_delta` in the RunConfig sets it; None (default) chooses it as in the paper: k-means with
k = number of classes gives pseudo-labels, and delta is the largest value on the grid
`delta_grid(x)` = diam * 2^(-g/20), g = 0..400 (geometric, 3.5% steps; diam = 2 max_i ||x_i - mean||
bounds every pairwise distance) for which at least 95% of the points have a pure ball (every point within
delta has the same pseudo-label). Purity and the number of edges are measured on `PURITY_SAMPLE` (2000)
rows drawn from the generator against all points (exact when N <= 2000); the automatic delta is also the
largest with an estimated edge count <= half the cap, and if the exact graph still overflows the cap,
delta steps down the grid to the largest value with half the estimated edges and the graph is rebuilt.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .badge import kmeans_pp
from .context import SelectionContext
from .kmeans import KMEANS_ITERS, KMEANS_TOL, _nearest, lloyd

TYPICLUST_MAX_CLUSTERS = 500   # k-means clusters at most (paper: capped for large budgets)
TYPICLUST_KNN = 20             # neighbours in the typicality estimate (paper)
PROBCOVER_PURITY = 0.95        # alpha: fraction of pure balls the chosen delta keeps (paper)
PROBCOVER_MAX_EDGES = 1 << 26  # directed edges (self-loops included) at most: 256 MiB of int32
PURITY_SAMPLE = 2000           # rows on which purity and edge counts are measured
GRID_STEPS_PER_OCTAVE = 20     # delta grid: diam * 2^(-g / 20)
GRID_SIZE = 401                # g = 0..400 (down to diam * 1e-6)
_BLOCK_ELEMS = 1 << 22         # distances per block (16 MiB in fp32)
_GRAPH_BLOCK_ELEMS = 1 << 23   # rows x N per block of the filtered graph build (it touches far fewer columns)


def _check_features(pool: Tensor, labeled: Tensor, budget: int) -> None:
    if pool.dim() != 2 or labeled.dim() != 2 or (labeled.shape[0] and labeled.shape[1] != pool.shape[1]):
        raise ValueError(f"pool has shape {tuple(pool.shape)} and labeled {tuple(labeled.shape)}; allowed: "
                         f"(N, D) and (L, D) with the same D (L may be 0)")
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= pool.shape[0]:
        raise ValueError(f"budget={budget!r} is invalid; allowed: an integer in [1, {pool.shape[0]}]")


def _all_points(pool: Tensor, labeled: Tensor) -> Tensor:
    return torch.cat([pool.float(), labeled.float().to(pool.device).reshape(-1, pool.shape[1])])


def kmeans_assign(x: Tensor, k: int, gen: torch.Generator, n_iter: int = KMEANS_ITERS,
                  tol: float = KMEANS_TOL) -> Tensor:
    """(N,) int64 cluster of each row of x (N, D): k-means++ seeding from gen, Lloyd to convergence
    (`kmeans.lloyd`), then the nearest centre. k is clipped to [1, N]."""
    k = max(1, min(int(k), x.shape[0]))
    seeds = kmeans_pp(torch.ones(x.shape[0], 1, device=x.device), x, k, gen)
    centres = lloyd(x, x[seeds], n_iter, tol)
    return _nearest(x, centres)


# --- TypiClust ---------------------------------------------------------------------------------------

def typicality(x: Tensor, assign: Tensor, knn: int = TYPICLUST_KNN) -> Tensor:
    """(N,) float64 typicality of each row of x (N, D) within its cluster assign (N,): 1 / mean
    Euclidean distance to its min(knn, size - 1) nearest other members; +inf for a cluster of size 1
    (and for a point whose neighbours are all exact copies). Distances in row blocks of one cluster."""
    x = x.float()
    out = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    for c in torch.unique(assign).tolist():
        members = (assign == c).nonzero().squeeze(1)
        s = members.numel()
        if s == 1:
            out[members] = float("inf")
            continue
        k = min(knn, s - 1)
        xm = x[members]
        xn = (xm * xm).sum(1)
        rows = max(1, _BLOCK_ELEMS // s)
        for a in range(0, s, rows):
            d2 = torch.addmm(xn[None, :], xm[a:a + rows], xm.T, alpha=-2.0)
            d2 = (d2 + xn[a:a + rows, None]).clamp_min(0.0)
            r = torch.arange(d2.shape[0], device=x.device)
            d2[r, r + a] = float("inf")                      # not its own neighbour
            mean = d2.topk(k, dim=1, largest=False).values.sqrt().double().mean(1)
            out[members[a:a + rows]] = 1.0 / mean            # mean 0 (copies) -> +inf
    return out


def typiclust_pick(assign: Tensor, typ: Tensor, n_pool: int, budget: int) -> Tensor:
    """(budget,) int64 positions < n_pool picked by TypiClust's rule (module doc) from fixed clusters.

    assign: (N,) cluster of every point, rows [0, n_pool) the pool and the rest labeled; typ: (N,)
    typicality. Each pick: the cluster with the fewest labeled-or-picked members, then the largest, then
    the lower position of its pick; inside it the most typical unpicked pool member (ties: lower position)."""
    if not 1 <= budget <= n_pool:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n_pool}]")
    assign = assign.cpu()
    typ = typ.double().cpu()
    ids, assign = torch.unique(assign, return_inverse=True)
    k = ids.numel()
    size = torch.bincount(assign, minlength=k)
    used = torch.bincount(assign[n_pool:], minlength=k)         # labeled members, then also picks
    # pool members of each cluster, most typical first, ties to the lower position
    order = torch.sort(-typ[:n_pool], stable=True).indices      # typicality descending, position ascending
    order = order[torch.sort(assign[order], stable=True).indices]  # grouped by cluster, order kept
    start = torch.zeros(k + 1, dtype=torch.int64)
    start[1:] = torch.bincount(assign[:n_pool], minlength=k).cumsum(0)
    nxt = start[:-1].clone()                                    # next candidate of each cluster in `order`
    big = n_pool + 1
    picks = []
    for _ in range(budget):
        has = nxt < start[1:]
        cand = torch.where(has, order[nxt.clamp_max(n_pool - 1)], big)
        # fewest used, then largest, then lower candidate position: one lexicographic integer key
        key = (used * (size.max() + 1) - size) * (big + 1) + cand
        key = torch.where(has, key, torch.iinfo(torch.int64).max)
        c = int(torch.argmin(key))
        picks.append(int(cand[c]))
        used[c] += 1
        nxt[c] += 1
    return torch.tensor(picks, dtype=torch.int64)


def typiclust_positions(pool: Tensor, labeled: Tensor, budget: int, gen: torch.Generator,
                        max_clusters: int = TYPICLUST_MAX_CLUSTERS, n_iter: int = KMEANS_ITERS,
                        tol: float = KMEANS_TOL) -> Tensor:
    """TypiClust on pool (N, D) features with labeled (L, D) ones (L may be 0): k-means into
    min(L + budget, max_clusters, N + L) clusters, then `typiclust_pick`. (budget,) int64 positions into pool."""
    _check_features(pool, labeled, budget)
    x = _all_points(pool, labeled)
    assign = kmeans_assign(x, min(labeled.shape[0] + budget, max_clusters), gen, n_iter, tol)
    return typiclust_pick(assign, typicality(x, assign), pool.shape[0], budget).to(pool.device)


def typiclust_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """TypiClust on the pool and labeled embeddings (cfg.kmeans_max_iter, cfg.kmeans_tol)."""
    n_iter = int(getattr(ctx.cfg, "kmeans_max_iter", KMEANS_ITERS))
    tol = float(getattr(ctx.cfg, "kmeans_tol", KMEANS_TOL))
    pos = typiclust_positions(ctx.embeddings, ctx.labeled_embeddings, budget, gen, n_iter=n_iter, tol=tol)
    return ctx.pool_idx[pos.to(ctx.pool_idx.device)]


# --- ProbCover: the delta-ball graph -------------------------------------------------------------------

class BallGraph(NamedTuple):
    """The delta-ball graph in CSR form: the neighbours (int32 node ids, self included) of node j are
    cols[rowptr[r]:rowptr[r + 1]] with r = node_row[j]; rows are stored in cluster order."""
    rowptr: Tensor      # (N + 1,) int64
    cols: Tensor        # (E,) int32
    node_row: Tensor    # (N,) int64

    @property
    def n_edges(self) -> int:
        """Number of directed edges, self-loops included."""
        return int(self.cols.numel())

    def degrees(self) -> Tensor:
        """(N,) int64 ball sizes |B(x_j, delta)| by node id."""
        return (self.rowptr[1:] - self.rowptr[:-1])[self.node_row]

    def neighbours(self, nodes: Tensor, max_elems: int = 1 << 23) -> list[Tensor]:
        """The neighbour ids (int64) of `nodes`, concatenated, as a list of chunks of at most about
        max_elems entries (a node with more neighbours is one chunk of its own)."""
        rows = self.node_row[nodes]
        starts, ends = self.rowptr[rows], self.rowptr[rows + 1]
        lens = ends - starts
        out = []
        cum = lens.cumsum(0)
        a = 0
        while a < rows.numel():
            base = int(cum[a - 1]) if a else 0
            b = max(a + 1, int(torch.searchsorted(cum, base + max_elems, right=True)))
            ln = lens[a:b]
            total = int(ln.sum())
            if total:
                first = torch.repeat_interleave(starts[a:b] - (ln.cumsum(0) - ln), ln)
                out.append(self.cols.index_select(0, first + torch.arange(total, device=first.device)).long())
            a = b
        return out


_FILTER_DIMS = 32               # principal directions of the graph's lower-bound filter
_ORDER_CLUSTERS = 256           # fine clusters that order the graph's row blocks


def _filter_coords(x: Tensor, r: int) -> Tensor:
    """(N, r + 1): coordinates of the centred rows in the top-r principal directions, then the length of
    the rest. Distances between these rows never exceed the true distances (Pythagoras and the reverse
    triangle inequality on the rest), so they bound ||x_i - x_j|| from below."""
    xc = x - x.mean(0)
    vecs = torch.linalg.eigh((xc.T @ xc).double()).eigenvectors[:, -r:].to(x.dtype)
    p = xc @ vecs
    rest = ((xc.double() ** 2).sum(1) - (p.double() ** 2).sum(1)).clamp_min(0.0).sqrt().to(x.dtype)
    return torch.cat([p, rest[:, None]], 1)


def _block_candidates(zp64: Tensor, s: int, e: int, delta: float, slack_sq: float) -> Tensor:
    """Columns that some row of the block s:e may reach: the block's centre c and radius r in the filter
    coordinates (float64) bound every distance from below by ||z_j - c|| - r (triangle inequality there,
    and filter distances never exceed true ones), so columns with (||z_j - c|| - r)^2 > delta^2 + slack_sq
    are out of reach for the whole block. O(N r) per block instead of O(block N r)."""
    blk = zp64[s:e]
    c = blk.mean(0)
    radius = float((blk - c).norm(dim=1).max())
    gap = ((zp64 - c).norm(dim=1) - radius).clamp_min(0.0)
    return (gap * gap <= delta * delta + slack_sq).nonzero().squeeze(1)


def ball_graph(x: Tensor, delta: float, assign: Tensor | None = None,
               max_edges: int = PROBCOVER_MAX_EDGES) -> BallGraph | None:
    """The delta-ball graph of the rows of x (N, D): edge i -> j when ||x_i - x_j|| <= delta (float32
    distances from the norm expansion). Returns None as soon as more than max_edges edges are found.

    Rows are processed in blocks ordered by cluster (assign (N,), optional) and then by a fine k-means
    (256 clusters, 10 Lloyd steps, fixed seed) of the filter coordinates, so that a block holds similar
    rows. For each block, distances in the (r + 1)-dimensional filter coordinates (`_filter_coords`,
    r = 32), a lower bound of the true ones,
    rule out most columns at r/D of the cost; the true distances are computed only against the columns
    that some row of the block may reach. Before that, the block's centre and radius in the filter
    coordinates rule out whole columns for the block at O(N r) (`_block_candidates`). Exact: both bounds
    only skip pairs they prove too far."""
    x = x.float()
    n, dim, dev = x.shape[0], x.shape[1], x.device
    if assign is None:
        assign = torch.zeros(n, dtype=torch.int64, device=dev)
    use_filter = dim > 2 * _FILTER_DIMS and n > 1
    z = _filter_coords(x, _FILTER_DIMS) if use_filter else None
    if use_filter:
        # blocks of similar rows keep the union of reachable columns small: order the rows by a fine
        # k-means of the filter coordinates (ordering only; any order gives the same graph)
        fine = kmeans_assign(z, min(_ORDER_CLUSTERS, n), torch.Generator().manual_seed(0), n_iter=10)
        assign = assign * _ORDER_CLUSTERS + fine
    perm = torch.sort(assign, stable=True).indices                  # by cluster, then by position
    xp = x[perm]
    xn = (xp * xp).sum(1)
    thr = delta * delta - xn                                        # ||x_j||^2 - 2 x_i.x_j <= thr_i
    if use_filter:
        zp = z[perm]
        zn = (zp * zp).sum(1)
        # room for float32 rounding in the bound (relative to the largest squared norm), never tighter
        zthr = delta * delta * (1 + 1e-3) + 1e-4 * float(zn.max()) - zn
        zp64 = zp.double()
        cslack = delta * delta * 1e-3 + 1e-4 * max(float(xn.max()), float(zn.max()))
    rows = max(1, (_GRAPH_BLOCK_ELEMS if use_filter else _BLOCK_ELEMS) // max(1, n))
    perm32 = perm.to(torch.int32)
    counts = torch.zeros(n, dtype=torch.int64, device=dev)
    chunks: list[Tensor] = []
    n_edges = 0
    for s in range(0, n, rows):
        e = min(s + rows, n)
        if use_filter:
            cand = _block_candidates(zp64, s, e, delta, cslack)
            lb = torch.addmm(zn.index_select(0, cand)[None, :], zp[s:e], zp.index_select(0, cand).T, alpha=-2.0)
            cols = cand[(lb <= zthr[s:e, None]).any(0)]
            d = torch.addmm(xn.index_select(0, cols)[None, :], xp[s:e], xp.index_select(0, cols).T, alpha=-2.0)
        else:
            cols = None
            d = torch.addmm(xn[None, :], xp[s:e], xp.T, alpha=-2.0)
        r, c = (d <= thr[s:e, None]).nonzero(as_tuple=True)
        if cols is not None:
            c = cols.index_select(0, c)
        n_edges += r.numel()
        if n_edges > max_edges:
            return None
        counts[s:e] = torch.bincount(r, minlength=e - s)
        chunks.append(perm32.index_select(0, c))
    rowptr = torch.zeros(n + 1, dtype=torch.int64, device=dev)
    rowptr[1:] = counts.cumsum(0)
    cols_all = torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.int32, device=dev)
    node_row = torch.empty(n, dtype=torch.int64, device=dev)
    node_row[perm] = torch.arange(n, device=dev)
    return BallGraph(rowptr, cols_all, node_row)


# --- ProbCover: delta ----------------------------------------------------------------------------------

def delta_grid(x: Tensor) -> Tensor:
    """(GRID_SIZE,) ascending float64 candidate deltas: diam * 2^(-g/20), g = 400..0, with
    diam = 2 max_i ||x_i - mean x|| (an upper bound of every pairwise distance); all ones when diam is 0."""
    x = x.float()
    diam = 2.0 * float(((x - x.mean(0)) ** 2).sum(1).max().sqrt()) if x.shape[0] else 0.0
    if diam <= 0.0:
        diam = 1.0                     # every point identical: any delta covers them all
    g = torch.arange(GRID_SIZE - 1, -1, -1, dtype=torch.float64)
    return diam * torch.pow(2.0, -g / GRID_STEPS_PER_OCTAVE)


def purity_and_edges(x: Tensor, labels: Tensor, grid: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """For each delta of grid (G,): the fraction of the sampled rows (positions `rows`) whose delta-ball
    in x (N, D) is pure in labels (N,), and the estimated number of directed edges
    N / len(rows) * sum over the sampled rows of |ball|. Both (G,) float64."""
    x = x.float()
    n = x.shape[0]
    xn = (x * x).sum(1)
    g2 = (grid * grid).to(x.device, torch.float32)
    edge_hist = torch.zeros(grid.numel() + 1, dtype=torch.float64, device=x.device)
    impure_at = []
    step = max(1, _BLOCK_ELEMS // max(1, n))
    for s in range(0, rows.numel(), step):
        rb = rows[s:s + step]
        d2 = (torch.addmm(xn[None, :], x[rb], x.T, alpha=-2.0) + xn[rb, None]).clamp_min(0.0)
        d2[torch.arange(rb.numel(), device=x.device), rb] = 0.0
        other = labels[None, :] != labels[rb, None]
        impure_at.append(torch.where(other, d2, float("inf")).min(1).values)     # squared r_i
        edge_hist += torch.bincount(torch.bucketize(d2.flatten(), g2), minlength=grid.numel() + 1).double()
    r2 = torch.cat(impure_at).double()
    # ball of radius delta is pure iff the nearest point of another pseudo-label is farther than delta
    purity = (r2[None, :] > (grid * grid).to(r2.device)[:, None]).double().mean(1)
    edges = edge_hist.cumsum(0)[:-1] * (n / rows.numel())      # bucketize: d2 <= g2[i] lands in bins <= i
    return purity.cpu(), edges.cpu()


def choose_delta(x: Tensor, n_classes: int, gen: torch.Generator, purity: float = PROBCOVER_PURITY,
                 max_edges: int = PROBCOVER_MAX_EDGES,
                 assign: Tensor | None = None) -> tuple[float, Tensor, Tensor, Tensor]:
    """(delta, grid, purity, est_edges): the largest delta of `delta_grid(x)` whose fraction of pure
    balls under k-means pseudo-labels (k = n_classes; or the given assign) is >= purity and whose
    estimated edge count is <= max_edges / 2 (the smallest grid value when none is). Purity is measured
    on PURITY_SAMPLE rows drawn from gen (every row when N is smaller)."""
    if not 0 < purity <= 1:
        raise ValueError(f"purity={purity} is invalid; allowed: a fraction in (0, 1]")
    if assign is None:
        assign = kmeans_assign(x.float(), n_classes, gen)
    n = x.shape[0]
    if n <= PURITY_SAMPLE:
        rows = torch.arange(n, device=x.device)
    else:
        rows = torch.randperm(n, generator=gen, device=gen.device)[:PURITY_SAMPLE].to(x.device)
    grid = delta_grid(x)
    pur, edges = purity_and_edges(x, assign, grid, rows)
    ok = ((pur >= purity - 1e-12) & (edges <= max_edges / 2)).nonzero().squeeze(1)
    i = int(ok.max()) if ok.numel() else 0
    return float(grid[i]), grid, pur, edges


# --- ProbCover: greedy coverage ------------------------------------------------------------------------

def probcover_greedy(graph: BallGraph, n_pool: int, labeled: Tensor, budget: int,
                     gen: torch.Generator | None = None) -> Tensor:
    """(budget,) int64 node ids < n_pool: the labeled nodes (int64 ids) cover their balls, then each
    pick is the available pool node covering the most uncovered nodes (ties: lower id). When nothing is
    left uncovered the rest is drawn uniformly from the unpicked pool nodes with gen (gen None: stops
    there and returns the greedy picks only)."""
    n = graph.node_row.numel()
    if not 1 <= budget <= n_pool <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n_pool}]")
    dev = graph.cols.device
    deg = graph.degrees().clone()                  # uncovered nodes in each ball
    covered = torch.zeros(n, dtype=torch.bool, device=dev)
    avail = torch.zeros(n, dtype=torch.bool, device=dev)
    avail[:n_pool] = True

    def cover(new: Tensor) -> None:
        covered[new] = True
        for nb in graph.neighbours(new):           # every ball holding a newly covered node shrinks
            deg.index_add_(0, nb, torch.full((nb.numel(),), -1, dtype=deg.dtype, device=dev))

    if labeled.numel():
        for nb in graph.neighbours(labeled.to(dev)):
            new = torch.unique(nb)
            cover(new[~covered[new]])
    picks: list[int] = []
    neg = torch.tensor(-1, dtype=deg.dtype, device=dev)
    while len(picks) < budget:
        key = torch.where(avail, deg, neg)
        i = int(torch.argmax(key))                 # first maximum: the lower id
        if int(key[i]) <= 0:
            break
        picks.append(i)
        avail[i] = False
        nbs = graph.neighbours(torch.tensor([i], device=dev))
        nb = nbs[0] if nbs else torch.empty(0, dtype=torch.int64, device=dev)
        cover(nb[~covered[nb]])
    out = torch.tensor(picks, dtype=torch.int64, device=dev)
    if len(picks) < budget and gen is not None:
        free = avail[:n_pool].nonzero().squeeze(1)
        draw = torch.randperm(free.numel(), generator=gen, device=gen.device)[:budget - len(picks)]
        out = torch.cat([out, free[draw.to(dev)]])
    return out


def probcover_positions(pool: Tensor, labeled: Tensor, budget: int, gen: torch.Generator,
                        delta: float | None = None, n_classes: int = 10,
                        max_edges: int = PROBCOVER_MAX_EDGES) -> Tensor:
    """ProbCover on pool (N, D) features with labeled (L, D) ones (L may be 0): the delta-ball graph over
    pool and labeled points (delta given, or `choose_delta` with k = n_classes), labeled coverage removed,
    greedy maximum coverage, then random picks from gen. (budget,) int64 positions into pool."""
    _check_features(pool, labeled, budget)
    if delta is not None and not (isinstance(delta, (int, float)) and not isinstance(delta, bool) and delta > 0):
        raise ValueError(f"probcover_delta={delta!r} is invalid; allowed: None (chosen by purity) or a float > 0")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes={n_classes!r} is invalid; allowed: an integer >= 1")
    x = _all_points(pool, labeled)
    n_pool = pool.shape[0]
    assign = kmeans_assign(x, n_classes, gen)
    if delta is None:
        d, grid, _, edges = choose_delta(x, n_classes, gen, max_edges=max_edges, assign=assign)
        i = int((grid == d).nonzero().max())
        graph = ball_graph(x, d, assign, max_edges)
        while graph is None:           # the sample underestimated the edges: step down the grid
            if i == 0:
                raise RuntimeError(f"the delta-ball graph exceeds {max_edges} edges even at delta="
                                   f"{float(grid[0]):.3g}: too many exact copies in the features")
            smaller = (edges[:i] <= float(edges[i]) / 2).nonzero().squeeze(1)
            i = int(smaller.max()) if smaller.numel() else i - 1
            graph = ball_graph(x, float(grid[i]), assign, max_edges)
    else:
        graph = ball_graph(x, float(delta), assign, max_edges)
        if graph is None:
            raise ValueError(f"probcover_delta={delta} gives more than {max_edges} edges (the cap "
                             f"PROBCOVER_MAX_EDGES); allowed: a smaller delta, or None to choose it")
    labeled_nodes = torch.arange(n_pool, x.shape[0], device=x.device)
    return probcover_greedy(graph, n_pool, labeled_nodes, budget, gen).to(pool.device)


def probcover_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """ProbCover on the pool and labeled embeddings; delta = cfg.probcover_delta or chosen by purity
    with k = the data set's number of classes."""
    delta = getattr(ctx.cfg, "probcover_delta", None)
    pos = probcover_positions(ctx.embeddings, ctx.labeled_embeddings, budget, gen, delta=delta,
                              n_classes=int(ctx.splits.n_classes))
    return ctx.pool_idx[pos.to(ctx.pool_idx.device)]
