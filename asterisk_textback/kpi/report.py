"""``asterisk-textback report``: KPIs, or CDR/CEL history, as a table, CSV or JSON."""

from __future__ import annotations

import asyncio
import csv
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
from asterisk_textback.kpi.calculator import (
    CalculatorResult,
    calculator_from_history,
    revenue_left_on_table,
)
from asterisk_textback.kpi.definitions import Kpi, Unit
from asterisk_textback.kpi.metrics import KpiReport, compute_kpis
from asterisk_textback.kpi.periods import Period
from asterisk_textback.kpi.settings import KpiSettings
from asterisk_textback.store.engine import create_engine, create_session_factory
from asterisk_textback.store.uow import reading

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
_CSV_FIELDS: Final = ("key", "label", "value", "numerator", "denominator", "unit", "definition")


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


def text_progress(stream: TextIO, label: str = "reading CDR") -> Progress:
    """A progress callback drawing ``label: 42%`` on one terminal line of ``stream``."""

    def show(done: int, total: int) -> None:
        share = 100 if not total else done * 100 // total
        end = "\n" if done >= total else ""
        stream.write(f"\r{label}: {share:3d}%{end}")
        stream.flush()

    return show


def _shown(kpi: Kpi, currency: str) -> str:
    value, unit = kpi.value, kpi.definition.unit
    if value is None:
        return "n/a"
    if unit is Unit.RATIO:
        return f"{value * 100:.1f}%"
    if unit is Unit.SECONDS:
        return f"{value:.1f} s"
    if unit is Unit.MONEY:
        return f"{value:,.2f} {currency}"
    return f"{value:,.0f}"


def _kpi_rows(report: KpiReport) -> list[tuple[str, str, str]]:
    rows = []
    for kpi in report.kpis:
        basis = ""
        if kpi.numerator is not None and kpi.denominator is not None:
            basis = f"{kpi.numerator:g} / {kpi.denominator:g}"
        rows.append((kpi.definition.label, _shown(kpi, report.currency), basis))
    return rows


def _calculator_rows(result: CalculatorResult, currency: str) -> list[tuple[str, str, str]]:
    def money(value: float | None) -> str:
        return "n/a (no average order value)" if value is None else f"{value:,.2f} {currency}"

    value = result.average_order_value
    return [
        ("Missed calls", f"{result.missed_calls:,}", ""),
        ("Average order value", money(value), result.value_source),
        *(
            (f"Revenue left on the table @ {e.close_rate:.0%}", money(e.revenue), label)
            for e, label in (
                (result.point, "point"),
                (result.low, "band low"),
                (result.high, "band high"),
            )
        ),
    ]


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
        ("Missed-call rate", "n/a" if rate is None else f"{rate * 100:.1f}%", ""),
        ("Missed with a number to text", f"{summary.missed_textable:,}", ""),
        ("Missed that reached voicemail", f"{summary.missed_reached_voicemail:,}", "left or not"),
        ("Internal calls (not counted)", f"{summary.internal:,}", ""),
        ("Outbound calls (not counted)", f"{summary.outbound:,}", ""),
    ]
    for reason, count in sorted(summary.missed_by_reason.items()):
        rows.append((f"  Missed: {reason}", f"{count:,}", "from CEL"))
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
    out.write("\n")


def _write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=["section", *_CSV_FIELDS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _calculator_csv(result: CalculatorResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"section": "calculator", "key": "missed_calls", "value": result.missed_calls},
        {
            "section": "calculator",
            "key": "average_order_value",
            "value": result.average_order_value,
            "definition": result.value_source,
        },
    ]
    for name, estimate in (("point", result.point), ("low", result.low), ("high", result.high)):
        rows.append(
            {
                "section": "calculator",
                "key": f"revenue_left_{name}",
                "value": estimate.revenue,
                "numerator": estimate.bookings,
                "definition": f"missed calls x {estimate.close_rate} x average order value",
            }
        )
    return rows


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
    try:
        async with reading(create_session_factory(engine)) as session:
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
        calculator = revenue_left_on_table(
            summary.missed,
            config.kpi.average_order_value,
            config.kpi.close_rate,
            config.kpi.close_rate_band,
        )
        _write_cdr(summary, sources, calculator, period, did, fmt, currency, out)
        return 0
    if period is None:
        raise ValueError("the KPI report needs a period")
    report, calculator = await _kpis(config, period, did)
    if fmt == "json":
        json.dump({**report.as_dict(), "calculator": calculator.as_dict()}, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        rows = [{"section": "kpi", **k.as_dict()} for k in report.kpis]
        _write_csv(rows + _calculator_csv(calculator), out)
    else:
        scope = f" (DID {did})" if did else ""
        _table(f"KPIs {period.label()}{scope}", _kpi_rows(report), out)
        _table("Missed call revenue calculator", _calculator_rows(calculator, currency), out)
    return 0


def _write_cdr(
    summary: CdrSummary,
    sources: HistorySources,
    calculator: CalculatorResult,
    period: Period | None,
    did: str | None,
    fmt: str,
    currency: str,
    out: TextIO,
) -> None:
    notes = [CEL_NOTE, VOICEMAIL_NOTE] if sources.cel_calls else [VOICEMAIL_NOTE]
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
        json.dump(data, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        rows = [
            {"section": "cdr", "key": key, "value": value}
            for key, value in summary.as_dict().items()
            if key not in ("by_did", "missed_by_reason")
        ]
        rows += [
            {"section": "source", "key": key, "value": value}
            for key, value in sources.as_dict().items()
            if key != "cel_skipped_lines"
        ]
        rows += [
            {"section": "cel", "key": f"missed_{reason}", "value": count}
            for reason, count in sorted(summary.missed_by_reason.items())
        ]
        rows.append({"section": "note", "key": "voicemail", "definition": VOICEMAIL_NOTE})
        if sources.cel_calls:
            rows.append({"section": "note", "key": "cel", "definition": CEL_NOTE})
        _write_csv(rows + _calculator_csv(calculator), out)
    else:
        scope = "all history" if period is None else period.label()
        log = "CEL + CDR" if sources.cel_calls else "CDR"
        _table(f"Calls from {log}, {scope}", _cdr_rows(summary), out)
        _did_table(summary, out)
        _table("Missed call revenue calculator", _calculator_rows(calculator, currency), out)
        out.write(f"Source: {sources.describe()}\n")
        for note in notes:
            out.write(f"Note: {note}\n")
