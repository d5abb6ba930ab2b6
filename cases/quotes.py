"""Trimming the quoted reply history from inbound e-mail text.

Customers answer above the whole earlier conversation, so each reply would repeat every
message before it on the timeline. Intake keeps the message as delivered in the raw inbox
row (`InboundMessage.payload`) and records only the new part on the interaction. It cuts:

- a reply header ("On Mon, 3 Mar 2026, Kim <kim@example.de> wrote:", "Am 03.03.2026 um
  10:00 schrieb Kim:", also wrapped over two lines) when every non-empty line after it is
  quoted with ">" (bottom quoting; an answer written between the quotes stays whole);
- Outlook's "-----Original Message-----" / "-----Ursprüngliche Nachricht-----" and
  everything after it;
- Outlook's header block without separator ("From:"/"Von:" followed by "Sent:"/"Gesendet:"
  or "Date:"/"Datum:" and "To:"/"An:" or "Subject:"/"Betreff:"), with a line of underscores
  just above it;
- a final run of ">" lines.

When nothing would be left (a message that is only a quote), the text stays as it is. A
forwarded message is not history (it is what the customer wants us to read): it stays.
"""

from __future__ import annotations

import re

HEADER_START = re.compile(r"^\s*(On|Am)\s", re.IGNORECASE)
HEADER_END = re.compile(r"(wrote|schrieb[^:\n]*|a écrit)\s*:\s*$", re.IGNORECASE)
ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
FORWARDED = re.compile(
    r"^\s*(-{2,}\s*(Forwarded message|Weitergeleitete Nachricht)\s*-{2,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:)",
    re.IGNORECASE,
)
OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Von)\s*:\*?\s*\S", re.IGNORECASE)
OUTLOOK_SENT = re.compile(r"^\s*\*?(Sent|Gesendet|Date|Datum)\s*:", re.IGNORECASE)
OUTLOOK_TO = re.compile(r"^\s*\*?(To|An|Subject|Betreff|Cc)\s*:", re.IGNORECASE)
UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
SCAN_LIMIT = 100_000


def is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def header_at(lines: list[str], index: int) -> int:
    """How many lines the reply header at `index` spans (1 or 2), or 0 when there is none."""
    line = lines[index]
    if not HEADER_START.match(line) or len(line) > 300:
        return 0
    if HEADER_END.search(line):
        return 1
    if index + 1 < len(lines) and HEADER_END.search(lines[index + 1]):
        return 2
    return 0


def outlook_block_at(lines: list[str], index: int) -> bool:
    if not OUTLOOK_FROM.match(lines[index]):
        return False
    following = lines[index + 1 : index + 5]
    return any(OUTLOOK_SENT.match(x) for x in following) and any(
        OUTLOOK_TO.match(x) for x in following
    )


def history_start(lines: list[str]) -> int | None:
    """The index of the first line of quoted history, or None."""
    # quoted_from[i]: the non-empty lines from i on are all quoted, and there is one (linear
    # time, so a hostile message of many header-like lines costs no more than a long one).
    quoted_from = [False] * (len(lines) + 1)
    seen = False
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.strip():
            quoted_from[index] = is_quoted(line) and (quoted_from[index + 1] or not seen)
            seen = True
        else:
            quoted_from[index] = quoted_from[index + 1]
    for index in range(len(lines)):
        if FORWARDED.match(lines[index]):
            return None  # what follows is content, not history
        if ORIGINAL.match(lines[index]):
            return index
        if outlook_block_at(lines, index):
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            return above if above >= 0 and UNDERSCORES.match(lines[above]) else index
        span = header_at(lines, index)
        if span and quoted_from[index + span]:
            return index
    # No header: a trailing run of quoted lines.
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (is_quoted(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    return start if start < end and any(is_quoted(x) for x in lines[start:end]) else None


def quoted_history_trim(text: str) -> str:
    """The text without the quoted history (unchanged when there is none, or only that)."""
    if len(text) > SCAN_LIMIT:
        return text
    lines = text.replace("\r\n", "\n").split("\n")
    start = history_start(lines)
    if start is None:
        return text
    kept = "\n".join(lines[:start]).rstrip()
    return kept if kept.strip() else text
