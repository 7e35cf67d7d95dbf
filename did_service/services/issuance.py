"""Issue credentials: validate, build, sign, record. A credential that could not be recorded is not returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Sequence

from did_service.clock import to_xsd_datetime
from did_service.core import tlog
from did_service.core.credential import (
    SD_JWT_MEDIA_TYPE,
    VC_JWT_MEDIA_TYPE,
    IssueRequest,
    build_credential,
    enveloped,
    jwt_claims,
    parse_issue_request,
    sd_jwt_vc_claims,
    vct_for,
)
from did_service.core.did_document import jwk_method_id
from did_service.core.keys import SigningKey
from did_service.core.proofs import data_integrity, sd_jwt
from did_service.core.proofs.jose import sign_compact
from did_service.core.schema import SchemaRegistry
from did_service.services.keyring import Keyring, LiveKeyring
from did_service.services.status import StatusService
from did_service.storage.base import CredentialRecord, LogAppend, StatusAllocation, Store


@dataclass(frozen=True)
class IssuedCredential:
    credential: dict[str, Any]  # the unsecured VC Data Model credential
    format: str
    secured: str | dict[str, Any]  # compact vc+jwt or SD-JWT (with every disclosure), or the Data Integrity document
    record: CredentialRecord
    entry: bytes  # the log entry anchoring it
    leaf_index: int | None = None

    @property
    def verifiable_credential(self) -> dict[str, Any]:
        """The VC API form: a Data Integrity document as it is, a compact form as an EnvelopedVerifiableCredential."""
        if isinstance(self.secured, dict):
            return self.secured
        return enveloped(self.secured, SD_JWT_MEDIA_TYPE if self.format == "dc+sd-jwt" else VC_JWT_MEDIA_TYPE)


class IssuanceService:
    def __init__(
        self, store: Store, keys: LiveKeyring, registry: SchemaRegistry, issuer_did: str, default_alg: str,
        status: StatusService, public_url: str,
    ) -> None:
        self._store = store
        self._keys = keys
        self._status = status
        self._registry = registry
        self.issuer_did = issuer_did
        self._default_alg = default_alg
        self._public_url = public_url

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
        secured, digest = self._secure(request, credential, key, now)
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
        return IssuedCredential(
            credential=credential, format=request.format, secured=secured, record=record, entry=entry
        )

    def _secure(
        self, request: IssueRequest, credential: dict[str, Any], key: SigningKey, now: datetime
    ) -> tuple[str | dict[str, Any], str]:
        """The credential secured in the requested format, and the digest its log entry anchors (docs/formats.md)."""
        method = jwk_method_id(self.issuer_did, key)
        if request.format == "vc+jwt":
            token = sign_compact(jwt_claims(credential, now), key, method, "vc+jwt")
            return token, tlog.credential_digest(token)
        if request.format == "dc+sd-jwt":
            claims = sd_jwt_vc_claims(
                credential, vct_for(self._public_url, request.credential_type.name), request.holder_jwk, now
            )
            text = sd_jwt.issue(
                claims, key=key, kid=method, disclosable=request.credential_type.disclosable,
                holder_jwk=request.holder_jwk,
            )
            return text, sd_jwt.digest_of_issuer_jwt(text)
        document = data_integrity.add_proof(
            credential, key.private_key, method, cryptosuite=request.format, created=to_xsd_datetime(now)
        )
        return document, tlog.data_integrity_digest(document)
