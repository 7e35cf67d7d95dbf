"""Time is read here and passed into the core, never read inside it."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_xsd_datetime(moment: datetime) -> str:
    """VCDM dateTimeStamp form, second precision, always UTC with a Z."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
