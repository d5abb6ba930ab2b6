from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command

from guidance.models import ProcessDefinition, ProcessVersion, Step, VersionStatus
from guidance.process import spec_from_yaml, spec_load, spec_to_yaml
from guidance.selectors import published_version, version_spec
from guidance.services import (
    ProcessError,
    draft_create,
    draft_save,
    process_import,
    version_publish,
)

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
COMPLAINT = (PROCESSES / "complaint.yaml").read_text()


@pytest.mark.django_db
def test_import_publish_and_export_give_back_the_same_process() -> None:
    version = process_import(text=COMPLAINT, by=None, publish=True)
    assert version.status == VersionStatus.PUBLISHED
    assert spec_load(version) == spec_from_yaml(COMPLAINT)
    assert spec_from_yaml(spec_to_yaml(spec_load(version))) == spec_from_yaml(COMPLAINT)


@pytest.mark.django_db
def test_a_new_draft_copies_the_published_version_and_publishing_retires_it(admin_user) -> None:
    first = process_import(text=COMPLAINT, by=admin_user, publish=True)
    draft = draft_create(definition=first.definition, by=admin_user)
    assert draft.number == 2 and draft.status == VersionStatus.DRAFT
    spec = spec_load(draft)
    changed = replace(spec.steps[1], instruction_en="New text")
    draft_save(version=draft, spec=replace(spec, steps=(spec.steps[0], changed, *spec.steps[2:])))
    version_publish(version=draft, by=admin_user)
    first.refresh_from_db()
    assert first.status == VersionStatus.RETIRED
    assert published_version(process_key="complaint").number == 2
    # The retired version keeps its text: a run that started on it still reads the old one.
    assert version_spec(first).step("goodwill").instruction_en.startswith("You may grant")
    assert version_spec(draft).step("goodwill").instruction_en == "New text"


@pytest.mark.django_db
def test_published_versions_never_change() -> None:
    version = process_import(text=COMPLAINT, by=None, publish=True)
    with pytest.raises(ProcessError, match="Only a draft"):
        draft_save(version=version, spec=spec_load(version))
    with pytest.raises(ProcessError, match="already published"):
        version_publish(version=version, by=None)


@pytest.mark.django_db
def test_publishing_a_draft_with_problems_is_refused_and_saves_nothing() -> None:
    broken = COMPLAINT.replace(
        "target: close-complaint\n  - key: close", "target: nowhere\n  - key: close"
    )
    draft = process_import(text=broken, by=None)
    with pytest.raises(ProcessError) as caught:
        version_publish(version=draft, by=None)
    assert "goodwill: A route leads to “nowhere”, no such step." in caught.value.problems
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    assert not ProcessVersion.objects.published().exists()


@pytest.mark.django_db
def test_a_failed_import_leaves_nothing_half_saved() -> None:
    from guidance.process import ProcessFormatError

    with pytest.raises(ProcessFormatError):
        process_import(text=COMPLAINT.replace("kind: decision", "kind: dance"), by=None)
    assert not ProcessDefinition.objects.exists()
    assert not Step.objects.exists()


@pytest.mark.django_db
def test_spec_of_a_published_version_loads_in_four_queries(django_assert_num_queries) -> None:
    version = process_import(text=COMPLAINT, by=None, publish=True)
    version = ProcessVersion.objects.select_related("definition").get(pk=version.pk)
    with django_assert_num_queries(4):
        spec_load(version)


@pytest.mark.django_db
def test_import_and_export_commands(tmp_path, capsys) -> None:
    path = tmp_path / "complaint.yaml"
    path.write_text(COMPLAINT)
    call_command("process_import", str(path), "--publish")
    call_command("process_export", "complaint")
    assert spec_from_yaml(capsys.readouterr().out.split("\n", 1)[1]) == spec_from_yaml(COMPLAINT)
