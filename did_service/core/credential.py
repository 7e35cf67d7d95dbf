"""The W3C VC Data Model 2.0 credential: what a caller may ask for and what the issuer builds.

Pure functions: the time, the credential id and the issuer are passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from jwcrypto import jwk

from did_service.clock import to_xsd_datetime
from did_service.core import did as dids
from did_service.core.schema import RRN_CLAIM, CredentialType, SchemaRegistry
from did_service.errors import (
    DidServiceError,
    ServerControlledField,
    UnknownCredentialType,
    Unprocessable,
    UnsupportedFormat,
)

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
ENVELOPED_TYPE = "EnvelopedVerifiableCredential"
VC_JWT_MEDIA_TYPE = "application/vc+jwt"
SD_JWT_MEDIA_TYPE = "application/dc+sd-jwt"
#: Terms of this service's credential types (bundled in did_service/contexts; needed by Data Integrity proofs,
#: which sign the RDF meaning of a credential: every term must be defined, none left to the v2 @vocab catch-all).
DID_SERVICE_CONTEXT = "https://schemas.did-service.example/contexts/credentials/v1"
CONTEXTS = [VC_V2_CONTEXT, DID_SERVICE_CONTEXT]
FORMATS = ("vc+jwt", "dc+sd-jwt", "eddsa-rdfc-2022", "ecdsa-rdfc-2019")
#: The key type each Data Integrity cryptosuite signs with, by JWS algorithm name.
CRYPTOSUITE_ALGS = {"eddsa-rdfc-2022": "EdDSA", "ecdsa-rdfc-2019": "ES256"}

SERVER_CONTROLLED = ("id", "issuer", "proof", "credentialStatus")
CLIENT_FIELDS = frozenset({"@context", "type", "credentialSubject", "validFrom", "validUntil", "name", "description"})
OPTIONS = frozenset({"format", "alg", "holderPublicJwk"})
MAX_TEXT = 1024

# XML Schema dateTimeStamp as VCDM 2.0 requires: a time zone is mandatory.
_DATETIME = re.compile(
    r"^-?[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
)


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime for a dateTimeStamp string; None when it is not one."""
    if not isinstance(value, str) or not _DATETIME.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # year 1 or 9999 shifted past the datetime range by its offset
        return None


@dataclass(frozen=True)
class IssueRequest:
    credential_type: CredentialType
    subject: dict[str, Any]
    format: str
    alg: str | None
    holder_jwk: dict[str, Any] | None  # dc+sd-jwt: the key the holder proves possession of (cnf.jwk)
    valid_from: datetime | None
    valid_until: datetime | None
    name: str | None
    description: str | None


def parse_issue_request(body: dict[str, Any], registry: SchemaRegistry) -> IssueRequest:
    """Validate a VC API issue request body {credential, options}; raise an Unprocessable error otherwise."""
    unknown_top = set(body) - {"credential", "options"}
    if unknown_top:
        raise Unprocessable("the request may hold only `credential` and `options`", code="unsupported_request_field")
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise Unprocessable("`credential` must be an object", code="invalid_credential")
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise Unprocessable("`options` must be an object", code="invalid_options")

    for name in SERVER_CONTROLLED:
        if name in credential:
            raise ServerControlledField(f"`{name}` is set by the issuer, not the caller")
    unknown = sorted(set(credential) - CLIENT_FIELDS)
    if unknown:
        raise Unprocessable("the credential has members this issuer does not accept", code="unsupported_credential_field")

    contexts = credential.get("@context", CONTEXTS)
    if contexts not in ([VC_V2_CONTEXT], CONTEXTS):
        raise Unprocessable(f"`@context` must be [\"{VC_V2_CONTEXT}\", \"{DID_SERVICE_CONTEXT}\"]",
                            code="unsupported_context")

    types = credential.get("type")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types) or "VerifiableCredential" not in types:
        raise Unprocessable("`type` must be a list holding VerifiableCredential and one credential type", code="invalid_credential")
    specific = [t for t in types if t != "VerifiableCredential"]
    if len(specific) != 1 or len(types) != 2:
        raise UnknownCredentialType("exactly one credential type besides VerifiableCredential is required")
    credential_type = registry.get(specific[0])

    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise Unprocessable("`credentialSubject` must be an object", code="invalid_credential")
    registry.validate_subject(credential_type.name, subject)

    valid_from = _optional_datetime(credential, "validFrom")
    valid_until = _optional_datetime(credential, "validUntil")
    if valid_from and valid_until and valid_until <= valid_from:
        raise Unprocessable("`validUntil` must be later than `validFrom`", code="invalid_validity_period")

    unknown_options = sorted(set(options) - OPTIONS)
    if unknown_options:
        raise Unprocessable("unsupported issuance option", code="unsupported_option")
    fmt = options.get("format", "vc+jwt")
    if fmt not in FORMATS:
        raise UnsupportedFormat(f"`options.format` must be one of: {', '.join(FORMATS)}")
    alg = options.get("alg")
    if alg is not None and alg not in ("EdDSA", "ES256"):
        raise Unprocessable("`options.alg` must be EdDSA or ES256", code="unsupported_alg")
    suite_alg = CRYPTOSUITE_ALGS.get(fmt)
    if suite_alg is not None:
        if alg is not None and alg != suite_alg:
            raise Unprocessable(f"{fmt} signs with {suite_alg}, not {alg}", code="unsupported_alg")
        alg = suite_alg
    holder_jwk = _holder_jwk(options, subject, fmt)
    if RRN_CLAIM in subject and fmt != "dc+sd-jwt":
        # In any other format every verifier shown the credential would see it; only SD-JWT lets the resident
        # disclose it to a bank alone.
        raise Unprocessable(
            "the resident registration number is issued only in dc+sd-jwt, where it is selectively disclosable",
            code="rrn_requires_selective_disclosure",
        )

    return IssueRequest(
        credential_type=credential_type,
        subject=subject,
        format=fmt,
        alg=alg,
        holder_jwk=holder_jwk,
        valid_from=valid_from,
        valid_until=valid_until,
        name=_optional_text(credential, "name"),
        description=_optional_text(credential, "description"),
    )


def _holder_jwk(options: dict[str, Any], subject: dict[str, Any], fmt: str) -> dict[str, Any] | None:
    """The holder's public key for SD-JWT key binding: options.holderPublicJwk, else the subject's did:key/did:jwk.

    A DID whose key needs resolving over the network (did:web) is not resolved here: issuance never waits on a
    third party; such a holder passes its key in options.
    """
    given = options.get("holderPublicJwk")
    if given is not None and fmt != "dc+sd-jwt":
        raise Unprocessable("`options.holderPublicJwk` applies to dc+sd-jwt only", code="unsupported_option")
    if fmt != "dc+sd-jwt":
        return None
    if given is not None:
        return public_holder_jwk(given)
    subject_id = subject.get("id")
    if isinstance(subject_id, str) and subject_id.startswith(("did:key:", "did:jwk:")):
        try:
            document = dids.resolve_offline(subject_id)
            method = dids.find_verification_method(document, document["verificationMethod"][0]["id"], "authentication")
            key = dids.public_key_from_verification_method(method)
        except (DidServiceError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise Unprocessable("the holder DID has no usable key", code="invalid_holder_key") from exc
        return public_holder_jwk(jwk.JWK.from_pyca(key).export_public(as_dict=True))
    return None


def public_holder_jwk(value: Any) -> dict[str, Any]:
    """A holder's public JWK, checked: Ed25519 or P-256, public members only (a private key here is a leak)."""
    if not isinstance(value, dict) or len(value) > 16:
        raise Unprocessable("`holderPublicJwk` must be a JWK object", code="invalid_holder_key")
    if "d" in value or any(k in value for k in ("p", "q", "dp", "dq", "qi", "k")):
        raise Unprocessable("`holderPublicJwk` must hold a public key only", code="invalid_holder_key")
    try:
        key = jwk.JWK(**value)
    except (ValueError, TypeError, jwk.InvalidJWKValue, jwk.InvalidJWKType) as exc:
        raise Unprocessable("`holderPublicJwk` is not a valid JWK", code="invalid_holder_key") from exc
    params = (key.get("kty"), key.get("crv"))
    if params not in (("OKP", "Ed25519"), ("EC", "P-256")):
        raise Unprocessable("`holderPublicJwk` must be an Ed25519 or P-256 key", code="invalid_holder_key")
    public = key.export_public(as_dict=True)
    try:
        dids.public_key_from_jwk(public)  # the point must be on the curve, the lengths exact
    except (DidServiceError, ValueError) as exc:
        raise Unprocessable("`holderPublicJwk` is not a usable public key", code="invalid_holder_key") from exc
    return public


def vct_for(public_url: str, type_name: str) -> str:
    """The SD-JWT VC type identifier of a credential type: an https URL where its type metadata is served."""
    return f"{public_url.rstrip('/')}/vct/{type_name}"


_VCT_TYPE = re.compile(r"https?://[^/?#]+/vct/([A-Z][A-Za-z0-9]*)\Z")


def credential_type_from_vct(vct: str) -> str:
    """The credential type name a vct stands for (the last segment of a .../vct/<Type> URL), else vct itself.

    Any host may use the name, and that is deliberate: a credential claiming a registered type is held to its
    schema and must come from a trusted issuer, whereas an unrecognised vct would only earn a warning.
    """
    match = _VCT_TYPE.match(vct)
    return match.group(1) if match else vct


def _optional_datetime(credential: dict[str, Any], name: str) -> datetime | None:
    if name not in credential:
        return None
    parsed = parse_datetime(credential[name])
    if parsed is None:
        raise Unprocessable(f"`{name}` must be an XML Schema dateTimeStamp with a time zone", code="invalid_datetime")
    return parsed


def _optional_text(credential: dict[str, Any], name: str) -> str | None:
    value = credential.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Unprocessable(f"`{name}` must be a string of at most {MAX_TEXT} characters", code="invalid_credential")
    return value


def build_credential(
    request: IssueRequest, *, issuer: str, credential_id: str, now: datetime, status: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    valid_from = request.valid_from or now
    if request.valid_until and request.valid_until <= max(now, valid_from):
        raise Unprocessable("`validUntil` must be in the future and after `validFrom`", code="invalid_validity_period")
    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", request.credential_type.name],
        "issuer": issuer,
        "validFrom": to_xsd_datetime(valid_from),
    }
    if request.valid_until:
        credential["validUntil"] = to_xsd_datetime(request.valid_until)
    if request.name:
        credential["name"] = request.name
    if request.description:
        credential["description"] = request.description
    credential["credentialSubject"] = request.subject
    if status:
        credential["credentialStatus"] = status
    return credential


def jwt_claims(credential: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The vc+jwt payload: the credential itself plus registered claims that agree with it.

    VC-JOSE-COSE lets the JWT claims sit beside the credential; generic JWT tooling reads nbf/exp/iss, so they
    are derived from (and never contradict) validFrom, validUntil and issuer.
    """
    payload = dict(credential)
    payload["iss"] = credential["issuer"]
    payload["jti"] = credential["id"]
    payload["iat"] = int(now.timestamp())
    valid_from = parse_datetime(credential["validFrom"])
    if valid_from is not None:
        payload["nbf"] = int(valid_from.timestamp())
    if "validUntil" in credential:
        valid_until = parse_datetime(credential["validUntil"])
        if valid_until is not None:
            payload["exp"] = int(valid_until.timestamp())
    subject_id = credential["credentialSubject"].get("id")
    if isinstance(subject_id, str):
        payload["sub"] = subject_id
    return payload


def enveloped(compact: str, media_type: str = VC_JWT_MEDIA_TYPE) -> dict[str, Any]:
    return {"@context": [VC_V2_CONTEXT], "id": f"data:{media_type},{compact}", "type": ENVELOPED_TYPE}


def sd_jwt_vc_claims(
    credential: dict[str, Any], vct: str, holder_jwk: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The SD-JWT VC payload (before disclosures are split off) for a built credential.

    The subject's claims sit at the top level as SD-JWT VC wants; ``sub`` is the subject id, ``jti`` the credential
    id (so the log entry and the status service find it), ``nbf``/``exp`` the validity period. Status stays the
    credential's W3C Bitstring Status List entries, in clear under ``credentialStatus``: a verifier needs them
    whatever the holder discloses, and they carry list positions only.
    """
    claims: dict[str, Any] = {"iss": credential["issuer"], "jti": credential["id"], "iat": int(now.timestamp())}
    valid_from = parse_datetime(credential["validFrom"])
    if valid_from is not None:
        claims["nbf"] = int(valid_from.timestamp())
    if "validUntil" in credential:
        valid_until = parse_datetime(credential["validUntil"])
        if valid_until is not None:
            claims["exp"] = int(valid_until.timestamp())
    claims["vct"] = vct
    subject = dict(credential["credentialSubject"])
    subject_id = subject.pop("id", None)
    if isinstance(subject_id, str):
        claims["sub"] = subject_id
    if holder_jwk is not None:
        claims["cnf"] = {"jwk": holder_jwk}
    if "credentialStatus" in credential:
        claims["credentialStatus"] = credential["credentialStatus"]
    claims.update(subject)
    return claims
