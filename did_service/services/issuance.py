"""Issue credentials: validate, build, sign, record. A credential that could not be recorded is not returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Sequence

from did_service.core import tlog
from did_service.core.credential import IssueRequest, build_credential, enveloped, jwt_claims, parse_issue_request
from did_service.core.did_document import jwk_method_id
from did_service.core.proofs.jose import sign_compact
from did_service.core.schema import SchemaRegistry
from did_service.services.keyring import Keyring, LiveKeyring
from did_service.services.status import StatusService
from did_service.storage.base import CredentialRecord, LogAppend, StatusAllocation, Store


@dataclass(frozen=True)
class IssuedCredential:
    credential: dict[str, Any]
    jwt: str
    record: CredentialRecord
    entry: bytes  # the log entry anchoring it
    leaf_index: int | None = None

    @property
    def enveloped(self) -> dict[str, Any]:
        return enveloped(self.jwt)


class IssuanceService:
    def __init__(
        self, store: Store, keys: LiveKeyring, registry: SchemaRegistry, issuer_did: str, default_alg: str,
        status: StatusService,
    ) -> None:
        self._store = store
        self._keys = keys
        self._status = status
        self._registry = registry
        self.issuer_did = issuer_did
        self._default_alg = default_alg

    def issue(self, body: dict[str, Any], now: datetime) -> IssuedCredential:
        return self.issue_many([body], now)[0]

    def issue_many(self, bodies: Sequence[dict[str, Any]], now: datetime) -> list[IssuedCredential]:
        """Issue several credentials in one durable log append: all are anchored and recorded, or none is returned."""
        keyring, _ = self._keys.current(fresh=True)  # never sign with a key another process just retired
        requests = [parse_issue_request(body, self._registry) for body in bodies]
        allocations = self._status.allocate(len(requests))
        issued = [self._sign(request, keyring, positions, now) for request, positions in zip(requests, allocations)]
        indexes = self._store.append_log(
            [LogAppend(item.entry, tlog.leaf_hash(item.entry), item.record) for item in issued]
        )
        return [replace(item, leaf_index=index) for item, index in zip(issued, indexes)]

    def _sign(
        self, request: IssueRequest, keyring: Keyring, allocations: list[StatusAllocation], now: datetime
    ) -> IssuedCredential:
        key = keyring.for_alg(request.alg or self._default_alg)
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        # Positions are reserved before signing (they are inside the credential); one whose credential is never
        # anchored stays an unused zero bit.
        credential = build_credential(
            request, issuer=self.issuer_did, credential_id=credential_id, now=now,
            status=self._status.entries_for(allocations),
        )
        token = sign_compact(jwt_claims(credential, now), key, jwk_method_id(self.issuer_did, key), "vc+jwt")
        digest = tlog.credential_digest(token)
        entry = tlog.encode_entry(
            tlog.IssuedEntry(
                credential_digest=digest,
                credential_id=credential_id,
                credential_type=request.credential_type.name,
                issuer_kid=jwk_method_id(self.issuer_did, key),
                status=[tlog.StatusRef(self._status.list_url(a.list_id), a.index, a.purpose) for a in allocations],
                time=now,
            )
        )
        record = CredentialRecord(
            credential_id=credential_id,
            credential_type=request.credential_type.name,
            format=request.format,
            digest=digest,
            issuer_kid=key.kid,
            issued_at=now,
            valid_from=request.valid_from or now.replace(microsecond=0),
            valid_until=request.valid_until,
            extra={"status": [{"list_id": a.list_id, "purpose": a.purpose, "index": a.index} for a in allocations]},
        )
        return IssuedCredential(credential=credential, jwt=token, record=record, entry=entry)
