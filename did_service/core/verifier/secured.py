"""Secured credentials in every format the verifier accepts, behind one shape.

A verify request carries a compact `vc+jwt` (or a VC 1.1 JWT), an SD-JWT VC (`dc+sd-jwt`, with or without a
Key Binding JWT), either of them as an EnvelopedVerifiableCredential, or a JSON-LD credential with a Data
Integrity proof. ``read_secured`` recognises the format from the value's shape alone and returns a
``Secured``: what the checks need before any key is known (issuer, verification method, which key type the
proof needs, the digest the issuer's log anchors), and ``open``, which checks the proof with a key and returns
the credential it protects. Nothing here resolves DIDs or fetches anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from jwcrypto.jwk import JWK

from did_service.core.credential import (
    CRYPTOSUITE_ALGS,
    ENVELOPED_TYPE,
    SD_JWT_MEDIA_TYPE,
    VC_JWT_MEDIA_TYPE,
    VC_V2_CONTEXT,
    credential_type_from_vct,
)
from did_service.core.keys import PublicKey
from did_service.core.proofs import data_integrity, sd_jwt
from did_service.core.proofs.jose import JoseError, ParsedJws, parse_compact, verify_signature
from did_service.core.tlog.entries import credential_digest, data_integrity_digest
from did_service.errors import DidServiceError

KeyMaterial = tuple[PublicKey, JWK]


class ProofFailure(Exception):
    """The proof did not verify. ``check`` names the report check that failed; ``passed`` those that passed first."""

    def __init__(self, check: str, code: str, detail: str, passed: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.check, self.code, self.detail, self.passed = check, code, detail, passed


@dataclass(frozen=True)
class Binding:
    """What a presentation must be bound to: the verifier's fresh nonce (challenge) and its own identifier."""

    nonce: str
    audience: str


@dataclass(frozen=True)
class Opened:
    """A credential as the checks read it: VC Data Model member names, whatever the format."""

    credential: dict[str, Any]
    version: str  # "2.0" | "1.1"
    claims: dict[str, Any] = field(default_factory=dict)  # JWT registered claims (nbf, exp, iat, iss, jti)
    disclosed_subset: bool = False  # selective disclosure: claims the type declares disclosable may be absent


@dataclass(frozen=True)
class Secured:
    format: str  # "vc+jwt" | "jwt-vc-1.1" | "dc+sd-jwt" | "eddsa-rdfc-2022" | "ecdsa-rdfc-2019"
    issuer: str | None
    verification_method: str | None  # as written: absolute DID URL or a fragment relative to the issuer
    key_alg: str  # the JWS algorithm name of the key type the proof needs
    digest: str  # what the issuer's transparency log anchors for this credential (docs/formats.md)
    open: Callable[[KeyMaterial, datetime, Binding | None], Opened]
    # The credential read without checking the proof, when the format allows it: the other checks still report
    # on it, so a caller learns everything that is wrong at once. None when nothing is readable unverified.
    unverified: Opened | None = None


def read_secured(value: Any) -> Secured:
    """Recognise and parse ``value``; raise a DidServiceError with the format's code when it is none of them."""
    if isinstance(value, str):
        text = value.strip()
        return _read_sd_jwt(text) if "~" in text else _read_jwt(text)
    if isinstance(value, dict):
        types = value.get("type")
        types = [types] if isinstance(types, str) else types
        if isinstance(types, list) and ENVELOPED_TYPE in types:
            ident = value.get("id")
            if isinstance(ident, str):
                for media_type, reader in ((VC_JWT_MEDIA_TYPE, _read_jwt), (SD_JWT_MEDIA_TYPE, _read_sd_jwt)):
                    prefix = f"data:{media_type},"
                    if ident.startswith(prefix):
                        return reader(ident[len(prefix):])
            raise JoseError(
                "the enveloped credential is not a data: URL of application/vc+jwt or application/dc+sd-jwt",
                code="unsupported_format",
            )
        if "proof" in value:
            return _read_data_integrity(value)
    raise JoseError(
        "expected a compact vc+jwt or SD-JWT, an EnvelopedVerifiableCredential, or a credential with a Data "
        "Integrity proof",
        code="malformed_credential",
    )


def issuer_id(issuer: Any) -> str | None:
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


# --- vc+jwt and VC 1.1 JWT -----------------------------------------------------------------------------------


def _read_jwt(token: str) -> Secured:
    parsed = parse_compact(token)
    version, credential, issuer = _classify(parsed)
    opened = Opened(credential=credential, version=version, claims=parsed.payload)

    def open_(key: KeyMaterial, now: datetime, binding: Binding | None) -> Opened:
        if binding is not None:
            raise ProofFailure("holder_binding", "holder_binding_unsupported",
                               "a JWT credential carries no holder binding; present it inside a signed presentation")
        try:
            verify_signature(parsed, *key)
        except JoseError as exc:
            raise ProofFailure("signature", exc.code, exc.detail) from exc
        return opened

    return Secured(
        format="vc+jwt" if version == "2.0" else "jwt-vc-1.1",
        issuer=issuer_id(issuer),
        verification_method=parsed.header.get("kid"),
        key_alg=parsed.alg,
        digest=credential_digest(token),
        open=open_,
        unverified=opened,
    )


def _classify(parsed: ParsedJws) -> tuple[str, dict[str, Any], Any]:
    typ = parsed.header.get("typ")
    payload = parsed.payload
    if typ == "vc+jwt":
        if "vc" in payload:
            raise JoseError("a vc+jwt payload is the credential itself, not a `vc` claim", code="invalid_typ")
        return "2.0", payload, payload.get("issuer")
    if typ in (None, "JWT") and isinstance(payload.get("vc"), dict):
        # VC 1.1 JWT encoding (VCDM 1.1 section 6.3.1): registered claims stand in for credential members.
        credential = dict(payload["vc"])
        if "jti" in payload:
            credential.setdefault("id", payload["jti"])
        subject = credential.get("credentialSubject")
        if isinstance(subject, dict) and isinstance(payload.get("sub"), str):
            credential["credentialSubject"] = {**subject, "id": subject.get("id", payload["sub"])}
        return "1.1", credential, payload.get("iss")
    raise JoseError("the token type is neither vc+jwt nor a VC 1.1 JWT", code="invalid_typ")


# --- SD-JWT VC -----------------------------------------------------------------------------------------------

# Claims of an SD-JWT VC that are about the token, not the subject (SD-JWT VC section 3.2.2 and RFC 7519).
SD_JWT_VC_REGISTERED = frozenset({"iss", "vct", "vct#integrity", "iat", "nbf", "exp", "sub", "jti", "cnf", "status",
                                  "credentialStatus", "_sd", "_sd_alg"})
# sd_jwt.verify checks in RFC 9901 order (signature, then disclosures, then key binding), so a code says which
# report check failed and which passed before it.
_BINDING_CODES = frozenset({"key_binding_required", "invalid_kb_jwt", "kb_nonce_mismatch", "kb_audience_mismatch",
                            "kb_iat_out_of_window", "sd_hash_mismatch", "missing_cnf", "invalid_cnf",
                            "holder_key_mismatch"})
_DISCLOSURE_CODES = frozenset({"invalid_disclosure", "duplicate_disclosure", "unreferenced_disclosure",
                               "duplicate_digest", "forbidden_claim_name", "unsupported_sd_alg",
                               "misplaced_disclosure", "missing_vct"})


def _read_sd_jwt(text: str) -> Secured:
    parsed = sd_jwt.parse(text)
    payload = parsed.issuer_jwt.payload

    def open_(key: KeyMaterial, now: datetime, binding: Binding | None) -> Opened:
        try:
            claims = sd_jwt.verify(
                parsed, key[0], now=now, require_key_binding=binding is not None,
                audience=binding.audience if binding else None, nonce=binding.nonce if binding else None,
            )
        except ValueError as exc:  # a key type SD-JWT does not sign with; issuer_key normally refuses it first
            raise ProofFailure("signature", "unsupported_key", "the issuer key type is not supported") from exc
        except (sd_jwt.SdJwtError, JoseError) as exc:
            if exc.code in _BINDING_CODES:
                raise ProofFailure("holder_binding", exc.code, exc.detail, passed=("signature", "disclosures")) from exc
            if exc.code in _DISCLOSURE_CODES:
                raise ProofFailure("disclosures", exc.code, exc.detail, passed=("signature",)) from exc
            raise ProofFailure("signature", exc.code, exc.detail) from exc
        # A Key Binding JWT checked without the verifier's own nonce and audience proves nothing about this
        # verifier, so holder_binding is reported only when a presentation was asked for (binding given).
        return Opened(credential=sd_jwt_vc_view(claims), version="2.0", claims=claims, disclosed_subset=True)

    return Secured(
        format="dc+sd-jwt",
        issuer=payload.get("iss") if isinstance(payload.get("iss"), str) else None,
        verification_method=parsed.issuer_jwt.header.get("kid"),
        key_alg=parsed.issuer_jwt.alg,
        # The issuer-signed JWT alone: every presentation of the credential, whatever it discloses, carries it.
        digest=sd_jwt.digest_of_issuer_jwt(parsed.text),
        open=open_,
    )


def sd_jwt_vc_view(claims: dict[str, Any]) -> dict[str, Any]:
    """The VC Data Model reading of SD-JWT VC claims: subject claims under credentialSubject, the type from vct."""
    subject = {name: value for name, value in claims.items() if name not in SD_JWT_VC_REGISTERED}
    if isinstance(claims.get("sub"), str):
        subject["id"] = claims["sub"]
    vct = claims.get("vct")
    view: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "type": ["VerifiableCredential", credential_type_from_vct(vct) if isinstance(vct, str) else "unknown"],
        "issuer": claims.get("iss"),
        "credentialSubject": subject,
    }
    if "jti" in claims:
        view["id"] = claims["jti"]
    if "credentialStatus" in claims:
        view["credentialStatus"] = claims["credentialStatus"]
    return view


# --- Data Integrity ------------------------------------------------------------------------------------------

def _read_data_integrity(document: dict[str, Any]) -> Secured:
    unsecured, proof = data_integrity.read_proof(document)
    version = "2.0" if _first_context(unsecured) == VC_V2_CONTEXT else "1.1"
    opened = Opened(credential=unsecured, version=version)

    def open_(key: KeyMaterial, now: datetime, binding: Binding | None) -> Opened:
        if binding is not None:
            raise ProofFailure("holder_binding", "holder_binding_unsupported",
                               "a credential's own proof is the issuer's; present it inside a signed presentation")
        try:
            data_integrity.verify_proof(document, proof, key[0], expected_purpose="assertionMethod", now=now)
        except DidServiceError as exc:
            raise ProofFailure("signature", exc.code, exc.detail) from exc
        return opened

    return Secured(
        format=proof.cryptosuite,
        issuer=issuer_id(unsecured.get("issuer")),
        verification_method=proof.verification_method,
        key_alg=CRYPTOSUITE_ALGS[proof.cryptosuite],
        digest=data_integrity_digest(document),  # the same function the issuer anchors with
        open=open_,
        unverified=opened,
    )


def _first_context(document: dict[str, Any]) -> Any:
    contexts = document.get("@context")
    return contexts[0] if isinstance(contexts, list) and contexts else contexts

