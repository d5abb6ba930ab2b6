"""Reads of process knowledge, with a cache for published versions (they never change)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404

from guidance.models import ProcessDefinition, ProcessVersion, VersionStatus
from guidance.process import ProcessSpec, spec_load


def version_spec(version: ProcessVersion) -> ProcessSpec:
    """The version as a spec; a published or retired version is read once and cached."""
    if version.status == VersionStatus.DRAFT:
        return spec_load(version)
    stamp = version.published_at.timestamp() if version.published_at else 0
    key = f"guidance:spec:{version.pk}:{version.number}:{stamp}"
    spec = cache.get(key)
    if spec is None:
        spec = spec_load(version)
        cache.set(key, spec, timeout=None)
    return spec


def published_version(*, process_key: str) -> ProcessVersion | None:
    return (
        ProcessVersion.objects.published()
        .select_related("definition")
        .filter(definition__key=process_key)
        .first()
    )


@dataclass(frozen=True)
class ProcessRow:
    """A process on the editor's list, with its versions newest first."""

    definition: ProcessDefinition
    versions: list[ProcessVersion]

    @property
    def published(self) -> ProcessVersion | None:
        return next((v for v in self.versions if v.status == VersionStatus.PUBLISHED), None)

    @property
    def draft(self) -> ProcessVersion | None:
        return next((v for v in self.versions if v.status == VersionStatus.DRAFT), None)


def definition_list() -> list[ProcessRow]:
    """Every process with its versions (newest first), in two queries."""
    definitions = ProcessDefinition.objects.prefetch_related(
        Prefetch("versions", queryset=ProcessVersion.objects.order_by("-number"))
    )
    return [ProcessRow(d, list(d.versions.all())) for d in definitions]


def access_version_by_id(*, user: AbstractBaseUser | AnonymousUser, pk: int) -> ProcessVersion:
    """The one access rule of the process editor: a 403 without the permission, else 404."""
    if not user.has_perm("guidance.change_processdefinition"):
        raise PermissionDenied
    try:
        return ProcessVersion.objects.select_related("definition").get(pk=pk)
    except ProcessVersion.DoesNotExist:
        raise Http404 from None


def version_siblings(*, version: ProcessVersion) -> list[ProcessVersion]:
    """All versions of the same process, newest first."""
    return list(version.definition.versions.order_by("-number"))
