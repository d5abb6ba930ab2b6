"""Reads of process knowledge, with a cache for published versions (they never change)."""

from __future__ import annotations

from django.core.cache import cache

from guidance.models import ProcessVersion, VersionStatus
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
