"""Tests of the batch diagnostics added per round (class histogram, near-duplicate rate) and their plot:
hand-made selections with a known histogram and known near-duplicates, the chunked nearest-distance
search against the full distance matrix, and a loop run that records both columns."""
from __future__ import annotations

import json
import math

import matplotlib
import pandas as pd
import pytest
import torch

from dal_helpers import plots
from dal_helpers.config import RunConfig
from dal_helpers.loop import NEAR_DUP_RMS, batch_diagnostics, nearest_other_sq_dists, run_active_learning
from tests.conftest import tiny_splits

matplotlib.use("Agg")


def _hand_made():
    # 8 points in a 4-d feature space (radius NEAR_DUP_RMS * sqrt(4) = 0.02).
    feats = torch.tensor([
        [0.0, 0, 0, 0],      # 0 labeled
        [1.0, 0, 0, 0],      # 1 labeled
        [0.0, 0, 0, 0.01],   # 2 selected: 0.01 from labeled 0 -> near-duplicate
        [0.5, 0.5, 0, 0],    # 3 selected: far from everything
        [0.0, 1, 0, 0],      # 4 selected: exact copy of 5 -> near-duplicate
        [0.0, 1, 0, 0],      # 5 selected
        [0.0, 0, 1, 0],      # 6 selected: 0.03 from 7, beyond the radius
        [0.0, 0, 1, 0.03],   # 7 selected
    ])
    y = torch.tensor([0, 1, 2, 2, 0, 0, 2, 1])
    return feats, y, torch.arange(8)


def test_class_histogram_and_near_duplicates_of_a_hand_made_batch():
    feats, y, ids = _hand_made()
    d = batch_diagnostics(torch.tensor([2, 3, 4, 5, 6, 7]), torch.tensor([0, 1]), y, ids, feats, n_classes=4)
    # labels of the batch: 2, 2, 0, 0, 2, 1 -> class 0: 2, class 1: 1, class 2: 3, class 3: 0.
    assert d["sel_class_counts"] == [2, 1, 3, 0]
    json.dumps(d["sel_class_counts"])                        # stored in JSON-lines rows as it is
    # near-duplicates: point 2 (0.01 from labeled 0), points 4 and 5 (identical) -> 3 of 6.
    assert d["sel_near_dup_frac"] == pytest.approx(3 / 6)
    # a larger radius (0.02 per feature -> 0.04 in 4-d) also catches the pair 6, 7 (0.03 apart): 5 of 6.
    wider = batch_diagnostics(torch.tensor([2, 3, 4, 5, 6, 7]), torch.tensor([0, 1]), y, ids, feats, 4,
                              near_dup_rms=0.02)
    assert wider["sel_near_dup_frac"] == pytest.approx(5 / 6)
    assert NEAR_DUP_RMS == 0.01


def test_a_point_is_never_its_own_near_duplicate():
    feats, y, ids = _hand_made()
    d = batch_diagnostics(torch.tensor([3]), torch.tensor([], dtype=torch.long), y, ids, feats, 4)
    assert d["sel_class_counts"] == [0, 0, 1, 0] and math.isnan(d["sel_near_dup_frac"])
    d = batch_diagnostics(torch.tensor([3, 6]), torch.tensor([], dtype=torch.long), y, ids, feats, 4)
    assert d["sel_near_dup_frac"] == 0.0
    empty = batch_diagnostics(torch.tensor([], dtype=torch.long), torch.tensor([0]), y, ids, feats, 4)
    assert empty["sel_class_counts"] == [0, 0, 0, 0] and math.isnan(empty["sel_near_dup_frac"])


@pytest.mark.parametrize("chunk_elems", [1, 7, 1 << 22])
def test_chunked_nearest_distances_match_the_full_matrix(chunk_elems):
    g = torch.Generator().manual_seed(3)
    sel, lab = torch.rand(13, 5, generator=g), torch.rand(9, 5, generator=g)
    got = nearest_other_sq_dists(sel, lab, chunk_elems=chunk_elems)
    # reference: the full (13, 22) matrix with each point's own column masked
    full = torch.cdist(sel, torch.cat([sel, lab])).square()
    full[torch.arange(13), torch.arange(13)] = math.inf
    torch.testing.assert_close(got, full.min(1).values)
    assert torch.isinf(nearest_other_sq_dists(sel[:1], lab[:0])).all()


def test_loop_rows_carry_the_histogram_and_the_plot_draws_every_panel(tmp_path):
    sp = tiny_splits(n_train=48, n_test=12, size=12)
    base = dict(n_init=9, budget=6, n_rounds=2, max_epochs=2, batch_size=8, augment=False)
    df = pd.concat([run_active_learning(RunConfig(strategy=s, **base), sp, progress=False)
                    for s in ("random", "entropy")], ignore_index=True)
    assert [sum(c) for c in df["sel_class_counts"]] == [9, 6, 6] * 2
    assert all(len(c) == sp.n_classes for c in df["sel_class_counts"])
    assert df["sel_near_dup_frac"].between(0, 1).all()
    hist = plots.class_histograms(df)
    assert hist.loc["random"].sum() == 12             # two batches of 6 after the seed set
    fig = plots.plot_diagnostics(df)
    assert len(fig.axes) == 5 and all(ax.has_data() for ax in fig.axes)
    old = df.drop(columns=["sel_class_counts", "sel_near_dup_frac"])   # rows from before these columns
    fig = plots.plot_diagnostics(old)
    assert sum(ax.has_data() for ax in fig.axes) == 3
