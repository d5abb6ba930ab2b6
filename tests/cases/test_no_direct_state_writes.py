"""Nothing but the transitions writes the case state (STYLE.md): scan the code for shortcuts."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["cases", "customers", "guidance", "cpm"]
# Bulk writes and raw assignments that would bypass the life cycle.
FORBIDDEN = [
    re.compile(r"\.update\([^)]*\bstate\s*="),
    re.compile(r"\bcase\w*\.state\s*=[^=]"),
    re.compile(r"UPDATE\s+\w*case\w*\s+SET\s+state", re.IGNORECASE),
    re.compile(r"setattr\([^,]+,\s*[\"']state[\"']"),
]
# The demo seed builds cases in their starting state, as factories do.
ALLOWED = {ROOT / "cpm" / "demo.py"}


def python_sources() -> list[Path]:
    return [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and path not in ALLOWED
    ]


def test_no_code_outside_transitions_writes_the_case_state() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in python_sources()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if any(pattern.search(line) for pattern in FORBIDDEN)
    ]
    assert offences == []


def test_the_scan_would_catch_a_direct_write() -> None:
    samples = ['Case.objects.filter(pk=1).update(state="closed")', "case.state = 'closed'"]
    assert all(any(p.search(sample) for p in FORBIDDEN) for sample in samples)
