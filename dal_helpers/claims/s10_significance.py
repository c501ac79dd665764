"""Section 10, significance (paper App. G): claims 1, 2, 3 and 5 of the penalty matrices, re-judged on
the results of sections 02, 03, 06 and 07. Each is the other section's own claim, found by its id
(`base.by_id`), renamed into section 10; a section whose results are absent gives an "inconclusive"
claim whose reason says "not measured". (Claim 4, on seed sets, has no counterpart in section 06.)"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from . import s02_augmentation, s03_optimizers, s06_batch_seed, s07_reset_update
from .base import Claim, by_id, per_setting

# (results key, section module, that section's spec, our id, source)
PLAN = [("02_augmentation", s02_augmentation, s02_augmentation.ROUNDS, "10.claim1_entropy_vs_badge_augmented",
         "App. G claim 1"),
        ("03_optimizers", s03_optimizers, s03_optimizers.SGD_ADAM, "10.claim2_sgd_vs_adam", "App. G claim 2"),
        ("06_batch_size_seed_sets", s06_batch_seed, s06_batch_seed.BATCH, "10.claim3_batch_sizes", "App. G claim 3"),
        ("07_reset_update", s07_reset_update, s07_reset_update.LAST5, "10.claim5_reset_vs_update", "App. G claim 5")]


def claims(found: Mapping[str, Any], alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """found: {results key ("02_augmentation", ...): results table} (notebook.load_sources). One claim
    per App. G claim and setting of the source section (its own KEYS), judged by that section's rule
    at level `alpha`."""
    out = []
    for key, module, spec, new_id, source in PLAN:
        ours = replace(spec, id=new_id, source=source)
        if key not in found or not len(found[key]):
            out.append(ours.missing(f"{key} {'not run' if key not in found else 'has no results'}"))
            continue

        def pick(part, alpha, module=module, wanted=spec.id):
            return [by_id(module.setting_claims(part, alpha=alpha), wanted)]

        for c in per_setting(pick, found[key], module.KEYS, smoke, alpha=alpha):
            out.append(replace(c, id=c.id.replace(spec.id, new_id, 1), section="10", source=source,
                               reason=f"{c.reason} (from {key})"))
    return out
