"""The W3C VC Data Model 2.0 credential: what a caller may ask for and what the issuer builds.

Pure functions: the time, the credential id and the issuer are passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from did_service.clock import to_xsd_datetime
from did_service.core.schema import CredentialType, SchemaRegistry
from did_service.errors import ServerControlledField, UnknownCredentialType, Unprocessable, UnsupportedFormat

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
ENVELOPED_TYPE = "EnvelopedVerifiableCredential"
VC_JWT_MEDIA_TYPE = "application/vc+jwt"
FORMATS = ("vc+jwt",)

SERVER_CONTROLLED = ("id", "issuer", "proof", "credentialStatus")
CLIENT_FIELDS = frozenset({"@context", "type", "credentialSubject", "validFrom", "validUntil", "name", "description"})
OPTIONS = frozenset({"format", "alg"})
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

    contexts = credential.get("@context", [VC_V2_CONTEXT])
    if not isinstance(contexts, list) or contexts != [VC_V2_CONTEXT]:
        raise Unprocessable(f"`@context` must be [\"{VC_V2_CONTEXT}\"]", code="unsupported_context")

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

    return IssueRequest(
        credential_type=credential_type,
        subject=subject,
        format=fmt,
        alg=alg,
        valid_from=valid_from,
        valid_until=valid_until,
        name=_optional_text(credential, "name"),
        description=_optional_text(credential, "description"),
    )


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
        "@context": [VC_V2_CONTEXT],
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


def enveloped(jwt: str) -> dict[str, Any]:
    return {"@context": [VC_V2_CONTEXT], "id": f"data:{VC_JWT_MEDIA_TYPE},{jwt}", "type": ENVELOPED_TYPE}
