"""claims.base: the Claim object, lookup by id, and paired verdicts checked against scipy's ttest_rel."""
from __future__ import annotations

import dataclasses

import pytest
from scipy import stats

from dal_helpers import metrics
from dal_helpers.claims import Claim, by_id, paired_verdict


def claim(id_="a", **kw):
    return Claim(id=id_, section="04", text="t", paper=0.5, source="Sec. 4.4", test="paired t", **kw)


def test_claim_is_frozen_checks_its_verdict_and_is_found_by_id():
    c = claim()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.verdict = "reproduced"
    with pytest.raises(ValueError, match="verdict='agrees' is invalid"):
        claim(verdict="agrees")
    both = [claim("x"), claim("y", verdict="not comparable", reason="2x run, paper 20x")]
    assert by_id(both, "y").reason == "2x run, paper 20x"
    with pytest.raises(KeyError, match="no claim 'z'; present: x, y"):
        by_id(both, "z")


def test_paired_verdict_matches_scipy_and_says_seeds_needed():
    a, b = [0.90, 0.91, 0.92], [0.80, 0.82, 0.80]
    verdict, t, p, _ = paired_verdict(a, b)
    ref = stats.ttest_rel(a, b)
    assert verdict == "reproduced" and t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    a, b = [0.80, 0.83, 0.81], [0.80, 0.81, 0.82]
    verdict, _, p, reason = paired_verdict(a, b)
    need = metrics.seeds_needed(0.01 / 3, float(stats.tstd([0.0, 0.02, -0.01])))
    assert verdict == "inconclusive" and f"about {need} seeds" in reason


def test_one_seed_is_inconclusive_and_smoke_is_never_not_reproduced():
    assert paired_verdict([0.8], [0.7])[0] == "inconclusive"
    worse, better = [0.80, 0.81], [0.90, 0.92]
    assert paired_verdict(worse, better)[0] == "not reproduced"
    verdict, _, _, reason = paired_verdict(worse, better, smoke=True)
    assert verdict == "inconclusive" and reason.startswith("smoke run")
    with pytest.raises(ValueError, match="one value per seed"):
        paired_verdict([0.8, 0.9], [0.7])
