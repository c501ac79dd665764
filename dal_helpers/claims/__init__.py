"""Paper claims as objects: `base.Claim` and the verdict rules; one module per section will hold that
section's paper numbers and `claims(df) -> list[Claim]`."""
from .base import VERDICTS, Claim, by_id, paired_verdict  # noqa: F401
