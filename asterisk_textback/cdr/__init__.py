"""Call history from Asterisk CDR and CEL (files or ``asteriskcdrdb``): answered vs missed.

CDR counts answered vs missed reliably once the rows of a call are grouped and the
"ANSWERED is not a person" trap is avoided (see ``model.py``); it cannot tell a left
voicemail from a greeting hang-up: that split needs the AMI record or the voicemail spool.
CEL, when the PBX logs it, decides instead (``cel.py``, ``celclassify.py``): it sees who was
bridged with the caller, so it answers "did a person pick up" like the live tracker, and
tells why a call was missed; ``history.py`` merges both.
"""

from asterisk_textback.cdr.cel import CEL_FIELDS, CelCall, CelEvent
from asterisk_textback.cdr.celclassify import classify_cel, group_cel
from asterisk_textback.cdr.celcsv import (
    CEL_CSV_COLUMNS,
    CelReadStats,
    parse_columns,
    read_cel_calls,
    read_cel_events,
)
from asterisk_textback.cdr.celdb import cel_has_events, read_db_cel_calls, read_db_cel_events
from asterisk_textback.cdr.csvfile import CdrFormatError, Progress, read_calls, read_rows
from asterisk_textback.cdr.database import open_cdr_engine, read_db_calls, read_db_rows
from asterisk_textback.cdr.history import (
    HistorySources,
    iter_db_history,
    iter_file_history,
    merge_calls,
)
from asterisk_textback.cdr.model import (
    INBOUND_CONTEXT_PREFIXES,
    PERSON_APPS,
    CdrCall,
    CdrDirection,
    CdrOutcome,
    CdrRow,
    ClassifiedCall,
    classify,
    group_calls,
)
from asterisk_textback.cdr.summary import CdrSummary, summarize

__all__ = [
    "CEL_CSV_COLUMNS",
    "CEL_FIELDS",
    "INBOUND_CONTEXT_PREFIXES",
    "PERSON_APPS",
    "CdrCall",
    "CdrDirection",
    "CdrFormatError",
    "CdrOutcome",
    "CdrRow",
    "CdrSummary",
    "CelCall",
    "CelEvent",
    "CelReadStats",
    "ClassifiedCall",
    "HistorySources",
    "Progress",
    "cel_has_events",
    "classify",
    "classify_cel",
    "group_calls",
    "group_cel",
    "iter_db_history",
    "iter_file_history",
    "merge_calls",
    "open_cdr_engine",
    "parse_columns",
    "read_calls",
    "read_cel_calls",
    "read_cel_events",
    "read_db_calls",
    "read_db_cel_calls",
    "read_db_cel_events",
    "read_db_rows",
    "read_rows",
    "summarize",
]
