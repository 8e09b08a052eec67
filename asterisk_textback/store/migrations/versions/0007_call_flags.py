"""Per-call KPI flags and hourly sums kept by triggers; drop the dead ``experiments.assigned``.

Each call carries what the KPIs ask of it (first reply, longest reply, STOP, booking, first
text-back and its delay, texts sent and delivered, segments, "number cannot text");
``call_hours`` sums them per UTC hour and DID: a period reads one row per hour, not every
call. Triggers keep both in the transaction of the write that changes them, whoever writes
(store, CDR catch-up, tests, an admin's SQL): on replies, texts, bookings and contacts they
recompute the flags of the calls concerned (only when a column that matters changed); on
``calls`` they add the row's change to its hour. On PostgreSQL that one is a deferred
constraint trigger: it runs at commit, after all else the transaction does, so the hour row
every recorder updates is locked only while it commits (no deadlock through it). The
backfill computes the flags with the same expressions, then the sums, before the triggers
exist. ``NOT_SMS_CAPABLE`` is copied as it is at this revision (``store.hour_sums``; a test
compares them): a change to that list needs a migration.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_NOT_SMS_CAPABLE = (
    "('anonymous', 'short_code', 'invalid_number', 'toll_free', 'premium', 'shared_cost', "
    "'uan', 'voip', 'personal_number', 'pager', 'voicemail_number', 'fixed_line', 'landline')"
)
_MISSED = "('missed_voicemail', 'missed_no_voicemail')"
_SUMS = ("calls", "missed", "capable", "replied", "stopped", "texted", "delivered",
         "segments", "responded")  # fmt: skip
_TS, _INT = sa.DateTime(timezone=True), sa.Integer()
_FLAG_COLUMNS = (
    ("first_reply_at", _TS, None), ("reply_chars", _INT, None), ("opted_out_at", _TS, None),
    ("booked_at", _TS, None), ("texted_at", _TS, None), ("response_seconds", sa.Float(), None),
    ("texts_sent", _INT, "0"), ("texts_delivered", _INT, "0"), ("segments_sent", _INT, "0"),
    ("no_sms", sa.Boolean(), "0"),
)  # fmt: skip
#: (trigger function, table): its triggers are named with _insert/_update/_delete suffixes
#: (``calls_no_sms`` is one trigger); SQLite has the triggers, not the functions.
_TRIGGERS = (
    ("inbound_flags", "inbound_messages"),
    ("messages_flags", "messages"),
    ("bookings_flags", "bookings"),
    ("contacts_flags", "contacts"),
    ("calls_hours", "calls"),
    ("calls_no_sms", "calls"),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


# --- the flags: one expression per column, over the call's rows (``calls`` is the outer row)


def _delay(first: str) -> str:
    if _sqlite():
        return f"(julianday({first}) - julianday(calls.ended_at)) * 86400.0"
    return f"EXTRACT(EPOCH FROM ({first}) - calls.ended_at)"


def _false() -> str:
    return "0" if _sqlite() else "false"


def _reply_sets() -> str:
    rows = "FROM inbound_messages i WHERE i.call_id = calls.id"
    return (
        f"first_reply_at = (SELECT min(i.received_at) {rows} AND i.kind = 'reply'), "
        f"reply_chars = (SELECT max(length(trim(i.body))) {rows} AND i.kind = 'reply'), "
        f"opted_out_at = (SELECT min(i.received_at) {rows} AND i.kind = 'stop')"
    )


def _text_sets() -> str:
    sent = "FROM messages m WHERE m.call_id = calls.id AND m.sent_at IS NOT NULL"
    textback = f"{sent} AND m.kind = 'textback'"
    first = f"(SELECT min(m.sent_at) {textback})"
    missed = f"calls.direction = 'inbound' AND calls.outcome IN {_MISSED}"
    return (
        f"texted_at = {first}, "
        f"response_seconds = CASE WHEN {missed} THEN {_delay(first)} END, "
        f"texts_sent = (SELECT count(*) {textback}), "
        f"texts_delivered = (SELECT count(*) {textback} "
        "AND (m.delivered_at IS NOT NULL OR m.status = 'delivered')), "
        f"segments_sent = (SELECT coalesce(sum(m.segments), 0) {sent})"
    )


def _booking_sets() -> str:
    return (
        "booked_at = (SELECT min(b.booked_at) FROM bookings b "
        "WHERE b.call_id = calls.id AND b.status = 'booked')"
    )


def _no_sms_set() -> str:
    return (
        "no_sms = EXISTS (SELECT 1 FROM contacts k "
        f"WHERE k.e164 = calls.caller_e164 AND k.sms_capable = {_false()})"
    )


# --- the hourly sums: what one call row adds to its hour


def _hour(row: str) -> str:
    if _sqlite():
        return f"substr({row}.ended_at, 1, 13) || ':00:00.000000'"
    return f"date_trunc('hour', {row}.ended_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _contributions(row: str, sign: str) -> list[str]:
    missed = f"{row}.outcome IN {_MISSED}"
    capable = (
        f"{missed} AND {row}.caller_e164 IS NOT NULL AND ({row}.suppress_reason IS NULL "
        f"OR {row}.suppress_reason NOT IN {_NOT_SMS_CAPABLE}) AND NOT {row}.no_sms"
    )

    def flag(condition: str) -> str:
        return f"{sign}CASE WHEN {condition} THEN 1 ELSE 0 END"

    return [
        f"{sign}1",
        flag(missed),
        flag(capable),
        flag(f"{missed} AND {row}.first_reply_at IS NOT NULL"),
        flag(f"{missed} AND {row}.opted_out_at IS NOT NULL"),
        f"{sign}CASE WHEN {missed} THEN {row}.texts_sent ELSE 0 END",
        f"{sign}CASE WHEN {missed} THEN {row}.texts_delivered ELSE 0 END",
        f"{sign}{row}.segments_sent",
        flag(f"{row}.response_seconds IS NOT NULL"),
    ]


def _add_to_hour(row: str, sign: str) -> str:
    """An upsert adding (sign "") or removing (sign "-") ``row``'s sums to its hour."""
    columns = ", ".join(_SUMS)
    values = ", ".join(_contributions(row, sign))
    updates = ", ".join(f"{c} = call_hours.{c} + excluded.{c}" for c in _SUMS)
    return (
        f"INSERT INTO call_hours (hour, did, {columns}) "
        f"SELECT {_hour(row)}, {row}.did, {values} WHERE {row}.direction = 'inbound' "
        f"ON CONFLICT (hour, did) DO UPDATE SET {updates}"
    )


# --- triggers


def _changed(*columns: str) -> str:
    """WHEN condition: any of ``columns`` ("{r}" stands for OLD/NEW) changed, NULL-safely."""
    differs = "IS NOT" if _sqlite() else "IS DISTINCT FROM"
    return " OR ".join(f"{c.format(r='OLD')} {differs} {c.format(r='NEW')}" for c in columns)


#: name, table, the flags it recomputes, the columns whose change matters, what an insert
#: needs to matter. A queued text (no ``sent_at``) or an unlinked reply changes no flag.
def _refreshers() -> list[tuple[str, str, str, tuple[str, ...], str]]:
    return [
        ("inbound_flags", "inbound_messages", _reply_sets(),
         ("{r}.call_id", "{r}.kind", "{r}.body", "{r}.received_at"), "NEW.call_id IS NOT NULL"),
        ("messages_flags", "messages", _text_sets(),
         ("{r}.call_id", "{r}.kind", "{r}.sent_at", "{r}.delivered_at", "{r}.segments",
          "({r}.status = 'delivered')"),
         "NEW.call_id IS NOT NULL AND NEW.sent_at IS NOT NULL"),
        ("bookings_flags", "bookings", _booking_sets(),
         ("{r}.call_id", "{r}.status", "{r}.booked_at"), "NEW.call_id IS NOT NULL"),
    ]  # fmt: skip


#: The call columns the hourly sums depend on.
_SUMMED = ("{r}.direction", "{r}.outcome", "{r}.did", "{r}.ended_at", "{r}.caller_e164",
           "{r}.suppress_reason", "{r}.no_sms", "{r}.first_reply_at", "{r}.opted_out_at",
           "{r}.texts_sent", "{r}.texts_delivered", "{r}.segments_sent",
           "{r}.response_seconds")  # fmt: skip


def _sqlite_triggers() -> list[str]:
    triggers = []
    for name, src, sets, columns, inserted in _refreshers():
        body = f"UPDATE calls SET {sets} WHERE id IN"
        triggers += [
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {src} "
            f"WHEN {inserted} BEGIN {body} (NEW.call_id); END",
            f"CREATE TRIGGER {name}_update AFTER UPDATE ON {src} "
            f"WHEN {_changed(*columns)} BEGIN {body} (NEW.call_id, OLD.call_id); END",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {src} "
            f"WHEN OLD.call_id IS NOT NULL BEGIN {body} (OLD.call_id); END",
        ]
    by_number = f"UPDATE calls SET {_no_sms_set()} WHERE caller_e164 IN"
    triggers += [
        "CREATE TRIGGER contacts_flags_insert AFTER INSERT ON contacts "
        f"WHEN NEW.sms_capable = 0 BEGIN {by_number} (NEW.e164); END",
        "CREATE TRIGGER contacts_flags_update AFTER UPDATE ON contacts "
        f"WHEN {_changed('{r}.sms_capable', '{r}.e164')} "
        f"BEGIN {by_number} (NEW.e164, OLD.e164); END",
        "CREATE TRIGGER contacts_flags_delete AFTER DELETE ON contacts "
        f"WHEN OLD.sms_capable = 0 BEGIN {by_number} (OLD.e164); END",
        "CREATE TRIGGER calls_no_sms AFTER INSERT ON calls WHEN EXISTS (SELECT 1 FROM "
        "contacts k WHERE k.e164 = NEW.caller_e164 AND k.sms_capable = 0) "
        "BEGIN UPDATE calls SET no_sms = 1 WHERE id = NEW.id; END",
        f"CREATE TRIGGER calls_hours_insert AFTER INSERT ON calls "
        f"BEGIN {_add_to_hour('NEW', '')}; END",
        f"CREATE TRIGGER calls_hours_update AFTER UPDATE ON calls WHEN {_changed(*_SUMMED)} "
        f"BEGIN {_add_to_hour('OLD', '-')}; {_add_to_hour('NEW', '')}; END",
        f"CREATE TRIGGER calls_hours_delete AFTER DELETE ON calls "
        f"BEGIN {_add_to_hour('OLD', '-')}; END",
    ]
    return triggers


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
        "RETURN NULL; END $$"
    )


def _pg_on(
    name: str, src: str, inserted: str, changed: str, deleted: str, kind: str = "TRIGGER"
) -> list[str]:
    """Three triggers (insert, update, delete), each with its WHEN, running ``name()``."""
    when = {"INSERT": inserted, "UPDATE": changed, "DELETE": deleted}
    deferred = " DEFERRABLE INITIALLY DEFERRED" if kind == "CONSTRAINT TRIGGER" else ""
    return [
        f"CREATE {kind} {name}_{op.lower()} AFTER {op} ON {src}{deferred} FOR EACH ROW "
        f"WHEN ({when[op]}) EXECUTE FUNCTION {name}()"
        for op in ("INSERT", "UPDATE", "DELETE")
    ]


def _pg_triggers() -> list[str]:
    statements: list[str] = []
    for name, src, sets, columns, inserted in _refreshers():
        body = (
            "IF TG_OP <> 'DELETE' AND NEW.call_id IS NOT NULL THEN "
            f"UPDATE calls SET {sets} WHERE id = NEW.call_id; END IF; "
            "IF TG_OP <> 'INSERT' AND OLD.call_id IS NOT NULL AND (TG_OP = 'DELETE' "
            "OR OLD.call_id IS DISTINCT FROM NEW.call_id) THEN "
            f"UPDATE calls SET {sets} WHERE id = OLD.call_id; END IF;"
        )
        statements += [
            _pg_function(name, body),
            *_pg_on(name, src, inserted, _changed(*columns), "OLD.call_id IS NOT NULL"),
        ]
    contacts = (
        "IF TG_OP <> 'DELETE' THEN "
        f"UPDATE calls SET {_no_sms_set()} WHERE caller_e164 = NEW.e164; END IF; "
        "IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.e164 <> NEW.e164) THEN "
        f"UPDATE calls SET {_no_sms_set()} WHERE caller_e164 = OLD.e164; END IF;"
    )
    no_sms = (
        "IF EXISTS (SELECT 1 FROM contacts k WHERE k.e164 = NEW.caller_e164 "
        "AND k.sms_capable = false) THEN UPDATE calls SET no_sms = true WHERE id = NEW.id; "
        "END IF;"
    )
    hours = (
        f"IF TG_OP <> 'INSERT' THEN {_add_to_hour('OLD', '-')}; END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_add_to_hour('NEW', '')}; END IF;"
    )
    statements += [
        _pg_function("contacts_flags", contacts),
        *_pg_on(
            "contacts_flags",
            "contacts",
            "NEW.sms_capable = false",
            _changed("{r}.sms_capable", "{r}.e164"),
            "OLD.sms_capable = false",
        ),
        _pg_function("calls_no_sms", no_sms),
        "CREATE TRIGGER calls_no_sms AFTER INSERT ON calls FOR EACH ROW "
        "WHEN (NEW.caller_e164 IS NOT NULL) EXECUTE FUNCTION calls_no_sms()",
        _pg_function("calls_hours", hours),
        *_pg_on("calls_hours", "calls", "true", _changed(*_SUMMED), "true", "CONSTRAINT TRIGGER"),
    ]
    return statements


def _backfill() -> None:
    """The flags of the calls that have replies, texts, bookings or a no-SMS contact; sums."""
    for sets, source in (
        (_reply_sets(), "SELECT call_id FROM inbound_messages"),
        (_text_sets(), "SELECT call_id FROM messages"),
        (_booking_sets(), "SELECT call_id FROM bookings"),
    ):
        op.execute(f"UPDATE calls SET {sets} WHERE id IN ({source})")
    op.execute(
        f"UPDATE calls SET {_no_sms_set()} WHERE caller_e164 IN "
        f"(SELECT e164 FROM contacts WHERE sms_capable = {_false()})"
    )
    sums = ", ".join(f"sum({c}) AS {c}" for c in _SUMS)
    parts = ", ".join(
        f"{expr} AS {name}" for expr, name in zip(_contributions("calls", ""), _SUMS, strict=True)
    )
    op.execute(
        f"INSERT INTO call_hours (hour, did, {', '.join(_SUMS)}) "
        f"SELECT hour, did, {sums} FROM (SELECT {_hour('calls')} AS hour, calls.did AS did, "
        f"{parts} FROM calls WHERE calls.direction = 'inbound') AS c GROUP BY hour, did"
    )


def upgrade() -> None:
    """Add the flags, ``call_hours`` and the indexes; backfill; create the triggers."""
    for name, type_, default in _FLAG_COLUMNS:
        op.add_column(
            "calls",
            sa.Column(name, type_, nullable=default is None, server_default=default),
        )
    op.create_table(
        "call_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("did", sa.String(255), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in _SUMS),
        sa.PrimaryKeyConstraint("hour", "did", name="pk_call_hours"),
        sqlite_with_rowid=False,
    )
    _backfill()
    replied = sa.text("first_reply_at IS NOT NULL")
    op.create_index(
        "ix_calls_replied",
        "calls",
        ["ended_at", "did", "direction", "outcome", "reply_chars", "booked_at", "first_reply_at"],
        sqlite_where=replied,
        postgresql_where=replied,
    )
    responded = sa.text("response_seconds IS NOT NULL")
    op.create_index(
        "ix_calls_response",
        "calls",
        ["response_seconds", "ended_at", "did"],
        sqlite_where=responded,
        postgresql_where=responded,
    )
    op.create_index(
        "ix_calls_response_by_time",
        "calls",
        ["ended_at", "did", "response_seconds"],
        sqlite_where=responded,
        postgresql_where=responded,
    )
    booked = sa.text("booked_at IS NOT NULL")
    op.create_index(
        "ix_calls_booked",
        "calls",
        ["ended_at", "did", "direction", "outcome", "booked_at"],
        sqlite_where=booked,
        postgresql_where=booked,
    )
    op.create_index("ix_messages_experiment_id", "messages", ["experiment_id"])
    op.create_index(
        "ix_bookings_call_totals", "bookings", ["call_id", "status", "currency", "value_minor"]
    )
    for statement in _sqlite_triggers() if _sqlite() else _pg_triggers():
        op.execute(statement)
    if _sqlite():
        # Native DROP COLUMN (SQLite 3.35+): a batch copy would drop and re-create the
        # table, and dropping it runs ON DELETE SET NULL on ``messages.experiment_id``.
        op.execute("ALTER TABLE experiments DROP COLUMN assigned")
    else:
        op.drop_column("experiments", "assigned")


def downgrade() -> None:
    """Back to revision 0006: no triggers, flags, sums or new indexes; ``assigned`` again."""
    op.add_column(
        "experiments",
        sa.Column("assigned", sa.Integer(), nullable=False, server_default="0"),
    )
    for name, table in _TRIGGERS:
        for suffix in ("",) if name == "calls_no_sms" else ("_insert", "_update", "_delete"):
            on = "" if _sqlite() else f" ON {table}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}{suffix}{on}")
        if not _sqlite():
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("ix_bookings_call_totals", table_name="bookings")
    op.drop_index("ix_messages_experiment_id", table_name="messages")
    op.drop_index("ix_calls_booked", table_name="calls")
    op.drop_index("ix_calls_response_by_time", table_name="calls")
    op.drop_index("ix_calls_response", table_name="calls")
    op.drop_index("ix_calls_replied", table_name="calls")
    op.drop_table("call_hours")
    for name, _type, _default in reversed(_FLAG_COLUMNS):
        if _sqlite():
            op.execute(f"ALTER TABLE calls DROP COLUMN {name}")
        else:
            op.drop_column("calls", name)
