"""Quoted reply history is trimmed from inbound e-mail; the raw inbox row keeps it all."""

from __future__ import annotations

import base64

import pytest

from cases.intake import inbound_receive
from cases.models import CaseState
from cases.quotes import quoted_history_trim
from customers.models import ContactKind
from tests.factories import CaseFactory, ContactPointFactory

GMAIL = """Thanks, that works for me.

Kim

On Mon, 2 Mar 2026 at 10:15, CPM Service <service@cpm.example> wrote:
> Hello Kim,
>
> your meter reading is in (case C-2026-000042).
>
> Kind regards
"""

GMAIL_WRAPPED = """Yes, Tuesday is fine.

On Mon, 2 Mar 2026 at 10:15, CPM Service Team <
service@cpm.example> wrote:

> Would Tuesday suit you?
"""

THUNDERBIRD_DE = """Guten Tag,

der Zählerstand ist 4711.

Am 02.03.2026 um 10:15 schrieb CPM Service:
> Guten Tag Frau Lee,
> bitte senden Sie uns den Zählerstand.
>> Frühere Nachricht
"""

OUTLOOK_EN = """Please call me back tomorrow.

-----Original Message-----
From: CPM Service <service@cpm.example>
Sent: Monday, March 2, 2026 10:15 AM
To: Kim Lee <kim@example.de>
Subject: Your case C-2026-000042

Hello Kim, we need the meter reading.
"""

OUTLOOK_DE = """Bitte rufen Sie mich an.

Mit freundlichen Grüßen
Kim Lee

________________________________
Von: CPM Service <service@cpm.example>
Gesendet: Montag, 2. März 2026 10:15
An: kim@example.de
Betreff: Ihr Vorgang C-2026-000042

Guten Tag, wir brauchen den Zählerstand.
"""

INLINE = """On Mon, 2 Mar 2026 at 10:15, CPM Service <service@cpm.example> wrote:
> Which meter number?
12345678
> And the reading?
4711
"""

ONLY_QUOTE = """On Mon, 2 Mar 2026 at 10:15, CPM Service <service@cpm.example> wrote:
> Hello Kim
"""

FORWARDED = """See below, my landlord's letter.

---------- Forwarded message ---------
From: Landlord <landlord@example.de>
Date: Mon, 2 Mar 2026
Subject: Heating
To: Kim

The heating will be off on Tuesday.
"""

PLAIN = """On Monday I was not at home; the technician wrote: nothing.
> is how my keyboard starts this line, but more follows.
Kind regards
"""


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (GMAIL, "Thanks, that works for me.\n\nKim"),
        (GMAIL_WRAPPED, "Yes, Tuesday is fine."),
        (THUNDERBIRD_DE, "Guten Tag,\n\nder Zählerstand ist 4711."),
        (OUTLOOK_EN, "Please call me back tomorrow."),
        (OUTLOOK_DE, "Bitte rufen Sie mich an.\n\nMit freundlichen Grüßen\nKim Lee"),
        ("Thanks!\r\n\r\n> Hello Kim\r\n> Regards\r\n", "Thanks!"),
    ],
)
def test_quoted_history_is_cut(text: str, kept: str) -> None:
    assert quoted_history_trim(text) == kept


@pytest.mark.parametrize("text", [INLINE, ONLY_QUOTE, FORWARDED, PLAIN, "", "Just text."])
def test_text_without_bottom_quoted_history_stays_whole(text: str) -> None:
    assert quoted_history_trim(text) == text


@pytest.mark.django_db
def test_intake_records_the_new_part_and_keeps_the_raw_message() -> None:
    case = CaseFactory(reference="C-2026-000042", state=CaseState.OPEN)
    ContactPointFactory(
        customer=case.customer,
        kind=ContactKind.EMAIL,
        value="kim@example.de",
        normalised="kim@example.de",
    )
    payload = {"external_id": "<q1@example.de>", "from": "kim@example.de", "body": OUTLOOK_EN}
    message = inbound_receive(channel="email", payload=payload).message
    assert message.case == case  # the reference in the quote still finds the case
    assert message.interaction.body == "Please call me back tomorrow."
    assert message.payload["body"] == OUTLOOK_EN


@pytest.mark.django_db
def test_a_raw_german_email_is_trimmed_too() -> None:
    raw = (
        "From: Kim Lee <kim@example.de>\r\nTo: service@cpm.example\r\n"
        "Subject: Re: Ihr Vorgang\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + THUNDERBIRD_DE.replace("\n", "\r\n")
    ).encode()
    payload = {"external_id": "<q2@example.de>", "raw": base64.b64encode(raw).decode()}
    message = inbound_receive(channel="email", payload=payload).message
    assert message.interaction.body == "Guten Tag,\n\nder Zählerstand ist 4711."
    assert "Frühere Nachricht" in base64.b64decode(message.payload["raw"]).decode()


@pytest.mark.django_db
def test_other_channels_are_not_trimmed() -> None:
    payload = {"external_id": "s1", "from": "+491511234567", "body": "Ok\n> quoted"}
    message = inbound_receive(channel="sms", payload=payload).message
    assert message.interaction.body == "Ok\n> quoted"
