"""Every write to process definitions and to the offer catalog goes through these functions."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from guidance.models import (
    Offer,
    ProcessDefinition,
    ProcessVersion,
    Route,
    Step,
    StepAction,
    StepField,
    VersionStatus,
)
from guidance.offers import offer_rule_check
from guidance.process import ProcessSpec, spec_check, spec_from_yaml, spec_load

logger = logging.getLogger(__name__)


class ProcessError(ValueError):
    """A refused change to a process; `problems` lists what is wrong, for the admin."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


def steps_write(version: ProcessVersion, spec: ProcessSpec) -> None:
    """Replace the version's steps with the spec's, in bulk (a few queries per process)."""
    version.steps.all().delete()
    steps = Step.objects.bulk_create(
        [
            Step(
                version=version,
                key=step.key,
                position=position,
                kind=step.kind,
                title_de=step.title_de,
                title_en=step.title_en,
                instruction_de=step.instruction_de,
                instruction_en=step.instruction_en,
            )
            for position, step in enumerate(spec.steps, start=1)
        ]
    )
    fields, routes, actions = [], [], []
    for row, step in zip(steps, spec.steps, strict=True):
        fields += [
            StepField(
                step=row,
                position=n,
                key=f.key,
                type=f.type,
                label_de=f.label_de,
                label_en=f.label_en,
                required=f.required,
                choices=list(f.choices),
                min_value=f.min_value,
                max_value=f.max_value,
                max_length=f.max_length,
            )
            for n, f in enumerate(step.fields, start=1)
        ]
        routes += [
            Route(step=row, position=n, condition=r.condition, target=r.target)
            for n, r in enumerate(step.routes, start=1)
        ]
        actions += [
            StepAction(step=row, position=n, kind=a.kind, condition=a.condition, params=a.params)
            for n, a in enumerate(step.actions, start=1)
        ]
    StepField.objects.bulk_create(fields)
    Route.objects.bulk_create(routes)
    StepAction.objects.bulk_create(actions)


@transaction.atomic
def draft_save(*, version: ProcessVersion, spec: ProcessSpec) -> ProcessVersion:
    """Save a whole draft. A draft may have problems; publishing refuses them."""
    version = ProcessVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_editable:
        raise ProcessError("Only a draft can be changed; published versions never change.")
    definition = version.definition
    definition.name_de, definition.name_en = spec.name_de, spec.name_en
    definition.description = spec.description
    definition.save(update_fields=["name_de", "name_en", "description"])
    steps_write(version, spec)
    return version


@transaction.atomic
def draft_create(*, definition: ProcessDefinition, by: AbstractBaseUser | None) -> ProcessVersion:
    """The definition's draft; a new one starts as a copy of the published version."""
    existing = definition.versions.filter(status=VersionStatus.DRAFT).first()
    if existing:
        return existing
    number = (definition.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = ProcessVersion.objects.create(definition=definition, number=number, created_by=by)
    published = definition.versions.published().first()
    if published:
        steps_write(draft, spec_load(published))
    return draft


@transaction.atomic
def version_publish(*, version: ProcessVersion, by: AbstractBaseUser | None) -> ProcessVersion:
    """Freeze a draft as the version new runs use; the one before is retired."""
    version = ProcessVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_editable:
        raise ProcessError("This version is already published or retired.")
    problems = spec_check(spec_load(version))
    if problems:
        raise ProcessError(
            "The draft has problems; fix them before publishing.", [str(p) for p in problems]
        )
    version.definition.versions.published().update(status=VersionStatus.RETIRED)
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    return version


@transaction.atomic
def process_import(
    *, text: str, by: AbstractBaseUser | None, publish: bool = False
) -> ProcessVersion:
    """Import a YAML process as the draft of its definition (created if new)."""
    spec = spec_from_yaml(text)
    definition, _ = ProcessDefinition.objects.get_or_create(
        key=spec.key, defaults={"name_de": spec.name_de, "name_en": spec.name_en}
    )
    draft = draft_create(definition=definition, by=by)
    draft_save(version=draft, spec=spec)
    return version_publish(version=draft, by=by) if publish else draft


@transaction.atomic
def draft_edit(
    *, version: ProcessVersion, edit: Callable[[ProcessSpec], ProcessSpec]
) -> ProcessSpec:
    """Change a draft from its current state: lock it, read it, edit the spec, save it whole.

    Reading under the lock means two admins changing different steps at once both keep
    their change. `edit` is a pure function (see guidance.editing); a KeyError from it
    (the step is gone) rolls back and reaches the caller.
    """
    locked = ProcessVersion.objects.select_for_update().get(pk=version.pk)
    if not locked.is_editable:
        raise ProcessError("Only a draft can be changed; published versions never change.")
    spec = edit(spec_load(locked))
    draft_save(version=locked, spec=spec)
    return spec


# --- the offer catalog --------------------------------------------------------------


@transaction.atomic
def offer_save(*, offer: Offer, by: AbstractBaseUser | None) -> Offer:
    """Save an offer of the catalog (new or changed) after checking it whole.

    The rule is checked again here, not only in the form: nothing reaches the panel that
    `Offer.clean` would refuse (ValidationError, nothing saved).
    """
    offer.full_clean()
    offer.save()
    logger.info("Offer %s saved by %s.", offer.key, getattr(by, "pk", None))
    return offer


@transaction.atomic
def offer_activate(*, offer: Offer, active: bool, by: AbstractBaseUser | None) -> Offer:
    """Retire an offer (it leaves every panel at once; its outcomes stay) or bring it back."""
    locked = Offer.objects.select_for_update().get(pk=offer.pk)
    if active and (message := offer_rule_check(locked.rule)):
        raise ValidationError({"rule": message})
    locked.active = active
    locked.save(update_fields=["active"])
    logger.info("Offer %s active=%s by %s.", locked.key, active, getattr(by, "pk", None))
    return locked
