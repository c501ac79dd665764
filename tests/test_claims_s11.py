"""Tests of claims.s11_your_data on hand-made tables (tests/test_notebooks.table): the advisor's pick
against entropy, AL against random, the advisor's validation table, the stand-in when the pick is
random, and smoke runs never refuting. Expected numbers are worked out in the comments."""
from __future__ import annotations

import pandas as pd
import pytest

from dal_helpers.claims import SECTIONS, VERDICTS, by_id, s11_your_data
from tests.test_notebooks import table

SIZES = (100, 200, 300, 400)
PICK = "11.advisor_pick_at_least_as_efficient_as_entropy"
AL = "11.al_beats_random_here"
FLAGS = "11.advisor_flags_redundant_variants"


def _df(seeds=(0, 1, 2, 3), dataset="cifar10"):
    # seed i shifts every accuracy by -0.01 (even i) or +0.01 (odd i), the same for all strategies, so
    # differences between strategies are constant over seeds.
    return table({"random": [0.50, 0.60, 0.70, 0.80],
                  "entropy": [0.50, 0.65, 0.75, 0.85],
                  "badge": [0.50, 0.70, 0.80, 0.90]}, sizes=SIZES, seeds=seeds, dataset=dataset)


def test_section_is_registered():
    assert "s11_your_data" in SECTIONS and SECTIONS == tuple(sorted(SECTIONS))


def test_pick_more_efficient_than_entropy_and_beating_random():
    claims = s11_your_data.claims(_df(), pick="badge")
    pick = by_id(claims, PICK)
    # random's final accuracy 0.80 (shifted per seed) is reached by badge at 300 labels (0.80) and by
    # entropy at 300 + 100 * (0.80 - 0.75) / (0.85 - 0.75) = 350 labels: efficiencies 400/300, 400/350.
    assert pick.ours == pytest.approx(round(400 / 300 - 400 / 350, 4))
    assert pick.verdict == "reproduced"          # the same difference in every seed: t = inf, p = 0
    al = by_id(claims, AL)
    # badge - random after the seed set: +10 points at 200, 300 and 400 labels in every seed.
    assert al.ours == pytest.approx(10.0)
    assert al.verdict == "reproduced" and "badge" in al.reason    # 12 pairs all positive: p = 2 / 2^12
    assert al.p_value == pytest.approx(2 / 2 ** 12)
    assert by_id(claims, FLAGS).verdict == "inconclusive"          # no validation table given


def test_pick_less_efficient_is_not_reproduced_but_never_in_a_smoke_run():
    claims = s11_your_data.claims(_df(), pick="random")
    # the pick is random: efficiency 1 against entropy's 400/350 in every seed -> significantly less
    assert by_id(claims, PICK).verdict == "not reproduced"
    al = by_id(claims, AL)
    assert "badge, the highest AUBC" in al.reason and al.verdict == "reproduced"
    smoke = s11_your_data.claims(_df(), pick="random", smoke=True)
    assert by_id(smoke, PICK).verdict == "inconclusive" and "smoke run" in by_id(smoke, PICK).reason
    auto = s11_your_data.claims(_df(dataset="mnist5k").query("round <= 2"), pick="random")
    assert by_id(auto, PICK).verdict == "inconclusive"             # mnist5k, <= 2 rounds: a smoke run


def test_entropy_as_pick_one_seed_and_missing_strategies_say_why():
    claims = s11_your_data.claims(_df(), pick="entropy")
    assert by_id(claims, PICK).reason == "not measured: the advisor's pick is entropy itself"
    one = s11_your_data.claims(_df(seeds=(0,)), pick="badge")
    assert by_id(one, PICK).verdict == "inconclusive" and "1 seed" in by_id(one, PICK).reason
    # one seed still gives 3 matched (seed, size) pairs: all +10 points, smallest possible p = 2 / 8
    assert by_id(one, AL).verdict == "inconclusive" and by_id(one, AL).p_value == pytest.approx(0.25)
    bare = s11_your_data.claims(_df()[lambda d: d.strategy != "random"], pick="badge")
    assert "random" in by_id(bare, PICK).reason and "no random runs" in by_id(bare, AL).reason
    with pytest.raises(ValueError, match="pick=None"):
        s11_your_data.claims(_df(), pick=None)


def test_validation_table_of_the_advisor():
    right = pd.DataFrame({"redundant": [False, True, True]}, index=["original", "duplicate x2", "augment x20"])
    c = by_id(s11_your_data.claims(_df(), "badge", validation=right), FLAGS)
    assert (c.verdict, c.ours) == ("reproduced", 1.0)
    wrong = right.assign(redundant=[True, True, False])      # original flagged, augment x20 missed
    c = by_id(s11_your_data.claims(_df(), "badge", validation=wrong), FLAGS)
    assert c.verdict == "not reproduced" and c.ours == pytest.approx(1 / 3)
    assert "['original', 'augment x20']" in c.reason
    c = by_id(s11_your_data.claims(_df(), "badge", validation=wrong, smoke=True), FLAGS)
    assert c.verdict == "inconclusive"
    assert {x.verdict for x in s11_your_data.claims(_df(), "badge", validation=right)} <= set(VERDICTS)


def test_two_settings_get_one_set_each():
    df = pd.concat([_df(), _df(dataset="svhn")])
    ids = [c.id for c in s11_your_data.claims(df, "badge")]
    assert ids == [f"{PICK}@cifar10", f"{AL}@cifar10", f"{PICK}@svhn",
                   f"{AL}@svhn", FLAGS]
