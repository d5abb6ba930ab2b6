"""Editing the customer's own fields in the cockpit's header: the service (only what the
agent changed, checked, in the change log; conflicts) and the views (htmx and plain form)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from customers.models import (
    Channel,
    ContactKind,
    CustomerChange,
    CustomerKind,
    CustomerStatus,
    Language,
    Segment,
)
from customers.services import (
    CustomerConflict,
    customer_edit,
    customer_fields_for,
    customer_update,
    text,
)
from tests.factories import AddressFactory, ContactPointFactory, CustomerFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
AGENT_FIELDS = [
    "name",
    "date_of_birth",
    "register_number",
    "language",
    "preferred_channel",
    "consent_service",
    "consent_marketing",
]


@pytest.fixture
def customer(db):
    return CustomerFactory(
        name="Anna Müller",
        date_of_birth=date(1980, 5, 1),
        language=Language.GERMAN,
        consent_marketing=False,
    )


def seen_of(customer, names=None) -> dict[str, str]:
    return {name: text(getattr(customer, name)) for name in names or AGENT_FIELDS}


def edit(customer, by, **changes):
    return customer_edit(customer=customer, by=by, changes=changes, seen=seen_of(customer))


# The service


def test_only_the_changed_fields_are_saved_and_each_is_in_the_change_log(customer, agent):
    edit(customer, agent, name="Anna Müller", language="en", consent_marketing=True)
    customer.refresh_from_db()
    assert (customer.language, customer.consent_marketing) == ("en", True)
    rows = CustomerChange.objects.filter(customer=customer).order_by("field")
    assert [(r.field, r.old, r.new, r.by) for r in rows] == [
        ("consent_marketing", "False", "True", agent),
        ("language", "de", "en", agent),
    ]
    assert all(r.entity == "customer" and r.entity_id == customer.pk for r in rows)
    assert all(abs(r.at - timezone.now()) < timedelta(minutes=1) for r in rows)


def test_withdrawing_a_consent_is_recorded_like_any_change(customer, agent):
    customer = customer_update(customer=customer, by=None, consent_service=True)
    edit(customer, agent, consent_service=False)
    row = CustomerChange.objects.filter(field="consent_service").latest("id")
    assert (row.old_display, row.new_display, row.by) == ("yes", "no", agent)


def test_name_is_required_and_its_spaces_are_tidied(customer, agent):
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, name="   ")
    assert error.value.message_dict == {"name": ["Give the customer's name."]}
    edit(customer, agent, name="  Anna   Schmidt ")
    customer.refresh_from_db()
    assert customer.name == "Anna Schmidt"


def test_a_date_of_birth_in_the_future_is_refused(customer, agent):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, date_of_birth=tomorrow)
    assert error.value.message_dict["date_of_birth"] == [
        "The date of birth cannot be in the future."
    ]
    customer.refresh_from_db()
    assert customer.date_of_birth == date(1980, 5, 1)


def test_a_date_of_birth_over_120_years_ago_is_called_a_typo(customer, agent):
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, date_of_birth=date(1890, 1, 1))
    assert "more than 120 years ago" in error.value.message_dict["date_of_birth"][0]


def test_a_date_of_birth_can_be_cleared(customer, agent):
    edit(customer, agent, date_of_birth=None)
    customer.refresh_from_db()
    assert customer.date_of_birth is None
    change = CustomerChange.objects.get(field="date_of_birth")
    assert (change.old, change.old_display, change.new_display) == ("1980-05-01", "05/01/1980", "")


def test_only_an_organisation_has_a_register_number(customer, agent, db):
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, register_number="HRB 1")
    assert error.value.message_dict["register_number"] == [
        "Only an organisation has a register number."
    ]
    company = CustomerFactory(kind=CustomerKind.ORGANISATION, name="Müller GmbH")
    with pytest.raises(ValidationError) as error:
        edit(company, agent, register_number="HRB #12")
    assert "letters, digits, spaces" in error.value.message_dict["register_number"][0]
    edit(company, agent, register_number=" hrb  12345  b ")
    company.refresh_from_db()
    assert company.register_number == "HRB 12345 B"
    with pytest.raises(ValidationError) as error:
        edit(company, agent, date_of_birth=date(2000, 1, 1))
    assert error.value.message_dict["date_of_birth"] == ["Only a person has a date of birth."]


@pytest.mark.parametrize(
    ("channel", "message", "contact"),
    [
        (Channel.PHONE, "no phone number on file", ContactKind.PHONE),
        (Channel.SMS, "SMS needs a mobile number", ContactKind.MOBILE),
        (Channel.EMAIL, "no e-mail address on file", ContactKind.EMAIL),
        (Channel.SOCIAL, "no social media or messenger handle", ContactKind.MESSENGER),
    ],
)
def test_a_preferred_channel_needs_a_way_to_reach_the_customer_on_it(
    customer, agent, channel, message, contact
):
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, preferred_channel=channel)
    assert message in error.value.message_dict["preferred_channel"][0]
    ContactPointFactory(customer=customer, kind=contact, value="x", normalised=f"{contact}:x")
    edit(customer, agent, preferred_channel=channel)
    customer.refresh_from_db()
    assert customer.preferred_channel == channel


def test_sms_is_not_possible_on_a_landline(customer, agent):
    ContactPointFactory(customer=customer, kind=ContactKind.PHONE)
    with pytest.raises(ValidationError):
        edit(customer, agent, preferred_channel=Channel.SMS)


def test_letters_need_a_current_address(customer, agent):
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, preferred_channel=Channel.LETTER)
    assert "current address" in error.value.message_dict["preferred_channel"][0]
    AddressFactory(customer=customer)
    edit(customer, agent, preferred_channel=Channel.LETTER)


@pytest.mark.parametrize("channel", ["", Channel.CHAT, Channel.WEBFORM, Channel.VISIT])
def test_channels_the_customer_starts_need_nothing_on_file(customer, agent, channel):
    customer = customer_update(customer=customer, by=None, preferred_channel=Channel.EMAIL)
    edit(customer, agent, preferred_channel=channel)
    customer.refresh_from_db()
    assert customer.preferred_channel == channel


def test_an_unreachable_old_preference_does_not_block_other_changes(customer, agent):
    customer = customer_update(customer=customer, by=None, preferred_channel=Channel.SMS)
    edit(customer, agent, preferred_channel=Channel.SMS, language="en")
    customer.refresh_from_db()
    assert customer.language == "en"


def test_an_unknown_language_is_refused_by_the_model(customer, agent):
    with pytest.raises(ValidationError) as error:
        edit(customer, agent, language="fr")
    assert "language" in error.value.message_dict


def test_agents_may_not_change_segment_or_status(customer, agent, supervisor, admin_user):
    assert "segment" not in customer_fields_for(agent)
    assert "status" not in customer_fields_for(agent)
    seen = seen_of(customer, ["segment", "status"])
    with pytest.raises(PermissionDenied):
        customer_edit(customer=customer, by=agent, changes={"segment": "premium"}, seen=seen)
    with pytest.raises(PermissionDenied):
        customer_edit(customer=customer, by=agent, changes={"status": "blocked"}, seen=seen)
    for user, segment in [(supervisor, Segment.BUSINESS), (admin_user, Segment.PREMIUM)]:
        changes = {"segment": segment, "status": CustomerStatus.FORMER}
        seen = seen_of(customer, ["segment", "status"])
        customer = customer_edit(customer=customer, by=user, changes=changes, seen=seen)
        assert (customer.segment, customer.status) == (segment, "former")
    assert CustomerChange.objects.filter(field="segment").count() == 2


def test_an_agent_may_post_segment_unchanged(customer, agent):
    seen = seen_of(customer, ["segment", "language"])
    changes = {"segment": customer.segment, "language": "en"}
    assert customer_edit(customer=customer, by=agent, changes=changes, seen=seen).language == "en"


def test_an_erased_or_merged_customer_cannot_be_edited(customer, agent):
    customer.erased_at = timezone.now()
    customer.save()
    with pytest.raises(ValidationError, match="erased"):
        edit(customer, agent, language="en")
    kept = CustomerFactory()
    customer.erased_at = None
    customer.merged_into = kept
    customer.save()
    with pytest.raises(ValidationError, match="merged into another customer"):
        edit(customer, agent, language="en")


# Two agents at once


def test_the_second_agent_changing_the_same_field_gets_a_conflict_and_nothing_is_saved(
    customer, agent, supervisor
):
    seen = seen_of(customer)  # both opened the form now
    customer_edit(customer=customer, by=supervisor, changes={"name": "Anna Schmidt"}, seen=seen)
    with pytest.raises(CustomerConflict) as conflict:
        customer_edit(
            customer=customer,
            by=agent,
            changes={"name": "Anna Meier", "consent_marketing": True},
            seen=seen,
        )
    assert conflict.value.fields == ["name"]
    assert conflict.value.customer.name == "Anna Schmidt"  # the current values come with it
    customer.refresh_from_db()
    assert (customer.name, customer.consent_marketing) == ("Anna Schmidt", False)
    assert CustomerChange.objects.filter(by=agent).count() == 0


def test_changes_to_different_fields_both_survive(customer, agent, supervisor):
    seen = seen_of(customer)
    customer_edit(customer=customer, by=supervisor, changes={"consent_marketing": True}, seen=seen)
    # The agent's form still shows marketing "no": posted unchanged, it is not written back.
    customer_edit(
        customer=customer,
        by=agent,
        changes={"language": "en", "consent_marketing": False},
        seen=seen,
    )
    customer.refresh_from_db()
    assert (customer.language, customer.consent_marketing) == ("en", True)


def test_the_same_change_twice_is_no_conflict(customer, agent, supervisor):
    seen = seen_of(customer)
    customer_edit(customer=customer, by=supervisor, changes={"language": "en"}, seen=seen)
    customer_edit(customer=customer, by=agent, changes={"language": "en"}, seen=seen)
    assert CustomerChange.objects.filter(field="language").count() == 1


# The views


def header_url(customer) -> str:
    return reverse("customers:customer-header", args=[customer.pk])


def save_url(customer) -> str:
    return reverse("customers:customer-save", args=[customer.pk])


def form_data(customer, **changes) -> dict[str, str]:
    """What the agent's header form posts: every field, the changed ones changed."""
    data = {
        "name": customer.name,
        "date_of_birth": text(customer.date_of_birth),
        "language": customer.language,
        "preferred_channel": customer.preferred_channel,
        "seen": json.dumps(seen_of(customer)),
    }
    data.update(
        {name: "on" for name in ("consent_service", "consent_marketing") if getattr(customer, name)}
    )
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def test_the_header_has_an_edit_button_that_swaps_in_the_form(agent_client, customer):
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    assert f'hx-get="{header_url(customer)}?edit=1"' in page
    response = agent_client.get(header_url(customer), {"edit": "1"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<section id="customer-{customer.pk}-header"')
    assert 'name="language"' in body and 'name="consent_marketing"' in body
    assert 'value="1980-05-01"' in body and 'name="seen"' in body
    assert 'name="segment"' not in body and 'name="status"' not in body  # an agent
    assert 'name="register_number"' not in body  # a person
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_supervisors_get_segment_and_status_on_the_form(supervisor_client, customer):
    body = supervisor_client.get(header_url(customer), {"edit": "1"}, **HTMX).content.decode()
    assert 'name="segment"' in body and 'name="status"' in body


def test_an_organisation_gets_the_register_number_instead_of_the_birth_date(agent_client):
    company = CustomerFactory(kind=CustomerKind.ORGANISATION)
    body = agent_client.get(header_url(company), {"edit": "1"}, **HTMX).content.decode()
    assert 'name="register_number"' in body and 'name="date_of_birth"' not in body


def test_saving_answers_the_header_and_tells_the_timeline(agent_client, customer, agent):
    data = form_data(customer, language="en", consent_marketing=True)
    response = agent_client.post(save_url(customer), data, **HTMX)
    assert response.status_code == 200
    assert "customer:changed" in response["HX-Trigger"]
    body = response.content.decode()
    assert "English" in body and "marketing: yes" in body and "<form" not in body
    timeline = agent_client.get(reverse("customers:customer-timeline", args=[customer.pk]))
    text_ = timeline.content.decode()
    assert "consent to marketing" in text_ and "language" in text_
    assert "<del>German</del> → <ins>English</ins>" in text_
    assert CustomerChange.objects.filter(by=agent).count() == 2


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
        ({"date_of_birth": "1.2.x"}, "date_of_birth", "Enter a valid date."),
        ({"language": "fr"}, "language", "Select a valid choice."),
        ({"preferred_channel": "sms"}, "preferred_channel", "SMS needs a mobile number"),
        ({"preferred_channel": "pigeon"}, "preferred_channel", "Select a valid choice."),
    ],
)
def test_an_invalid_value_is_refused_with_a_specific_message_and_kept_in_the_form(
    agent_client, customer, changes, field, message
):
    response = agent_client.post(save_url(customer), form_data(customer, **changes), **HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert f'id="customer-{customer.pk}-header"' in body and "<form" in body
    assert not CustomerChange.objects.exists()


def test_a_form_without_what_it_showed_is_refused(agent_client, customer):
    data = form_data(customer, language="en")
    data["seen"] = "not json"
    response = agent_client.post(save_url(customer), data, **HTMX)
    assert response.status_code == 400
    assert "Open it again" in response.content.decode()


def test_an_agent_posting_a_segment_changes_nothing_about_it(agent_client, customer):
    data = form_data(customer, language="en", segment="premium", status="blocked")
    assert agent_client.post(save_url(customer), data, **HTMX).status_code == 200
    customer.refresh_from_db()
    assert (customer.segment, customer.status, customer.language) == ("private", "active", "en")


def test_a_supervisor_changes_segment_and_status(supervisor_client, customer):
    data = form_data(customer, segment="premium", status="blocked")
    data["seen"] = json.dumps(seen_of(customer, [*AGENT_FIELDS, "segment", "status"]))
    response = supervisor_client.post(save_url(customer), data, **HTMX)
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.segment, customer.status) == ("premium", "blocked")
    assert 'data-flag="vip"' in response.content.decode()  # premium makes a VIP


def test_a_conflict_shows_the_current_values_and_keeps_what_was_typed(
    agent_client, customer, supervisor
):
    data = form_data(customer, name="Anna Meier", consent_marketing=True)  # opened before
    changes = {"name": "Anna Schmidt", "language": "en"}
    customer_edit(customer=customer, by=supervisor, changes=changes, seen=seen_of(customer))
    response = agent_client.post(save_url(customer), data, **HTMX)
    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone else changed this customer" in body
    assert 'data-conflict="name"' in body and "<strong>Anna Schmidt</strong>" in body
    assert 'data-conflict="language"' not in body  # the agent left the language alone
    assert "(supervisor," in body
    assert 'value="Anna Meier"' in body  # what the agent typed stays
    assert '<option value="en" selected>' in body  # a field the agent left: the current value
    customer.refresh_from_db()
    assert (customer.name, customer.consent_marketing) == ("Anna Schmidt", False)
    # Saving the form again applies exactly the agent's changes over the current record.
    assert agent_client.post(save_url(customer), parse_form(body), **HTMX).status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.language, customer.consent_marketing) == (
        "Anna Meier",
        "en",
        True,
    )


def parse_form(body: str) -> dict[str, str]:
    """The values a browser would post from the re-rendered form."""
    from html.parser import HTMLParser

    values: dict[str, str] = {}

    class Form(HTMLParser):
        select: str | None = None

        def handle_starttag(self, tag, attrs):
            attr = dict(attrs)
            if tag == "input" and attr.get("name") and attr.get("name") != "csrfmiddlewaretoken":
                if attr.get("type") == "checkbox":
                    if "checked" in attr:
                        values[attr["name"]] = "on"
                else:
                    values[attr["name"]] = attr.get("value") or ""
            elif tag == "select":
                self.select = attr["name"]
            elif tag == "option" and self.select and "selected" in attr:
                values[self.select] = attr.get("value") or ""

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None

    Form().feed(body)
    return values


def test_without_js_the_edit_link_and_the_form_work_as_plain_pages(agent_client, customer):
    page = agent_client.get(header_url(customer), {"edit": "1"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "<html" in body and 'name="consent_marketing"' in body
    assert f'id="customer-{customer.pk}-timeline"' in body  # the whole cockpit
    bad = agent_client.post(save_url(customer), form_data(customer, date_of_birth="2999-01-01"))
    assert bad.status_code == 400 and "<html" in bad.content.decode()
    assert "cannot be in the future" in bad.content.decode()
    ok = agent_client.post(save_url(customer), form_data(customer, language="en"))
    assert ok.status_code == 302 and ok["Location"] == customer.get_absolute_url()


def test_nobody_without_the_permission_sees_the_edit_button(client, customer, nobody):
    from django.contrib.auth.models import Permission

    nobody.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(nobody)
    page = client.get(customer.get_absolute_url()).content.decode()
    assert "?edit=1" not in page.split("customer-header")[1].split("</section>")[0]
    assert client.post(save_url(customer), form_data(customer)).status_code == 403
    form = client.get(header_url(customer), {"edit": "1"}, **HTMX).content.decode()
    assert "<form" not in form


def test_the_header_reloads_on_changes_only_while_it_is_not_being_edited(agent_client, customer):
    shown = agent_client.get(header_url(customer), **HTMX).content.decode()
    assert 'hx-trigger="customer:changed from:body"' in shown
    editing = agent_client.get(header_url(customer), {"edit": "1"}, **HTMX).content.decode()
    assert "hx-trigger" not in editing.split("<form")[0]
