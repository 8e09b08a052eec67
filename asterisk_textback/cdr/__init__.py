"""Call history from Asterisk CDR (``Master.csv`` or ``asteriskcdrdb``): answered vs missed.

CDR counts answered vs missed reliably once the rows of a call are grouped and the
"ANSWERED is not a person" trap is avoided (see ``model.py``); it cannot tell a left
voicemail from a greeting hang-up: that split needs the AMI record, CEL or the voicemail spool.
"""

from asterisk_textback.cdr.csvfile import CdrFormatError, Progress, read_calls, read_rows
from asterisk_textback.cdr.database import open_cdr_engine, read_db_calls, read_db_rows
from asterisk_textback.cdr.model import (
    INBOUND_CONTEXT_PREFIXES,
    PERSON_APPS,
    CdrCall,
    CdrDirection,
    CdrOutcome,
    CdrRow,
    CdrSummary,
    classify,
    group_calls,
    summarize,
)

__all__ = [
    "INBOUND_CONTEXT_PREFIXES",
    "PERSON_APPS",
    "CdrCall",
    "CdrDirection",
    "CdrFormatError",
    "CdrOutcome",
    "CdrRow",
    "CdrSummary",
    "Progress",
    "classify",
    "group_calls",
    "open_cdr_engine",
    "read_calls",
    "read_db_calls",
    "read_db_rows",
    "read_rows",
    "summarize",
]
