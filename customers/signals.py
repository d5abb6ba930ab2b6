"""Signals that let apps to the right of `customers` (which it must not import) take part
in merging, erasing and exporting a customer. Each is sent inside the service's
transaction, so a receiver's failure rolls the whole action back.

Receivers today: `cases.receivers` (cases, case events, guided runs). An app that stores
rows with a customer id or personal text about a customer must connect to all four, or
the erasure test (tests/customers/test_privacy.py) finds what it left behind.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: source, target (Customer). Move your rows from source to target and return
# {"app_label.model": [ids moved]}; the dict is kept on the CustomerMerge for the undo.
customer_merging = Signal()

# kwargs: source, target, moved (the merged dict of all receivers). Move those ids back.
customer_unmerging = Signal()

# kwargs: customer. Anonymise personal values of your rows about this customer; keep the
# rows and their non-personal fields (states, times, kinds), which statistics count.
customer_erasing = Signal()

# kwargs: customer. Return {"section name": [plain JSON-able dicts]} for the export.
customer_exporting = Signal()
