"""The process editor: list, versions with their graph, editing a draft, test runs.

Every view is for the Admin role (guidance.change_processdefinition). Drafts change only
through `services.draft_save` with a whole new spec, built by `guidance.editing`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from customers.models import Customer
from guidance import editing, selectors, services
from guidance.engine import answers_from_form, step_form_class
from guidance.facts import answer_sample
from guidance.forms import ImportForm, StepEditor, TestRunStartForm
from guidance.graph import graph_layout
from guidance.markdown import render_markdown
from guidance.models import ProcessDefinition, ProcessVersion
from guidance.process import (
    ProcessFormatError,
    ProcessSpec,
    fact_schema,
    spec_check,
    spec_load,
    spec_to_yaml,
)
from guidance.rules import FactSchema, RuleError, check_rule
from guidance.testrun import Walk, walk_dumps, walk_loads, walk_start, walk_step

PERMISSION = "guidance.change_processdefinition"
INPUT_NAME = re.compile(r"^[a-z0-9_-]{1,60}$")
FIELD_KEY = re.compile(r"^fields-(\d{1,2})-key$")
CHANGED = "guidance:draft-changed"


def language() -> str:
    return (get_language() or "en")[:2]


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def process_list(request: HttpRequest) -> HttpResponse:
    """Roles: admin. Every process with its published version and its draft."""
    return render(
        request, "guidance/process_list.html", {"definitions": selectors.definition_list()}
    )


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSION, raise_exception=True)
def process_import(request: HttpRequest) -> HttpResponse:
    """Roles: admin. A YAML process (uploaded or pasted) becomes the draft of its process."""
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.process_import(
                text=data["text"], by=request.user, publish=data["publish"]
            )
        except (ProcessFormatError, services.ProcessError) as error:
            problems = error.problems or [str(error)]
        else:
            messages.success(request, _("Imported as version %(n)s.") % {"n": version.number})
            return redirect("guidance:version-detail", version.pk)
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "problems": problems}
    return render(request, "guidance/process_import.html", context, status=status)


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def process_draft(request: HttpRequest, key: str) -> HttpResponse:
    """Roles: admin. The process's draft, a copy of the published version when new."""
    definition = get_object_or_404(ProcessDefinition, key=key)
    draft = services.draft_create(definition=definition, by=request.user)
    return redirect("guidance:version-detail", draft.pk)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. The graph, the steps, the selected step (editable in a draft)."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    spec = spec_load(version)
    keys = [step.key for step in spec.steps]
    selected = request.GET.get("step") if request.GET.get("step") in keys else None
    context = {
        **version_context(version, spec),
        "versions": selectors.version_siblings(version=version),
        "editor": step_context(version, spec, selected or (keys[0] if keys else None)),
    }
    return render(request, "guidance/version_detail.html", context)


def version_context(version: ProcessVersion, spec: ProcessSpec) -> dict[str, object]:
    return {
        "version": version,
        "spec": spec,
        "graph": graph_layout(spec, language()),
        "problems": spec_check(spec),
    }


def step_context(
    version: ProcessVersion, spec: ProcessSpec, key: str | None, editor: StepEditor | None = None
) -> dict[str, object]:
    """What the step panel shows: an editor for a draft, the step as it is otherwise."""
    if key is None:
        return {"version": version, "step": None}
    step = spec.step(key)
    if editor is None and version.is_editable:
        editor = StepEditor(spec=spec, step=step)
    previews = {
        lang: render_markdown(
            editor.form["instruction_" + lang].value() or "" if editor else step.instruction(lang)
        )
        for lang in ("de", "en")
    }
    return {"version": version, "step": step, "editor": editor, "previews": previews}


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def version_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. The version as a YAML file, to keep in version control."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    response = HttpResponse(
        spec_to_yaml(spec_load(version)), content_type="application/yaml; charset=utf-8"
    )
    filename = f"{version.definition.key}-v{version.number}.yaml"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def version_graph(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. The graph fragment, redrawn after each change of the draft."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    context = version_context(version, spec_load(version))
    return render(request, "guidance/partials/version_graph.html", context)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def version_problems(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. The problems of the whole draft, refreshed after each change."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    context = version_context(version, spec_load(version))
    return render(request, "guidance/partials/version_problems.html", context)


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def version_diff(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. A unified diff of two versions' YAML (default: the version before)."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    versions = selectors.version_siblings(version=version)
    other_pk = request.GET.get("other", "")
    older = [v for v in versions if v.number < version.number]
    chosen = [v for v in versions if str(v.pk) == other_pk]
    other = chosen[0] if chosen else (older[0] if older else None)
    lines: list[str] = []
    if other is not None:
        lines = list(
            difflib.unified_diff(
                spec_to_yaml(spec_load(other)).splitlines(),
                spec_to_yaml(spec_load(version)).splitlines(),
                fromfile=f"v{other.number}",
                tofile=f"v{version.number}",
                lineterm="",
            )
        )
    context = {"version": version, "other": other, "versions": versions, "lines": lines}
    return render(request, "guidance/version_diff.html", context)


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def version_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. Publish the draft; refused with the list of its problems."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    try:
        services.version_publish(version=version, by=request.user)
    except services.ProcessError as error:
        spec = spec_load(version)
        context = {
            **version_context(version, spec),
            "versions": selectors.version_siblings(version=version),
            "editor": step_context(version, spec, spec.steps[0].key if spec.steps else None),
            "publish_error": str(error),
            "publish_problems": error.problems,
        }
        return render(request, "guidance/version_detail.html", context, status=422)
    messages.success(request, _("Version %(n)s is published.") % {"n": version.number})
    return redirect("guidance:version-detail", version.pk)


def draft_change(
    request: HttpRequest,
    version: ProcessVersion,
    edit: Callable[[ProcessSpec], ProcessSpec],
    step: Callable[[ProcessSpec], str | None] = lambda spec: None,
) -> HttpResponse:
    """Apply a pure edit to the draft as it is now and save it whole (services.draft_edit);
    then the steps panel (htmx) or the page (no script). `step` picks the step to show."""
    try:
        spec = services.draft_edit(version=version, edit=edit)
    except services.ProcessError as error:
        return refused(request, version, str(error))
    except KeyError:
        return refused(request, version, _("This step no longer exists."))
    selected = step(spec)
    if not request.htmx:
        url = reverse("guidance:version-detail", args=[version.pk])
        return redirect(f"{url}?step={selected}" if selected else url)
    context = {"version": version, "spec": spec, "selected": selected}
    response = render(request, "guidance/partials/version_steps.html", context)
    return trigger_client_event(response, CHANGED)


def refused(request: HttpRequest, version: ProcessVersion, message: str) -> HttpResponse:
    if not request.htmx:
        messages.error(request, message)
        return redirect("guidance:version-detail", version.pk)
    return render(
        request, "guidance/partials/editor_refused.html", {"message": message}, status=409
    )


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. A new step after the given one (or at the end) of the draft."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    after = request.POST.get("after", "")

    def add(spec: ProcessSpec) -> ProcessSpec:
        return editing.spec_step_add(spec, after=after if after in spec_keys(spec) else "")[0]

    # The new step is the one not in the list before; its key is "step-<n>".
    before = spec_keys(spec_load(version))
    response = draft_change(request, version, add, lambda spec: min(spec_keys(spec) - before))
    if request.htmx and response.status_code == 200:
        # Its editor opens at once, out of band beside the steps panel.
        spec = spec_load(version)
        context = {**step_context(version, spec, min(spec_keys(spec) - before)), "oob": True}
        response.content += render(request, "guidance/partials/step_editor.html", context).content
    return response


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def step_move(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """Roles: admin. Move a step of the draft up or down one place."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    return draft_change(
        request, version, lambda spec: editing.spec_step_move(spec, key, offset), lambda _: key
    )


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def step_remove(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """Roles: admin. Remove a step from the draft; routes to it show up as problems."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    response = draft_change(request, version, lambda spec: editing.spec_step_remove(spec, key))
    if request.htmx and response.status_code == 200:
        # The removed step's editor goes too: the steps panel replaces it out of band.
        context = {"version": version, "step": None, "oob": True}
        response.content += render(request, "guidance/partials/step_editor.html", context).content
    return response


def spec_keys(spec: ProcessSpec) -> set[str]:
    return {step.key for step in spec.steps}


@require_GET
@vary_on_headers("HX-Request")
@permission_required(PERMISSION, raise_exception=True)
def step_editor(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """Roles: admin. The step panel: an editor in a draft, the step as it is otherwise."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    spec = spec_load(version)
    if key not in spec_keys(spec):
        return refused(request, version, _("This step no longer exists."))
    if not request.htmx:
        url = reverse("guidance:version-detail", args=[version.pk])
        return redirect(f"{url}?step={key}")
    response = render(
        request, "guidance/partials/step_editor.html", step_context(version, spec, key)
    )
    # The steps panel marks the chosen step (and adds new steps after it), out of band.
    steps = {"version": version, "spec": spec, "selected": key, "oob": True}
    response.content += render(request, "guidance/partials/version_steps.html", steps).content
    return response


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def step_save(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """Roles: admin. Save one step of the draft whole, or show every problem and save nothing."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    spec = spec_load(version)
    if not version.is_editable or key not in spec_keys(spec):
        return refused(request, version, _("Only an existing step of a draft can be changed."))
    editor = StepEditor(spec=spec, step=spec.step(key), data=request.POST)
    if not editor.is_valid():
        context = {**step_context(version, spec, key, editor), "invalid": True}
        return render(request, "guidance/partials/step_editor.html", context, status=422)
    new_step = editor.new_step()
    try:
        new_spec = services.draft_edit(
            version=version, edit=lambda now: editing.spec_step_replace(now, key, new_step)
        )
    except (services.ProcessError, KeyError):
        return refused(request, version, _("Only an existing step of a draft can be changed."))
    if not request.htmx:
        messages.success(request, _("The step is saved."))
        url = reverse("guidance:version-detail", args=[version.pk])
        return redirect(f"{url}?step={new_step.key}")
    context = {**step_context(version, new_spec, new_step.key), "saved": True}
    response = render(request, "guidance/partials/step_editor.html", context)
    # The steps panel shows the new title (and key) at once, out of band.
    steps = {"version": version, "spec": new_spec, "selected": new_step.key, "oob": True}
    response.content += render(request, "guidance/partials/version_steps.html", steps).content
    return trigger_client_event(response, CHANGED)


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """Roles: admin. A work instruction rendered as the agent will see it (live preview)."""
    name = request.GET.get("name", "")
    if not INPUT_NAME.match(name):
        return HttpResponse(status=400)
    text = request.POST.get(name, "")[:20000]
    context = {"preview_id": f"{name}-preview", "html": render_markdown(text)}
    return render(request, "guidance/partials/markdown_preview.html", context)


@require_POST
@permission_required(PERMISSION, raise_exception=True)
def rule_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. Check one condition as it is typed: "ok" or what is wrong with it."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    name = request.GET.get("name", "")
    if not INPUT_NAME.match(name):
        return HttpResponse(status=400)
    text = request.POST.get(name, "").strip()
    message = ""
    if text:
        try:
            check_rule(text, schema_with_posted_fields(spec_load(version), request))
        except RuleError as error:
            message = str(error)
    context = {"check_id": f"id_{name}-check", "text": text, "message": message}
    return render(request, "guidance/partials/rule_check.html", context)


def schema_with_posted_fields(spec: ProcessSpec, request: HttpRequest) -> FactSchema:
    """The draft's facts plus fields typed into the step form but not saved yet."""
    schema = fact_schema(spec)
    answers = dict(schema.samples["answers"])
    for name, value in request.POST.items():
        match = FIELD_KEY.match(name)
        if match and value and value not in answers:
            answers[value] = answer_sample(request.POST.get(f"fields-{match.group(1)}-type", ""))
    return FactSchema({**schema.samples, "answers": answers})


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@permission_required(PERMISSION, raise_exception=True)
def version_testrun(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. Walk the version for a customer with typed answers; nothing is written."""
    version = selectors.access_version_by_id(user=request.user, pk=pk)
    spec = spec_load(version)
    start = TestRunStartForm(request.GET or None)
    customer = start.found_customer() if start.is_valid() else None
    walk, form, error = None, None, ""
    if customer is not None:
        walk = walk_loads(request.POST.get("walk", "")) if request.method == "POST" else None
        if walk is None or walk.customer != customer.number:  # new, or tampered with
            walk = walk_start(spec, customer)
        data = request.POST if request.method == "POST" else None
        walk, form, error = testrun_step(spec, walk, customer, data)
    context = testrun_context(version, spec, start, customer, walk, form, error)
    template = "guidance/partials/testrun_panel.html" if request.htmx else None
    return render(request, template or "guidance/version_testrun.html", context)


def testrun_step(
    spec: ProcessSpec, walk: Walk, customer: Customer, data: QueryDict | None
) -> tuple[Walk, forms.Form | None, str]:
    """Complete the current step if valid answers were posted; the walk, the form to show
    next (with its errors, or for the next step) and a rule's error, if one failed."""
    if walk.current not in spec_keys(spec):
        return walk, None, ""
    form = step_form_class(spec.step(walk.current), language())(data, prefix="answer")
    if data is None or not form.is_valid():
        return walk, form, ""
    walk, error = walk_step(spec, walk, customer, answers_from_form(form))
    if error:
        return walk, form, error
    if walk.current not in spec_keys(spec):
        return walk, None, ""
    return walk, step_form_class(spec.step(walk.current), language())(prefix="answer"), ""


def testrun_context(
    version: ProcessVersion,
    spec: ProcessSpec,
    start: TestRunStartForm,
    customer: Customer | None,
    walk: Walk | None,
    form: object,
    error: str,
) -> dict[str, object]:
    lang = language()
    current = spec.step(walk.current) if walk and walk.current in spec_keys(spec) else None
    dangling = walk.current if walk and walk.current and current is None else ""
    titles = {step.key: step.title(lang) for step in spec.steps}
    return {
        "version": version,
        "start": start,
        "customer": customer,
        "walk": walk,
        "walk_token": walk_dumps(walk) if walk else "",
        "taken": [(titles.get(t.key, t.key), t) for t in walk.taken] if walk else [],
        "titles": titles,
        "current": current,
        "instruction": render_markdown(current.instruction(lang)) if current else "",
        "form": form,
        "error": error,
        "dangling": dangling,
    }
