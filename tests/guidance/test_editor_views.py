"""The process editor: editing a draft changes only the draft, and only whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from guidance.models import ProcessDefinition, ProcessVersion, Step, VersionStatus
from guidance.process import StepSpec, spec_from_yaml, spec_load
from guidance.services import draft_create, draft_save, process_import
from tests.factories import CaseFactory, CustomerFactory

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
COMPLAINT = (PROCESSES / "complaint.yaml").read_text()
HTMX = {"HTTP_HX_REQUEST": "true"}
EXTRA_ROW = {
    "fields": ["key", "type", "label_de", "label_en", "choices", "min_value", "max_value"],
    "routes": ["condition", "target", "ORDER"],
    "actions": ["kind", "condition", "params"],
}


@pytest.fixture
def published(db) -> ProcessVersion:
    return process_import(text=COMPLAINT, by=None, publish=True)


@pytest.fixture
def draft(published: ProcessVersion, admin_user) -> ProcessVersion:
    return draft_create(definition=published.definition, by=admin_user)


def step_data(step: StepSpec, **changes: Any) -> dict[str, Any]:
    """The step editor's form as a browser would post it, with some inputs changed."""
    data: dict[str, Any] = {
        f"step-{name}": getattr(step, name)
        for name in ("key", "kind", "title_de", "title_en", "instruction_de", "instruction_en")
    }
    rows = {
        "fields": [
            {
                "key": f.key,
                "type": f.type,
                "label_de": f.label_de,
                "label_en": f.label_en,
                **({"required": "on"} if f.required else {}),
                "choices": ", ".join(f.choices),
                "min_value": "" if f.min_value is None else f.min_value,
                "max_value": "" if f.max_value is None else f.max_value,
                "max_length": f.max_length or "",
            }
            for f in step.fields
        ],
        "routes": [
            {"condition": r.condition, "target": r.target, "ORDER": n}
            for n, r in enumerate(step.routes, start=1)
        ],
        "actions": [
            {
                "kind": a.kind,
                "condition": a.condition,
                "params": "\n".join(f"{k}: {v}" for k, v in a.params.items()),
            }
            for a in step.actions
        ],
    }
    for prefix, items in rows.items():
        data[f"{prefix}-TOTAL_FORMS"] = len(items) + 1
        data[f"{prefix}-INITIAL_FORMS"] = len(items)
        data[f"{prefix}-MIN_NUM_FORMS"] = 0
        data[f"{prefix}-MAX_NUM_FORMS"] = 1000
        for n, item in enumerate(items):
            data.update({f"{prefix}-{n}-{name}": value for name, value in item.items()})
        # The empty extra row, as a browser posts it (an unticked box is not posted).
        data.update({f"{prefix}-{len(items)}-{name}": "" for name in EXTRA_ROW[prefix]})
    data.update(changes)
    return data


def save_step(client: Client, version: ProcessVersion, key: str, **changes: Any):
    step = spec_load(version).step(key)
    url = reverse("guidance:step-save", args=[version.pk, key])
    return client.post(url, step_data(step, **changes), **HTMX)


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_editor_page_renders_for_an_admin(admin_client, draft, language) -> None:
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    for name, kwargs in [
        ("guidance:process-list", {}),
        ("guidance:process-import", {}),
        ("guidance:version-detail", {"pk": draft.pk}),
        ("guidance:version-diff", {"pk": draft.pk}),
        ("guidance:version-testrun", {"pk": draft.pk}),
        ("guidance:version-graph", {"pk": draft.pk}),
        ("guidance:version-problems", {"pk": draft.pk}),
    ]:
        response = admin_client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 200, name


def test_the_process_list_shows_published_and_draft_versions(admin_client, draft) -> None:
    page = admin_client.get(reverse("guidance:process-list")).content.decode()
    assert "Complaint" in page
    assert reverse("guidance:version-detail", args=[draft.pk]) in page
    assert "Draft v2" in page


def test_saving_a_step_changes_only_the_draft(admin_client, published, draft) -> None:
    before = spec_load(published)
    response = save_step(
        admin_client, draft, "goodwill", **{"step-instruction_en": "Up to **60 EUR** now."}
    )
    assert response.status_code == 200
    assert "guidance:draft-changed" in response["HX-Trigger"]
    assert "<strong>60 EUR</strong>" in response.content.decode()  # the preview, rendered
    assert spec_load(draft).step("goodwill").instruction_en == "Up to **60 EUR** now."
    assert spec_load(published) == before
    published.refresh_from_db()
    assert published.status == VersionStatus.PUBLISHED


def test_saving_without_htmx_redirects_back_to_the_step(admin_client, draft) -> None:
    step = spec_load(draft).step("capture")
    url = reverse("guidance:step-save", args=[draft.pk, "capture"])
    response = admin_client.post(url, step_data(step, **{"step-title_en": "Listen"}))
    assert response.status_code == 302
    assert response["Location"].endswith("?step=capture")
    assert spec_load(draft).step("capture").title_en == "Listen"


def test_an_invalid_condition_gives_a_message_and_saves_nothing(admin_client, draft) -> None:
    before = spec_load(draft)
    response = save_step(
        admin_client,
        draft,
        "goodwill",
        **{
            "step-instruction_en": "Changed as well",
            "actions-0-condition": "answers.goodwil_amount > 50",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Unknown name “answers.goodwil_amount”" in page
    assert "Nothing was saved" in page
    assert "Changed as well" in page  # what the admin typed is kept in the form
    assert spec_load(draft) == before


def test_a_hostile_condition_is_refused_with_a_message(admin_client, draft) -> None:
    before = spec_load(draft)
    response = save_step(admin_client, draft, "capture", **{"routes-0-condition": "().__class__"})
    assert response.status_code == 422
    assert "The rule cannot be read" in response.content.decode()
    assert spec_load(draft) == before


def test_a_condition_may_use_a_field_added_in_the_same_edit(admin_client, draft) -> None:
    response = save_step(
        admin_client,
        draft,
        "capture",
        **{
            "fields-2-key": "refund",
            "fields-2-type": "money",
            "fields-2-label_de": "Erstattung",
            "fields-2-label_en": "Refund",
            "routes-1-condition": "answers.refund > 10",
            "routes-1-target": "close-complaint",
            "routes-1-ORDER": "0",
        },
    )
    assert response.status_code == 200, response.content.decode()
    capture = spec_load(draft).step("capture")
    assert [f.key for f in capture.fields] == ["complaint_text", "complaint_category", "refund"]
    assert [(r.condition, r.target) for r in capture.routes] == [
        ("answers.refund > 10", "close-complaint"),
        ("", "goodwill"),
    ]


def test_rows_can_be_removed_and_action_parameters_edited(admin_client, draft) -> None:
    response = save_step(
        admin_client,
        draft,
        "close-complaint",
        **{"actions-0-DELETE": "on", "actions-1-params": "transition: resolve\nresolution: Done."},
    )
    assert response.status_code == 200, response.content.decode()
    actions = spec_load(draft).step("close-complaint").actions
    assert [(a.kind, dict(a.params)) for a in actions] == [
        ("transition", {"transition": "resolve", "resolution": "Done."})
    ]


def test_an_action_without_its_parameter_is_refused(admin_client, draft) -> None:
    response = save_step(admin_client, draft, "goodwill", **{"actions-0-params": "note: x"})
    assert response.status_code == 422
    assert "This action needs: reason." in response.content.decode()


def test_renaming_a_step_keeps_the_routes_that_lead_to_it(admin_client, draft) -> None:
    response = save_step(admin_client, draft, "goodwill", **{"step-key": "decide"})
    assert response.status_code == 200
    spec = spec_load(draft)
    assert spec.step("capture").routes[0].target == "decide"


def test_a_step_key_must_stay_unique(admin_client, draft) -> None:
    response = save_step(admin_client, draft, "goodwill", **{"step-key": "capture"})
    assert response.status_code == 422
    assert "Another step has this key." in response.content.decode()


def test_steps_are_added_moved_and_removed_in_the_draft_only(
    admin_client, published, draft
) -> None:
    before = spec_load(published)
    add = admin_client.post(reverse("guidance:step-add", args=[draft.pk]), {"after": ""}, **HTMX)
    assert add.status_code == 200 and "guidance:draft-changed" in add["HX-Trigger"]
    assert [s.key for s in spec_load(draft).steps][-1] == "step-4"
    assert 'value="step-4"' in add.content.decode()  # its editor opens out of band
    move = reverse("guidance:step-move", args=[draft.pk, "step-4"])
    admin_client.post(move, {"direction": "up"}, **HTMX)
    assert [s.key for s in spec_load(draft).steps] == [
        "capture",
        "goodwill",
        "step-4",
        "close-complaint",
    ]
    remove = admin_client.post(reverse("guidance:step-remove", args=[draft.pk, "goodwill"]), **HTMX)
    assert remove.status_code == 200
    assert 'hx-swap-oob="true"' in remove.content.decode()  # the removed step's editor goes
    assert [s.key for s in spec_load(draft).steps] == ["capture", "step-4", "close-complaint"]
    assert spec_load(published) == before


def test_a_published_version_cannot_be_edited(admin_client, published) -> None:
    before = spec_load(published)
    response = save_step(admin_client, published, "goodwill", **{"step-title_en": "X"})
    assert response.status_code == 409
    response = admin_client.post(reverse("guidance:step-add", args=[published.pk]), **HTMX)
    assert response.status_code == 409
    assert "Only a draft can be changed" in response.content.decode()
    assert spec_load(published) == before


def test_rule_check_says_ok_or_names_the_problem(admin_client, draft) -> None:
    url = reverse("guidance:rule-check", args=[draft.pk]) + "?name=routes-0-condition"
    ok = admin_client.post(url, {"routes-0-condition": "answers.goodwill_amount > 50"}, **HTMX)
    assert ok.status_code == 200
    assert 'id="id_routes-0-condition-check"' in ok.content.decode()
    assert ">ok<" in ok.content.decode()
    bad = admin_client.post(url, {"routes-0-condition": 'customer.segmnt == "vip"'}, **HTMX)
    assert "Unknown name “customer.segmnt”" in bad.content.decode()
    typed = admin_client.post(  # a field typed into the form but not saved yet is known
        url,
        {
            "routes-0-condition": "answers.new_one",
            "fields-5-key": "new_one",
            "fields-5-type": "yes_no",
        },
        **HTMX,
    )
    assert ">ok<" in typed.content.decode()


def test_markdown_preview_renders_safe_html(admin_client) -> None:
    url = reverse("guidance:markdown-preview") + "?name=step-instruction_en"
    text = "**Ask** first <script>alert(1)</script> [x](javascript:alert(1))"
    response = admin_client.post(url, {"step-instruction_en": text}, **HTMX)
    page = response.content.decode()
    assert 'id="step-instruction_en-preview"' in page
    assert "<strong>Ask</strong>" in page
    assert "<script>" not in page and 'href="javascript' not in page


def test_publish_is_refused_with_the_list_of_problems(admin_client, published, draft) -> None:
    spec = spec_load(draft)
    draft_save(version=draft, spec=replace(spec, steps=spec.steps[:2]))  # close-complaint gone
    response = admin_client.post(reverse("guidance:version-publish", args=[draft.pk]))
    assert response.status_code == 422
    page = response.content.decode()
    assert "Not published" in page
    assert "goodwill: A route leads to “close-complaint”, no such step." in page
    draft.refresh_from_db()
    published.refresh_from_db()
    assert (draft.status, published.status) == (VersionStatus.DRAFT, VersionStatus.PUBLISHED)


def test_publishing_a_good_draft_retires_the_old_version(admin_client, published, draft) -> None:
    save_step(admin_client, draft, "goodwill", **{"step-instruction_en": "New rule"})
    response = admin_client.post(reverse("guidance:version-publish", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    published.refresh_from_db()
    assert (draft.status, published.status) == (VersionStatus.PUBLISHED, VersionStatus.RETIRED)
    assert spec_load(published).step("goodwill").instruction_en.startswith("You may grant")


def test_import_lists_every_problem_by_place_and_saves_nothing(admin_client) -> None:
    broken = COMPLAINT.replace("kind: decision", "kind: dance").replace(
        "title_en: Capture the complaint", "title_en: 5"
    )
    response = admin_client.post(reverse("guidance:process-import"), {"text": broken})
    assert response.status_code == 422
    page = response.content.decode()
    assert "steps[1].kind must be one of" in page
    assert "steps[0].title_en must be text" in page
    unreadable = admin_client.post(reverse("guidance:process-import"), {"text": "key: [unclosed"})
    assert "The YAML cannot be read" in unreadable.content.decode()
    assert not ProcessDefinition.objects.exists()


def test_import_refuses_to_publish_a_process_with_problems(admin_client) -> None:
    broken = COMPLAINT.replace("target: goodwill", "target: nowhere")
    response = admin_client.post(
        reverse("guidance:process-import"), {"text": broken, "publish": "on"}
    )
    assert response.status_code == 422
    assert "capture: A route leads to “nowhere”, no such step." in response.content.decode()
    assert not ProcessDefinition.objects.exists()


def test_import_by_upload_makes_a_draft_and_export_gives_it_back(admin_client, published) -> None:
    changed = COMPLAINT.replace("Listen, summarise", "Listen, then summarise")
    upload = SimpleUploadedFile("complaint.yaml", changed.encode(), "application/yaml")
    response = admin_client.post(reverse("guidance:process-import"), {"file": upload})
    assert response.status_code == 302
    version = ProcessVersion.objects.get(definition=published.definition, number=2)
    assert version.status == VersionStatus.DRAFT
    export = admin_client.get(reverse("guidance:version-export", args=[version.pk]))
    assert export["Content-Disposition"] == 'attachment; filename="complaint-v2.yaml"'
    assert spec_from_yaml(export.content.decode()) == spec_from_yaml(changed)


def test_diff_shows_what_changed_between_two_versions(admin_client, published, draft) -> None:
    save_step(admin_client, draft, "capture", **{"step-title_en": "Hear the complaint"})
    response = admin_client.get(reverse("guidance:version-diff", args=[draft.pk]))
    page = response.content.decode()
    assert '<span class="del">-  title_en: Capture the complaint</span>' in page
    assert '<span class="add">+  title_en: Hear the complaint</span>' in page
    same = admin_client.get(
        reverse("guidance:version-diff", args=[published.pk]) + f"?other={published.pk}"
    )
    assert "There is no other version" not in same.content.decode()


def test_the_graph_has_every_step_and_every_route(admin_client) -> None:
    text = (PROCESSES / "cancellation.yaml").read_text()
    version = process_import(text=text, by=None, publish=True)
    response = admin_client.get(reverse("guidance:version-graph", args=[version.pk]))
    page = response.content.decode()
    assert page.count("<svg") == 1
    spec = spec_from_yaml(text)
    for step in spec.steps:
        assert f'data-step="{step.key}"' in page
    assert page.count('<g class="edge') == sum(len(step.routes) for step in spec.steps)


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("guidance", "customers", "cases")
        for model in apps.get_app_config(app).get_models()
    }


def test_a_test_run_walks_the_draft_and_writes_nothing(admin_client, draft) -> None:
    customer = CustomerFactory(number="K-424242")
    CaseFactory(customer=customer)
    url = reverse("guidance:version-testrun", args=[draft.pk]) + "?customer=k-424242"
    before = row_counts()
    page = admin_client.get(url)
    assert page.status_code == 200
    token = page.context["walk_token"]
    first = admin_client.post(
        url,
        {"walk": token, "answer-complaint_text": "Late", "answer-complaint_category": "service"},
    )
    assert first.context["walk"].current == "goodwill"
    second = admin_client.post(
        url, {"walk": first.context["walk_token"], "answer-goodwill_amount": "80"}, **HTMX
    )
    html = second.content.decode()
    assert "Goodwill above 50 EUR needs a supervisor" in html
    assert "flag_exception" in html
    third = admin_client.post(url, {"walk": second.context["walk_token"]}, **HTMX)
    html = third.content.decode()
    assert "The test run has reached the end" in html
    assert "transition=resolve" in html and "template=complaint-resolved" in html
    assert row_counts() == before


def test_a_test_run_shows_field_errors_and_refuses_a_tampered_walk(admin_client, draft) -> None:
    CustomerFactory(number="K-424243")
    url = reverse("guidance:version-testrun", args=[draft.pk]) + "?customer=K-424243"
    token = admin_client.get(url).context["walk_token"]
    invalid = admin_client.post(url, {"walk": token, "answer-complaint_category": "other"})
    assert invalid.context["walk"].current == "capture"
    assert invalid.context["form"].errors
    tampered = admin_client.post(url, {"walk": token[:-3] + "abc"})
    assert tampered.context["walk"].taken == ()
    unknown = admin_client.get(reverse("guidance:version-testrun", args=[draft.pk]) + "?customer=X")
    assert "No customer has this number." in unknown.content.decode()


def test_a_new_draft_is_made_once_from_the_process_list(admin_client, published) -> None:
    url = reverse("guidance:process-draft", args=[published.definition.key])
    first = admin_client.post(url)
    second = admin_client.post(url)
    assert first["Location"] == second["Location"]
    assert ProcessVersion.objects.filter(status=VersionStatus.DRAFT).count() == 1
    assert Step.objects.filter(version__status=VersionStatus.DRAFT).count() == 3


def test_the_version_page_needs_few_queries(admin_client, draft, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):
        admin_client.get(reverse("guidance:version-detail", args=[draft.pk]))


def test_the_django_admin_keeps_published_steps_read_only(admin_client, published, draft):
    step = Step.objects.get(version=published, key="goodwill")
    url = reverse("admin:guidance_step_change", args=[step.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="title_en"' not in page.content.decode()
    draft_step = Step.objects.get(version=draft, key="goodwill")
    page = admin_client.get(reverse("admin:guidance_step_change", args=[draft_step.pk]))
    assert 'name="title_en"' in page.content.decode()


def test_two_steps_saved_from_the_same_page_both_keep_their_change(admin_client, draft) -> None:
    spec = spec_load(draft)  # both forms were drawn from this state
    url = reverse("guidance:step-save", args=[draft.pk, "capture"])
    admin_client.post(url, step_data(spec.step("capture"), **{"step-title_en": "Hear"}), **HTMX)
    url = reverse("guidance:step-save", args=[draft.pk, "goodwill"])
    admin_client.post(url, step_data(spec.step("goodwill"), **{"step-title_en": "Decide"}), **HTMX)
    after = spec_load(draft)
    assert (after.step("capture").title_en, after.step("goodwill").title_en) == ("Hear", "Decide")


def test_a_new_route_goes_before_the_default_and_only_one_default_is_allowed(
    admin_client, draft
) -> None:
    new_route = {
        "routes-1-condition": "answers.goodwill_amount > 500",
        "routes-1-target": "capture",
    }
    assert save_step(admin_client, draft, "goodwill", **new_route).status_code == 200
    routes = spec_load(draft).step("goodwill").routes
    assert [(r.condition, r.target) for r in routes] == [
        ("answers.goodwill_amount > 500", "capture"),
        ("", "close-complaint"),
    ]
    second_default = {"routes-2-target": "capture", "routes-2-ORDER": "3"}
    response = save_step(admin_client, draft, "goodwill", **second_default)
    assert response.status_code == 422
    assert "Only one route may go without a condition." in response.content.decode()


def test_only_admins_see_the_processes_link(admin_client, agent_client, supervisor_client):
    link = f'href="{reverse("guidance:process-list")}"'
    assert link in admin_client.get(reverse("home")).content.decode()
    assert link not in agent_client.get(reverse("home")).content.decode()
    assert link not in supervisor_client.get(reverse("home")).content.decode()


def test_a_field_key_must_be_usable_in_a_rule(admin_client, draft) -> None:
    before = spec_load(draft)
    response = save_step(admin_client, draft, "goodwill", **{"fields-0-key": "goodwill-amount"})
    assert response.status_code == 422
    assert "Small letters, digits and _ only" in response.content.decode()
    assert spec_load(draft) == before


def test_choosing_a_step_opens_its_editor_and_marks_it_in_the_list(admin_client, draft) -> None:
    url = reverse("guidance:step-editor", args=[draft.pk, "goodwill"])
    page = admin_client.get(url, **HTMX).content.decode()
    assert 'id="id_step-key"' in page and 'value="goodwill"' in page
    assert '<li class="selected" data-step="goodwill">' in page
    assert '<input type="hidden" name="after" value="goodwill">' in page
    assert admin_client.get(url)["Location"].endswith("?step=goodwill")  # no script: the page
