"""Which platform and variant a request means: the one place that names them or refuses them.

A profile with several variants (Paperspace's gradient and core) has different clocks, stop
verbs and durable directories in each, so a command that acts on one job (plan, render) refuses
to guess and lists the variants; commands that only read facts take the platform's base facts
when no variant is named, and diagnose weighs every variant's clocks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    from .kb.index import Index
    from .kb.model import Profile


def require_profile(index: Index, slug: str, variant: str | None = None) -> Profile:
    """The profile `slug`; a named variant must be one of its own."""
    profile = index.profile(slug)
    if profile is None:
        known = ", ".join(p.slug for p in index.profiles())
        raise UsageError(f"unknown platform `{slug}`", hint=f"known platforms: {known}")
    if variant and variant not in profile.variant_names():
        raise UsageError(f"platform `{slug}` has no variant `{variant}`",
                         hint=f"variants: {', '.join(profile.variant_names())}")
    return profile


def choose_variant(profile: Profile, variant: str | None) -> str:
    """The one variant a job runs on: the named one, the only one, or a refusal listing them."""
    names = profile.variant_names()
    if variant:
        if variant not in names:
            raise UsageError(f"platform `{profile.slug}` has no variant `{variant}`", hint=f"variants: {', '.join(names)}")
        return variant
    if len(names) > 1:
        raise UsageError(f"platform `{profile.slug}` has several variants; pick one with --variant",
                         hint=f"variants: {', '.join(names)}")
    return names[0]
