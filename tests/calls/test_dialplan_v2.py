"""The shipped dialplan hook (version 2) sends what the parser and the fixtures expect."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FILES = (
    ROOT / "dialplan" / "freepbx" / "extensions_custom.conf",
    ROOT / "dialplan" / "asterisk" / "extensions_textback.conf",
)
#: Every key of the report, in the order the handler writes them (make_hooked/make_verified).
KEYS = [
    "HookVersion",
    "CallLinkedid",
    "CallUniqueid",
    "DID",
    "CallerID",
    "DialStatus",
    "DialedPeer",
    "AnsweredTime",
    "VMStatus",
    "Mailbox",
    "QueueStatus",
    "Abandoned",
    "Exclude",
    "Disclosure",
    "StirShaken",
    "FromHeader",
    "PAIHeader",
]


def _userevent(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if "UserEvent(TextBack," in ln]
    return line


def _context(text: str, name: str) -> str:
    start = text.index(f"\n[{name}]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end >= 0 else None]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.parent.name)
def test_report_keys_and_filters(path: Path) -> None:
    line = _userevent(path.read_text())
    assert re.findall(r",(\w+): ", line) == KEYS
    assert "HookVersion: 2," in line
    assert ", " not in line.split("UserEvent(", 1)[1]  # a space after a comma joins the key
    # The caller-controlled values are FILTERed to characters without a comma.
    for variable in ("TEXTBACK_SS", "TEXTBACK_FROM", "TEXTBACK_PAI"):
        assert re.search(r"\$\{FILTER\([^,]+,\$\{" + variable + r"\}\)\}", line), variable


def test_both_files_ship_the_same_hook() -> None:
    freepbx, plain = (p.read_text() for p in FILES)
    assert _userevent(freepbx).strip() == _userevent(plain).strip()
    for name in ("textback-verify", "textback-disclosure", "textback-disclosure-early"):
        strip = [ln for ln in _context(freepbx, name).splitlines() if not ln.startswith(";")]
        other = [ln for ln in _context(plain, name).splitlines() if not ln.startswith(";")]
        assert strip == other, name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.parent.name)
def test_verify_runs_once_on_arming_and_cuts_headers(path: Path) -> None:
    text = path.read_text()
    arm = _context(text, "textback-arm")
    assert arm.index("hangup_handler_push") < arm.index("Gosub(textback-verify,s,1)")
    verify = _context(text, "textback-verify")
    assert 'IFMODULE(res_stir_shaken.so)}" != "1"' in verify
    assert verify.count("${TB_H:0:200}") == 2
    assert "PJSIP_HEADER(read,From)" in verify
    assert "PJSIP_HEADER(read,P-Asserted-Identity)" in verify
    for name in ("textback-disclosure", "textback-disclosure-early"):
        body = _context(text, name)
        # Marked only after Playback finished.
        assert body.index("Playback(") < body.index('"${PLAYBACKSTATUS}" = "SUCCESS"')
    assert "Answer()" in _context(text, "textback-disclosure")
    early = _context(text, "textback-disclosure-early")
    assert "Answer()" not in early
    assert ",noanswer)" in early
