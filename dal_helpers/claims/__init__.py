"""Paper claims as objects, one module per section.

`base` holds the `Claim` (id, section, text, the paper's value and its source, the test, what we
measured, the test's statistic, p-value or CI, the verdict and its reason), the verdicts
("reproduced", "not reproduced", "inconclusive", "not comparable"), lookup by id (`by_id`), the rules
that decide a verdict (`paired`, `wilcoxon`, `ci_check`, `interval_check`, `penalty_check`), smoke-run
detection (`is_smoke`: mnist5k and at most 2 rounds; a smoke run is never "not reproduced") and
`per_setting` (one set of claims per data set / model). `measures` computes the per-seed quantities the
rules pair over seeds.

Each section module (`s00_quickstart`, `s01_baselines`, `s02_augmentation`, `s03_optimizers`,
`s04_redundancy`, `s05_per_class`, `s06_batch_seed`, `s07_reset_update`, `s08_scalability`,
`s09_lowdata`, `s10_significance`, `s11_your_data`, `s12_semi_supervised`) holds that section's paper numbers with their source and
`claims(df, ...) -> list[Claim]`, each claim with a stable id such as
"04.entropy_efficiency_at_max_redundancy" ("@<setting>" is appended when a table holds several
settings). `notebook.paper_vs_ours` displays them.
"""
from .base import (VERDICTS, Claim, ClaimSpec, by_id, ci_check, interval_check, is_smoke,  # noqa: F401
                   paired, paired_verdict, penalty_check, per_setting, wilcoxon)

SECTIONS = ("s00_quickstart", "s01_baselines", "s02_augmentation", "s03_optimizers", "s04_redundancy",
            "s05_per_class", "s06_batch_seed", "s07_reset_update", "s08_scalability", "s09_lowdata",
            "s10_significance", "s11_your_data", "s12_semi_supervised")
