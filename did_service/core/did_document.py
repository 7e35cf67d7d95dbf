"""The issuer's did:web DID document, built with pydid.

Each key appears twice: as a Multikey (the form Data Integrity proofs name) and as a JsonWebKey (the form
JOSE tokens name by ``kid``). Both are listed under assertionMethod and authentication.
"""

from __future__ import annotations

from typing import Iterable

from pydid import DIDDocumentBuilder
from pydid.verification_method import Multikey, UnknownVerificationMethod

from did_service.core.did import public_key_multibase
from did_service.core.keys import SigningKey

DID_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]


def jwk_method_id(did: str, key: SigningKey) -> str:
    return f"{did}#{key.kid}"


def multikey_method_id(did: str, key: SigningKey) -> str:
    return f"{did}#{public_key_multibase(key.public_key)}"


def build_issuer_document(
    did: str, keys: Iterable[SigningKey], *, log_endpoint: str | None = None, log_vkey: str | None = None
) -> dict:
    """``keys``: every issuer key, retired ones included, so credentials they signed still verify.

    The transparency log is a service entry: its endpoint and the C2SP verifier key its checkpoints are signed with.
    """
    builder = DIDDocumentBuilder(did, context=list(DID_CONTEXTS))
    for key in keys:
        for method in (
            builder.verification_method.add(
                Multikey, ident=multikey_method_id(did, key).split("#", 1)[1],
                public_key_multibase=public_key_multibase(key.public_key),
            ),
            # pydid knows only JsonWebKey2020; the Controlled Identifiers 1.0 `JsonWebKey` type goes in as-is.
            builder.verification_method.add(
                UnknownVerificationMethod, ident=key.kid, type="JsonWebKey", public_key_jwk=key.public_jwk
            ),
        ):
            builder.assertion_method.reference(method.id)
            builder.authentication.reference(method.id)
    document = builder.build().serialize()
    if log_endpoint:
        document["service"] = [
            {"id": f"{did}#transparency-log", "type": "TransparencyLog", "serviceEndpoint": log_endpoint, "verifierKey": log_vkey}
        ]
    return document


def build_verifier_document(did: str, keys: Iterable[SigningKey], relationship: str) -> dict:
    """The verifier's own DID document (``assertionMethod``: decision receipts are its assertions) or a tenant's
    client identity (``authentication``: request objects authenticate the client). Each document names its keys
    under that one relationship, so a key serving one purpose is never accepted for the other: a tenant DID
    can never appear to have issued a credential."""
    if relationship not in ("assertionMethod", "authentication"):
        raise ValueError("a verifier document lists its keys for assertionMethod or authentication")
    builder = DIDDocumentBuilder(did, context=list(DID_CONTEXTS))
    for key in keys:
        method = builder.verification_method.add(
            UnknownVerificationMethod, ident=key.kid, type="JsonWebKey", public_key_jwk=key.public_jwk
        )
        (builder.assertion_method if relationship == "assertionMethod" else builder.authentication).reference(method.id)
    return builder.build().serialize()
