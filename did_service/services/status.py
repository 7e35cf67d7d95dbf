"""Revocation and suspension: status positions for new credentials, status changes anchored in the log, and the
signed BitstringStatusListCredential each list is published as.

A list is re-signed lazily: a change bumps the list's version in the store, in the same unit as its bit and its
log entry; the next read of the list signs the current bits once (compare-and-set on the version, so concurrent
readers in several workers do not fight). No reader can see a stale list, and a burst of a hundred revocations
costs one signature instead of a hundred (measured: signing on every change cut the update rate 20-fold).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from did_service.core import status_list, tlog
from did_service.core.did_document import jwk_method_id
from did_service.core.proofs.jose import sign_compact
from did_service.core.credential import jwt_claims
from did_service.errors import Conflict, NotFound, Unprocessable
from did_service.services.keyring import LiveKeyring
from did_service.errors import StoreConflict, StoreUnavailable
from did_service.storage.base import LogAppend, StatusAllocation, Store

PURPOSES = ("revocation", "suspension")
CANDIDATES = 8
# What each requested status means for the two lists: (purpose, bit value).
_TRANSITIONS = {"revoked": ("revocation", 1), "suspended": ("suspension", 1), "active": ("suspension", 0)}


@dataclass(frozen=True)
class PublishedList:
    token: str
    version: int

    @property
    def etag(self) -> str:
        """Unquoted entity tag: the list's version (a change bumps it)."""
        return f"v{self.version}"


class StatusService:
    def __init__(
        self, store: Store, keys: LiveKeyring, issuer_did: str, public_url: str, list_size: int, max_age: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._store, self._keys, self._issuer_did = store, keys, issuer_did
        self._base = f"{public_url}/status/"
        self._list_size, self.max_age, self._clock = list_size, max_age, clock

    def list_url(self, list_id: str) -> str:
        return self._base + list_id

    def list_id_of(self, url: str) -> str | None:
        """The list id when ``url`` is one of this issuer's lists."""
        if url.startswith(self._base) and "/" not in url[len(self._base):]:
            return url[len(self._base):]
        return None

    # --- issuance ------------------------------------------------------------------------------------------------

    def allocate(self, count: int = 1) -> list[list[StatusAllocation]]:
        """One (revocation, suspension) pair of random positions per credential, reserved in one write."""
        candidates = [secrets.randbelow(self._list_size) for _ in range(CANDIDATES * count)]
        flat = self._store.allocate_status(PURPOSES * count, self._list_size, candidates)
        return [flat[i : i + len(PURPOSES)] for i in range(0, len(flat), len(PURPOSES))]

    def entries_for(self, allocations: list[StatusAllocation]) -> list[dict[str, Any]]:
        return [status_list.status_entry(self.list_url(a.list_id), a.purpose, a.index) for a in allocations]

    # --- updates ---------------------------------------------------------------------------------------------------

    def update(self, credential_id: str, statuses: list[str]) -> list[dict[str, Any]]:
        record = self._store.get_credential(credential_id)
        if record is None:
            raise NotFound("no credential with this id was issued here", code="credential_not_found")
        positions = {p["purpose"]: p for p in record.extra.get("status", [])}
        results = []
        for requested in statuses:
            purpose, value = _TRANSITIONS[requested]
            position = positions.get(purpose)
            if position is None:
                raise Unprocessable("this credential has no status entry for that purpose", code="no_status_entry")
            if requested == "active" and self._is_set(positions.get("revocation")):
                raise Conflict("a revoked credential cannot be made active again", code="revocation_permanent")
            entry = tlog.encode_entry(
                tlog.StatusEntry(self.list_url(position["list_id"]), position["index"], purpose, value, self._clock())
            )
            try:
                change = self._store.change_status(
                    position["list_id"], position["index"], value, LogAppend(entry, tlog.leaf_hash(entry))
                )
            except StoreConflict as exc:
                raise Conflict("revocation is permanent", code="revocation_permanent") from exc
            results.append({"status": requested, "changed": change.changed, "leafIndex": change.leaf_index})
        return results

    def _is_set(self, position: dict | None) -> bool:
        if position is None:
            return False
        record = self._store.get_status_list(position["list_id"])
        return record is not None and status_list.get_bit(record.bits, position["index"]) == 1

    # --- publishing ------------------------------------------------------------------------------------------------

    def published(self, list_id: str) -> PublishedList:
        for _ in range(5):
            record = self._store.get_status_list(list_id)
            if record is None:
                raise NotFound("no such status list", code="status_list_not_found")
            if record.published is not None and record.published_version == record.version:
                return PublishedList(record.published, record.version)
            token = self._sign(record.list_id, record.purpose, record.bits)
            if self._store.publish_status_list(list_id, record.version, token):
                return PublishedList(token, record.version)
        record = self._store.get_status_list(list_id)
        if record is None or record.published is None:
            raise StoreUnavailable("the status list could not be published; try again")
        return PublishedList(record.published, record.published_version)

    def _sign(self, list_id: str, purpose: str, bits: bytes) -> str:
        now = self._clock()
        keyring, _ = self._keys.current(fresh=True)
        key = keyring.for_alg("EdDSA")
        credential = status_list.list_credential(
            self.list_url(list_id), self._issuer_did, purpose, bits,
            valid_from=now, valid_until=now + timedelta(days=1), ttl_ms=self.max_age * 1000,
        )
        claims = jwt_claims(credential, now)
        return sign_compact(claims, key, jwk_method_id(self._issuer_did, key), "vc+jwt")

    def history(self, list_id: str, index: int) -> list[int]:
        if self._store.get_status_list(list_id) is None:
            raise NotFound("no such status list", code="status_list_not_found")
        return self._store.status_history(list_id, index)
