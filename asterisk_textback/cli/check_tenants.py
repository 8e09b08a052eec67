"""``check``'s line for the tenant files: every ``tenants.d/<id>.toml`` loads, or which not."""

from __future__ import annotations

from pathlib import Path

from asterisk_textback.cli.check_report import CheckResult
from asterisk_textback.tenancy.files import load_tenants
from asterisk_textback.tenancy.ids import DEFAULT_TENANT

__all__ = ["check_tenants"]


def check_tenants(config: Path) -> CheckResult | None:
    """PASS naming the tenants, FAIL naming each refused file; None without tenant files."""
    found = load_tenants(config, carrier_rules=False)
    ids = [t.id for t in found.tenants if t.id != DEFAULT_TENANT]
    if not ids and not found.refused:
        return None  # a single business: nothing to say
    if found.refused:
        why = "; ".join(refusal.reason for refusal in found.refused)
        return CheckResult(
            "tenants",
            False,
            f"{len(found.refused)} tenant file(s) refused (the others run): {why}",
            "correct each file named, then `asterisk-textback tenant check` and "
            "`systemctl reload asterisk-textback`",
        )
    return CheckResult("tenants", True, f"{len(ids)} tenant file(s) load: {', '.join(ids)}")
