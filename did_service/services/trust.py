"""The verifier's trust registry: managed by operators (CLI, admin API), read by every verification."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

from did_service.core.schema import SchemaRegistry
from did_service.core.trust import TrustRegistry, check_trusted_issuer
from did_service.storage.base import Store, TrustRecord


class TrustService:
    """Entries from the store, plus the service's own issuer for its own types (always; it cannot be removed).

    Verifications read a snapshot at most ``max_age`` seconds old, so a change made by another process (the
    CLI) applies to running workers within that time without a store read per verification.
    """

    def __init__(
        self, store: Store, registry: SchemaRegistry, own_issuer: str,
        clock: Callable[[], float] = time.monotonic, max_age: float = 1.0,
    ) -> None:
        self._store, self._registry, self._own_issuer = store, registry, own_issuer
        self._clock, self._max_age = clock, max_age
        self._snapshot: TrustRegistry | None = None
        self._read_at = float("-inf")

    def current(self) -> TrustRegistry:
        now = self._clock()
        snapshot = self._snapshot
        if snapshot is None or now - self._read_at > self._max_age:
            stored = [(r.issuer, r.credential_type) for r in self._store.list_trust()]
            own = [(self._own_issuer, name) for name in self._registry.names()]
            snapshot = TrustRegistry.of(own + stored)
            self._snapshot, self._read_at = snapshot, now
        return snapshot

    def add(self, issuer: str, credential_type: str, now: datetime) -> bool:
        """True if added, False if the issuer was already trusted for the type."""
        issuer = check_trusted_issuer(issuer)
        self._registry.get(credential_type)  # UnknownCredentialType for a type nobody could check
        added = self._store.add_trust(TrustRecord(issuer, credential_type, now))
        self._snapshot = None
        return added

    def remove(self, issuer: str, credential_type: str) -> bool:
        removed = self._store.remove_trust(issuer, credential_type)
        self._snapshot = None
        return removed

    def entries(self) -> list[dict[str, str]]:
        """Every entry, the built-in ones (this service's issuer) first."""
        own = [{"issuer": self._own_issuer, "type": name, "source": "built-in"} for name in self._registry.names()]
        stored = [{"issuer": r.issuer, "type": r.credential_type, "source": "added", "addedAt": r.added_at.isoformat()}
                  for r in self._store.list_trust()]
        return own + stored
