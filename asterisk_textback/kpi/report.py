"""``asterisk-textback report``: KPIs, or CDR/CEL history, as a table, CSV or JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, Final, TextIO

from asterisk_textback.cdr.celcsv import CEL_CSV_COLUMNS
from asterisk_textback.cdr.csvfile import Progress
from asterisk_textback.cdr.history import HistorySources, iter_db_history, iter_file_history
from asterisk_textback.cdr.model import ClassifiedCall
from asterisk_textback.cdr.summary import CdrSummary, summarize
from asterisk_textback.kpi import report_csv
from asterisk_textback.kpi.calculator import (
    CalculatorResult,
    calculator_from_history,
    revenue_left_on_table,
)
from asterisk_textback.kpi.metrics import KpiReport, compute_kpis
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.report_words import (
    Inputs,
    calculator_legend,
    calculator_rows,
    kpi_legend,
    kpi_rows,
    no_value_note,
    period_words,
    recovered,
)
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.tenant_scope import scoped_engine
from asterisk_textback.store.uow import reading
from asterisk_textback.tenancy.ids import DEFAULT_TENANT
from asterisk_textback.wording.labels import reason_label

__all__ = ["CEL_NOTE", "FORMATS", "VOICEMAIL_NOTE", "ReportConfig", "run_report", "text_progress"]

FORMATS: Final = ("table", "csv", "json")
VOICEMAIL_NOTE: Final = (
    "CDR counts answered vs missed reliably, but cannot tell a left voicemail from a "
    "greeting hang-up (both show VoiceMail ANSWERED): that split needs the AMI record "
    "or the voicemail spool (CEL cannot tell either). 'reached voicemail' counts both."
)
CEL_NOTE: Final = (
    "CEL decided the calls it has: answered means the caller was bridged with a phone (not "
    "a queue, IVR, voicemail or Local channel answering), and missed calls have a reason. "
    "Calls CEL does not have were classified from CDR."
)
_VOICEMAIL_TAG: Final = "left a message or not"
_CDR_LEGEND: Final = [
    "What this means:",
    "  Inbound calls came in from outside; each is either answered (a person picked up) or missed.",
    "  Missed with a number to text: the caller's number was shown, so a text could go back.",
    "  Missed that reached voicemail: the call ended in voicemail, " + _VOICEMAIL_TAG + ".",
    "  Internal and outbound calls are listed for completeness and counted nowhere else.",
]


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """What the report needs from the settings (the lead builds it from ``Settings``)."""

    #: The textback database (with ``database.password_env`` merged in); None for CDR only.
    database_url: str | None
    kpi: KpiSettings = field(default_factory=KpiSettings)
    #: Zone of local CDR times (``cdr_csv`` without ``usegmtime``, ``asteriskcdrdb``).
    cdr_zone: tzinfo = UTC
    cdr_table: str = "cdr"
    #: The CEL table next to the CDR table (FreePBX: ``cel``); None never reads CEL.
    cel_table: str | None = "cel"
    #: Column order of a ``cel_custom`` CSV (the mapping in ``cel_custom.conf``).
    cel_columns: Sequence[str] = CEL_CSV_COLUMNS
    #: The business's zone (``business.timezone``): the period and the CSV's times are in it.
    zone: tzinfo = UTC
    #: Where the calculator's order value and close rates came from (a flag or a setting).
    inputs: Inputs = field(default_factory=Inputs)
    #: ``report --tenant``: whose figures (named in the header; PostgreSQL sessions confined
    #: to its schema). None: the install's own business, as without tenants.
    tenant: str | None = None
    #: The tenant's business name, shown beside its id.
    tenant_name: str = ""

    def whose(self) -> str:
        """``tenant acme (Acme Dental)`` for a tenant's report; empty otherwise."""
        if self.tenant is None:
            return ""
        name = self.tenant_name
        return f"tenant {self.tenant}" + (f" ({name})" if name and name != self.tenant else "")


def text_progress(stream: TextIO, label: str = "reading CDR") -> Progress:
    """A progress callback drawing ``label: 42%`` on one terminal line of ``stream``."""

    def show(done: int, total: int) -> None:
        share = 100 if not total else done * 100 // total
        end = "\n" if done >= total else ""
        stream.write(f"\r{label}: {share:3d}%{end}")
        stream.flush()

    return show


def _table(title: str, rows: list[tuple[str, str, str]], out: TextIO) -> None:
    width = max((len(r[0]) for r in rows), default=0)
    value_width = max((len(r[1]) for r in rows), default=0)
    out.write(f"{title}\n{'=' * len(title)}\n")
    for label, value, basis in rows:
        out.write(f"{label:<{width}}  {value:>{value_width}}  {basis}".rstrip() + "\n")
    out.write("\n")


def _cdr_rows(summary: CdrSummary) -> list[tuple[str, str, str]]:
    rate = summary.missed_rate
    rows = [
        ("Inbound calls", f"{summary.inbound:,}", ""),
        ("Answered", f"{summary.answered:,}", ""),
        ("Missed", f"{summary.missed:,}", ""),
        ("Missed-call rate", "n/a" if rate is None else f"{rate * 100:.1f}%", "missed / inbound"),
        ("Missed with a number to text", f"{summary.missed_textable:,}", "not anonymous"),
        ("Missed that reached voicemail", f"{summary.missed_reached_voicemail:,}", _VOICEMAIL_TAG),
        ("Internal calls (not counted)", f"{summary.internal:,}", ""),
        ("Outbound calls (not counted)", f"{summary.outbound:,}", ""),
    ]
    for reason, count in sorted(summary.missed_by_reason.items()):
        rows.append((f"  Missed: {reason_label(reason)}", f"{count:,}", "why, from CEL"))
    return rows


def _did_table(summary: CdrSummary, out: TextIO) -> None:
    """Inbound and missed calls per DID, one column per figure, right-aligned under headers."""
    if not summary.by_did:
        return
    header = ("DID", "Inbound", "Missed", "Missed rate")
    body = [
        (did, f"{inbound:,}", f"{missed:,}", f"{missed * 100 / inbound:.1f}%" if inbound else "n/a")
        for did, (inbound, missed) in sorted(summary.by_did.items())
    ]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    title = "Calls by DID"
    out.write(f"{title}\n{'=' * len(title)}\n")
    for row in (header, *body):
        first = f"{row[0]:<{widths[0]}}"
        rest = "  ".join(
            f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)
        )
        out.write(f"{first}  {rest}\n")
    out.write("\nMissed rate: missed / inbound calls to that number.\n\n")


async def _cdr_summary(
    config: ReportConfig,
    period: Period | None,
    did: str | None,
    files: tuple[Path | None, Path | None],
    cdr_db_url: str | None,
    progress: Progress | None,
    cel_progress: Progress | None,
) -> tuple[CdrSummary, HistorySources]:
    def in_period(call: ClassifiedCall) -> bool:
        return period is None or period.start <= call.started_at < period.end

    sources = HistorySources()
    cdr, cel = files
    if cdr is not None or cel is not None:

        def from_files() -> CdrSummary:
            calls = iter_file_history(
                cdr, cel, config.cdr_zone, config.cel_columns, sources, progress, cel_progress
            )
            return summarize(filter(in_period, calls), did)

        return await asyncio.to_thread(from_files), sources
    if cdr_db_url is None:
        raise ValueError("give a CDR/CEL file or a CDR database URL")
    url = cdr_db_url
    start, end = (None, None) if period is None else (period.start, period.end)

    def from_database() -> CdrSummary:
        calls = iter_db_history(
            url, start, end, config.cdr_zone, config.cdr_table, config.cel_table, sources
        )
        return summarize(calls, did)

    return await asyncio.to_thread(from_database), sources


async def _kpis(
    config: ReportConfig, period: Period, did: str | None
) -> tuple[KpiReport, CalculatorResult]:
    if config.database_url is None:
        raise ValueError("no database configured for the KPI report")
    engine = create_engine(config.database_url)
    scoped = scoped_engine(engine, config.tenant or DEFAULT_TENANT)
    try:
        async with reading(create_session_factory(scoped)) as session:
            report = await compute_kpis(session, period, did, config.kpi)
            calculator = await calculator_from_history(session, period, did, config.kpi)
            return report, calculator
    finally:
        await engine.dispose()


async def run_report(
    config: ReportConfig,
    period: Period | None,
    did: str | None,
    fmt: str,
    cdr: Path | None,
    cdr_db_url: str | None,
    out: TextIO,
    progress: Callable[[int, int], None] | None = None,
    cel: Path | None = None,
    cel_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the KPI report (or, with ``cdr``/``cel``/``cdr_db_url``, the call history);
    return the exit code. CEL decides the calls it has, CDR the others."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    currency = config.kpi.currency.upper()
    if cdr is not None or cel is not None or cdr_db_url is not None:
        summary, sources = await _cdr_summary(
            config, period, did, (cdr, cel), cdr_db_url, progress, cel_progress
        )
        kpi = config.kpi
        calculator = revenue_left_on_table(
            summary.missed,
            kpi.average_order_value,
            kpi.close_rate,
            kpi.close_rate_band,
            currency=currency,
        )
        _write_cdr(config, summary, sources, calculator, period, did, fmt, out)
        return 0
    if period is None:
        raise ValueError("the KPI report needs a period")
    report, calculator = await _kpis(config, period, did)
    if fmt == "json":
        whose = {} if config.tenant is None else {"tenant": config.tenant}
        data = {**whose, **report.as_dict(), "calculator": calculator.as_dict()}
        json.dump(data, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        rows = _tenant_rows(config) + report_csv.header_rows(period, config.zone, currency)
        rows += report_csv.kpi_rows(report)
        rows += report_csv.calculator_rows(calculator, currency, config.inputs)
        booked = report["booking_rate"].numerator or 0
        rows += report_csv.recovered_rows(booked, calculator, currency)
        report_csv.write(rows, out)
    else:
        scope = f" (DID {did})" if did else ""
        title = f"KPIs, {period_words(period, config.zone)}{scope}"
        _heading(_for_whom(config, title), config.zone, out)
        _table("Figures", kpi_rows(report, config.kpi), out)
        _lines(kpi_legend(report), out)
        booked = report["booking_rate"].numerator or 0
        _calculator(calculator, currency, config.inputs, out, booked)
    return 0


def _for_whom(config: ReportConfig, title: str) -> str:
    whose = config.whose()
    return f"{whose[0].upper()}{whose[1:]}: {title}" if whose else title


def _tenant_rows(config: ReportConfig) -> list[dict[str, Any]]:
    if config.tenant is None:
        return []
    return [{"section": "report", "key": "tenant", "label": "Tenant", "value": config.tenant}]


def _heading(title: str, zone: tzinfo, out: TextIO) -> None:
    out.write(f"{title}\nTimes in {zone}.\n\n")


def _lines(lines: list[str], out: TextIO) -> None:
    out.write("\n".join(lines) + "\n\n")


def _calculator(
    result: CalculatorResult,
    currency: str,
    inputs: Inputs,
    out: TextIO,
    booked: float | None = None,
) -> None:
    rows = calculator_rows(result, currency, inputs)
    extra = None if booked is None else recovered(booked, result, currency)
    _table("Missed call revenue calculator", rows if extra is None else [*rows, extra], out)
    note = no_value_note(result)
    if note:
        out.write(note + "\n\n")
    _lines(calculator_legend(result, inputs, extra is not None), out)


def _write_cdr(
    config: ReportConfig,
    summary: CdrSummary,
    sources: HistorySources,
    calculator: CalculatorResult,
    period: Period | None,
    did: str | None,
    fmt: str,
    out: TextIO,
) -> None:
    notes = [CEL_NOTE, VOICEMAIL_NOTE] if sources.cel_calls else [VOICEMAIL_NOTE]
    currency, zone = config.kpi.currency.upper(), config.zone
    if fmt == "json":
        data = {
            "source": "cel+cdr" if sources.cel_calls else "cdr",
            "sources": sources.as_dict(),
            "period": None
            if period is None
            else {"start": period.start.isoformat(), "end": period.end.isoformat()},
            "did": did,
            "currency": currency,
            "summary": summary.as_dict(),
            "calculator": calculator.as_dict(),
            "notes": notes,
        }
        if config.tenant is not None:
            data = {"tenant": config.tenant, **data}
        json.dump(data, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        rows = _tenant_rows(config) + report_csv.header_rows(period, zone, currency)
        rows += report_csv.cdr_rows(summary, sources, zone)
        rows.append({"section": "note", "key": "voicemail", "definition": VOICEMAIL_NOTE})
        if sources.cel_calls:
            rows.append({"section": "note", "key": "cel", "definition": CEL_NOTE})
        report_csv.write(
            rows + report_csv.calculator_rows(calculator, currency, config.inputs), out
        )
    else:
        scope = "all history" if period is None else period_words(period, zone)
        log = "CEL + CDR" if sources.cel_calls else "CDR"
        title = f"Calls from {log}, {scope}" + (f" (DID {did})" if did else "")
        _heading(_for_whom(config, title), zone, out)
        _table("Calls", _cdr_rows(summary), out)
        _lines(_CDR_LEGEND, out)
        _did_table(summary, out)
        _calculator(calculator, currency, config.inputs, out)
        out.write(f"Source: {sources.describe()}\n")
        for note in notes:
            out.write(f"Note: {note}\n")
