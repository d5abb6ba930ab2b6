"""Every URL, for every role: the expected status. A new URL without an entry here fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cpm.roles import Role
from guidance.services import draft_create, process_import
from tests.conftest import user_with_role
from tests.factories import CaseFactory, ContactPointFactory, InteractionFactory, OfferFactory

PROCESS = (Path(__file__).resolve().parents[2] / "guidance/processes/complaint.yaml").read_text()
ANON = "anonymous"
NOBODY = "nobody"
ROLES = [ANON, NOBODY, Role.AGENT, Role.SUPERVISOR, Role.ADMIN]

DESK = {ANON: 302, NOBODY: 403, Role.AGENT: 200, Role.SUPERVISOR: 200, Role.ADMIN: 200}
PUBLIC = dict.fromkeys(ROLES, 200)
WORK_400 = {**DESK, Role.AGENT: 400, Role.SUPERVISOR: 400, Role.ADMIN: 400}
WORK_409 = {**DESK, Role.AGENT: 409, Role.SUPERVISOR: 409, Role.ADMIN: 409}
SUPERVISE = {**DESK, Role.AGENT: 403}
SUPERVISE_404 = {**SUPERVISE, Role.SUPERVISOR: 404, Role.ADMIN: 404}
EDIT = {ANON: 302, NOBODY: 403, Role.AGENT: 400, Role.SUPERVISOR: 400, Role.ADMIN: 400}
# The process editor: the Admin role only.
EDITOR = {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 403, Role.ADMIN: 200}
EDITOR_REDIRECT = {**EDITOR, Role.ADMIN: 302}  # a POST without htmx redirects to the page
EDITOR_BAD_REQUEST = {**EDITOR, Role.ADMIN: 400}  # without ?name= of the input to read
VERSION = {"pk": "version"}
STEP = {"pk": "version", "key": "step"}

# name -> (method, kwargs from the fixture data, expected status per role)
EXPECTED: dict[str, tuple[str, dict[str, str], dict[str, int]]] = {
    "home": ("get", {}, DESK),
    "search": ("get", {}, DESK),
    "health": ("get", {}, PUBLIC),
    "login": (
        "get",
        {},
        {ANON: 200, NOBODY: 302, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "logout": (
        "post",
        {},
        {ANON: 302, NOBODY: 302, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "set_language": ("post", {}, dict.fromkeys(ROLES, 302)),
    "customers:customer-detail": ("get", {"pk": "customer"}, DESK),
    "customers:customer-timeline": ("get", {"pk": "customer"}, DESK),
    "customers:customer-header": ("get", {"pk": "customer"}, DESK),
    "customers:contact-points": ("get", {"pk": "customer"}, DESK),
    "customers:address": ("get", {"pk": "customer"}, DESK),
    "customers:holdings": ("get", {"pk": "customer"}, DESK),
    "customers:billing": ("get", {"pk": "customer"}, DESK),
    "customers:customer-export": ("get", {"pk": "customer"}, SUPERVISE),
    "customers:customer-export-json": ("get", {"pk": "customer"}, SUPERVISE),
    # Without the customer number as confirmation: back to the export page, nothing erased.
    "customers:customer-erase": (
        "post",
        {"pk": "customer"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "customers:customer-duplicates": ("get", {"pk": "customer"}, SUPERVISE),
    # No `source`: a 404 after the permission check.
    "customers:customer-merge": ("post", {"pk": "customer"}, SUPERVISE_404),
    "customers:merge-undo": ("post", {"merge_pk": "0"}, SUPERVISE_404),
    # Master-data writes: an empty form is refused with 400 by everyone who may edit.
    "customers:contact-point-save": ("post", {"pk": "customer"}, EDIT),
    "customers:contact-point-remove": (
        "post",
        {"pk": "customer", "contact_pk": "contact"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "customers:address-save": ("post", {"pk": "customer"}, EDIT),
    # The customer's own fields: an empty form is refused with 400 (segment and status are
    # checked per role in tests/customers/test_customer_edit.py).
    "customers:customer-save": ("post", {"pk": "customer"}, EDIT),
    "customers:holding-payment-save": ("post", {"pk": "customer"}, EDIT),
    "cases:customer-cases": ("get", {"customer_id": "customer"}, DESK),
    "cases:case-detail": ("get", {"reference": "case"}, DESK),
    "cases:customer-offers": ("get", {"customer_id": "customer"}, DESK),
    # No offer chosen: refused with a message, back to the customer.
    "cases:offer-outcome-save": (
        "post",
        {"customer_id": "customer"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "cases:offer-report": ("get", {}, SUPERVISE),
    # The offer catalog: the Admin role only.
    "cases:offer-catalog": ("get", {}, EDITOR),
    "cases:offer-create": ("get", {}, EDITOR),
    "cases:offer-edit": ("get", {"pk": "offer"}, EDITOR),
    "cases:offer-rule-check": ("post", {}, EDITOR),  # empty rule: an empty answer
    "cases:offer-activate": ("post", {"pk": "offer"}, EDITOR_REDIRECT),  # retired, back
    # Agents may open a case; the transition itself is checked per role in test_transitions.
    "cases:case-transition": (
        "post",
        {"reference": "case", "name": "open"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "cases:case-guided": ("get", {"reference": "case"}, DESK),
    # Without a process key the start is refused with a 400 (the role may still use it).
    "cases:case-guided-start": ("post", {"reference": "case"}, WORK_400),
    "cases:case-guided-submit": ("post", {"reference": "case"}, WORK_409),
    "cases:case-guided-back": ("post", {"reference": "case"}, WORK_409),
    "cases:decisions": ("get", {}, SUPERVISE),
    "cases:decision-make": ("post", {"run_id": "0"}, SUPERVISE_404),
    "cases:case-history": ("get", {"reference": "case"}, DESK),
    # A plain form post: redirects back to the case; an empty note only adds a message.
    "cases:case-note-add": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "cases:case-assign": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    # Nobody is in a team here, so it goes home with "no case waiting".
    "cases:case-get-next": (
        "post",
        {},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "cases:team-queue": ("get", {}, DESK),
    "cases:escalation-inbox": (
        "get",
        {},
        {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 200, Role.ADMIN: 200},
    ),
    "cases:case-links": ("get", {"reference": "case"}, DESK),
    # An empty reference: back to the case with a message.
    "cases:case-link-add": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    # The fixture case is new: refused with a message, back to the case.
    "cases:case-follow-up": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "cases:case-merge-panel": ("get", {"reference": "case"}, DESK),
    # No reference given: refused with a message, back to the case.
    "cases:case-merge": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    # Supervisors and admins only; the fixture case is not merged: back with a message.
    "cases:case-unmerge": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    "cases:case-lifecycle": (
        "get",
        {},
        {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 403, Role.ADMIN: 200},
    ),
    # No such exception here: supervisors pass the permission check and get a 404.
    "cases:exception-decide": (
        "post",
        {"pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    "guidance:process-list": ("get", {}, EDITOR),
    "guidance:process-import": ("get", {}, EDITOR),
    "guidance:process-draft": ("post", {"key": "process"}, EDITOR_REDIRECT),
    "guidance:markdown-preview": ("post", {}, EDITOR_BAD_REQUEST),
    "guidance:version-detail": ("get", VERSION, EDITOR),
    "guidance:version-export": ("get", VERSION, EDITOR),
    "guidance:version-graph": ("get", VERSION, EDITOR),
    "guidance:version-problems": ("get", VERSION, EDITOR),
    "guidance:version-diff": ("get", VERSION, EDITOR),
    "guidance:version-publish": ("post", VERSION, EDITOR_REDIRECT),
    "guidance:version-testrun": ("get", VERSION, EDITOR),
    "guidance:rule-check": ("post", VERSION, EDITOR_BAD_REQUEST),
    "guidance:step-add": ("post", VERSION, EDITOR_REDIRECT),
    "guidance:step-editor": ("get", STEP, EDITOR_REDIRECT),  # without htmx: the page
    "guidance:step-save": ("post", STEP, {**EDITOR, Role.ADMIN: 422}),  # empty: invalid
    "guidance:step-move": ("post", STEP, EDITOR_REDIRECT),
    "guidance:step-remove": ("post", STEP, EDITOR_REDIRECT),
    # Not an intake exception: supervisors pass the permission check and get a 404.
    "cases:exception-reprocess": (
        "post",
        {"pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 403, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    # Linking an unknown sender is desk work: every role that works cases passes the
    # permission check; no such to-identify item here, so a 404.
    "cases:exception-identify": (
        "post",
        {"pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 404, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    # No such message on the fixture case: a 404 for everyone who may work cases.
    "cases:inbound-confirm": (
        "post",
        {"reference": "case", "pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 404, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    # No such file on the fixture case: a 404 for every desk role, log-in first.
    "cases:attachment-download": (
        "get",
        {"reference": "case", "pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 404, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    "cases:case-reply-form": ("get", {"reference": "case"}, DESK),
    "cases:case-replies": ("get", {"reference": "case"}, DESK),
    "cases:case-messages": ("get", {"reference": "case"}, DESK),
    # A plain form post without a channel: refused with a message, back to the case.
    "cases:case-reply-send": (
        "post",
        {"reference": "case"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 302},
    ),
    # No such message or move on the fixture case: a 404 for everyone who may work cases.
    "cases:inbound-move": (
        "post",
        {"reference": "case", "pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 404, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    "cases:inbound-move-undo": (
        "post",
        {"reference": "case", "pk": "999999"},
        {ANON: 302, NOBODY: 403, Role.AGENT: 404, Role.SUPERVISOR: 404, Role.ADMIN: 404},
    ),
    # The intake API: a channel key, never a session, so without one it is 401 for everyone.
    "api:inbound": ("post", {"channel": "email"}, dict.fromkeys(ROLES, 401)),
    "api:inbound-batch": ("post", {"channel": "email"}, dict.fromkeys(ROLES, 401)),
    "api:openapi-json": ("get", {}, PUBLIC),
    # ninja's root only serves to locate the API: a 404 naming the docs.
    "api:api-root": ("get", {}, dict.fromkeys(ROLES, 404)),
    "api:openapi-view": ("get", {}, PUBLIC),
    # Django's admin site: only the Admin role (staff) gets in; others see its log-in page.
    "admin:index": (
        "get",
        {},
        {ANON: 302, NOBODY: 302, Role.AGENT: 302, Role.SUPERVISOR: 302, Role.ADMIN: 200},
    ),
}


def url_names(patterns: list, namespace: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            if inner == "admin:":
                yield "admin:index"  # the admin site is one access rule: staff only
                continue
            yield from url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_url_has_an_expected_status_per_role() -> None:
    names = set(url_names(get_resolver().url_patterns))
    assert names - set(EXPECTED) == set(), "add the new URL to EXPECTED with its status per role"
    assert set(EXPECTED) - names == set(), "EXPECTED names a URL that no longer exists"


def client_for(role: str) -> Client:
    client = Client()
    if role != ANON:
        client.force_login(
            user_with_role(f"user-{role}".lower(), None if role == NOBODY else Role(role))
        )
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_url_answers_role_as_expected(name: str, role: str) -> None:
    method, kwargs, statuses = EXPECTED[name]
    case = CaseFactory()
    InteractionFactory(customer=case.customer)
    contact = ContactPointFactory(customer=case.customer)
    draft = draft_create(definition=process_import(text=PROCESS, by=None).definition, by=None)
    values = {
        "customer": str(case.customer.pk),
        "case": case.reference,
        "contact": str(contact.pk),
        "offer": str(OfferFactory().pk),
        **{"version": str(draft.pk), "step": "capture", "process": draft.definition.key},
    }
    url = reverse(name, kwargs={k: values.get(v, v) for k, v in kwargs.items()})
    data = {"language": "de", "next": "/"} if name == "set_language" else {}
    response = getattr(client_for(role), method)(url, data)
    assert response.status_code == statuses[role], f"{method.upper()} {url} as {role}"
    if (
        statuses[role] == 302
        and role == ANON
        and name not in ("logout", "set_language", "admin:index")
    ):
        assert response["Location"].startswith(reverse("login"))
