"""Placeholders in reply templates: `{customer_name}`, `{case_reference}`, `{next_step}`.

Templates are written by admins and filled with customer data, so they are plain text with
a fixed set of names, not template code: a placeholder is `{` + one whitelisted name + `}`
and nothing else (no attribute or index access, no filters, no format specs, no loops).
Substitution is one regular-expression pass, so a value that itself contains `{...}` (a
customer named "{case_reference}") is never substituted again. The result is plain text:
escaped like any other text wherever it is shown, and sent as text/plain.
"""

from __future__ import annotations

import re

PLACEHOLDERS = ("customer_name", "case_reference", "next_step")
BRACED = re.compile(r"\{([^{}]*)\}")


def placeholder_problems(text: str) -> list[str]:
    """The placeholders in `text` that are not allowed (as written), or [] when all are."""
    unknown = [name for name in BRACED.findall(text) if name not in PLACEHOLDERS]
    stray = text.count("{") != text.count("}") or "{{" in text or "}}" in text
    return [f"{{{name}}}" for name in unknown] + (["{ }"] if stray and not unknown else [])


def placeholders_fill(text: str, values: dict[str, str]) -> str:
    """`text` with each allowed placeholder replaced by its value ("" when missing)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values.get(name, "")) if name in PLACEHOLDERS else match.group(0)

    return BRACED.sub(value, text)
