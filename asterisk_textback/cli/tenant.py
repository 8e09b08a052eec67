"""``asterisk-textback tenant add|list|check|remove``: the businesses in ``tenants.d/``.

``add`` writes a commented tenant file (:mod:`asterisk_textback.cli.tenant_add`); ``list``
and ``check`` load every tenant as ``run`` would and say which are refused and why;
``remove`` moves a file aside (its rows are kept). Each imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asterisk_textback.cli.args import add_config

if TYPE_CHECKING:
    from typing import TextIO

    from asterisk_textback.cli.args import Commands
    from asterisk_textback.tenancy.files import TenantSet

#: How ``list`` and ``check`` show the main config's own business.
DEFAULT_LABEL = "default (main config)"


def add_parser(commands: Commands) -> None:
    """Register ``tenant`` and its four sub-commands."""
    parser = commands.add_parser(
        "tenant", help="the businesses this install serves (tenants.d/<id>.toml)"
    )
    actions = parser.add_subparsers(dest="tenant_command", required=True, help="what to do")
    add = actions.add_parser("add", help="write tenants.d/ID.toml, a commented starting point")
    add.add_argument("id", help="1-32 lower-case letters, digits and hyphens (acme-dental)")
    add.add_argument("--name", help="the business's name (default: the id)")
    add.add_argument(
        "--did",
        dest="dids",
        action="extend",
        nargs="+",
        default=[],
        metavar="NUMBER",
        help="on a PBX shared with other tenants: the DIDs whose calls are this tenant's",
    )
    add.add_argument("--pbx-host", help="its own PBX's AMI host (a FreePBX per client)")
    listing = actions.add_parser("list", help="every tenant, its PBX links, numbers and status")
    listing.add_argument("--json", action="store_true", help="JSON, for scripts")
    check = actions.add_parser("check", help="validate one tenant file or all of them")
    check.add_argument("id", nargs="?", help="the tenant (default: all)")
    remove = actions.add_parser("remove", help="move tenants.d/ID.toml aside (rows are kept)")
    remove.add_argument("id", help="the tenant")
    remove.add_argument("--yes", action="store_true", help="do not ask")
    for verb_parser in (add, listing, check, remove):
        add_config(verb_parser)
        verb_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen sub-command; the process exit code."""
    import sys

    from asterisk_textback.cli import tenant_add

    out = sys.stdout
    if args.tenant_command == "add":
        return tenant_add.add(
            args.config, args.id, name=args.name, dids=args.dids, pbx_host=args.pbx_host, out=out
        )
    if args.tenant_command == "remove":
        return tenant_add.remove(args.config, args.id, yes=args.yes, out=out)
    from asterisk_textback.tenancy.files import load_tenants

    found = load_tenants(args.config)
    if args.tenant_command == "list":
        return list_tenants(found, as_json=args.json, out=out)
    return check_tenants(found, args.id, out=out)


@dataclass(frozen=True, slots=True)
class _Row:
    """One line of ``tenant list`` (and one object of its JSON)."""

    id: str
    name: str | None
    file: str | None
    pbx_links: list[dict[str, object]]
    provider: str | None
    senders: list[str]
    status: str
    reason: str | None = None

    def cells(self) -> tuple[str, ...]:
        links = ", ".join(f"{p['name']} {p['host']}:{p['port']}" for p in self.pbx_links)
        return (
            DEFAULT_LABEL if self.file is None else self.id,
            self.name or "-",
            self.file or "-",
            links or "-",
            self.provider or "-",
            ", ".join(self.senders) or "-",
            "ok" if self.reason is None else f"refused: {self.reason}",
        )


def _rows(found: TenantSet) -> list[_Row]:
    from asterisk_textback.tenancy.conflicts import sender_numbers

    rows = []
    for tenant in found.tenants:
        settings = tenant.loaded.settings
        name = settings.tenant.name or (settings.business.name if tenant.path is None else None)
        rows.append(
            _Row(
                id=tenant.id,
                name=name or tenant.id,
                file=str(tenant.path) if tenant.path else None,
                pbx_links=[
                    {"name": p.name, "host": p.host, "port": p.port} for p in settings.all_pbxes
                ],
                provider=settings.provider.name,
                senders=sorted({number for _, number in sender_numbers(settings)}),
                status="ok",
            )
        )
    for refusal in found.refused:
        rows.append(
            _Row(
                id=refusal.id,
                name=None,
                file=str(refusal.path),
                pbx_links=[],
                provider=None,
                senders=[],
                status="refused",
                reason=refusal.reason,
            )
        )
    return rows


def list_tenants(found: TenantSet, *, as_json: bool, out: TextIO) -> int:
    """Print every tenant (a table, or JSON); 0."""
    rows = _rows(found)
    if as_json:
        import json
        from dataclasses import asdict

        out.write(json.dumps({"tenants": [asdict(row) for row in rows]}, indent=2) + "\n")
        return 0
    head = ("ID", "NAME", "FILE", "PBX LINKS", "PROVIDER", "SENDERS", "STATUS")
    table = [head, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(head) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        out.write("  ".join([*cells, line[-1]]).rstrip() + "\n")
    return 0


def check_tenants(found: TenantSet, tenant_id: str | None, *, out: TextIO) -> int:
    """``[PASS]``/``[FAIL]`` per tenant; 1 if one fails, 2 if ``tenant_id`` is unknown."""
    from asterisk_textback.errors import ConfigError

    results: list[tuple[str, bool, str | None]] = [
        (t.id, t.path is None, None) for t in found.tenants
    ]
    results += [(r.id, False, r.reason) for r in found.refused]
    if tenant_id is not None:
        results = [r for r in results if r[0] == tenant_id]
        if not results:
            raise ConfigError(f"no tenant {tenant_id!r} (see: asterisk-textback tenant list)")
    for name, is_main, reason in results:
        label = DEFAULT_LABEL if is_main else name
        out.write(f"[PASS] {label}\n" if reason is None else f"[FAIL] {label}: {reason}\n")
    return 1 if any(reason is not None for _, _, reason in results) else 0
