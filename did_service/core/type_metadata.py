"""SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc, section 6) for the registered credential types.

A wallet that meets a ``vct`` it does not know fetches this document to learn the type's name in the resident's
language, which claims it may hold, which of them are selectively disclosable, and a JSON Schema of the payload
after disclosures are processed.
"""

from __future__ import annotations

from typing import Any

from did_service.core.credential import vct_for
from did_service.core.schema import SchemaRegistry

# Claims of the token itself, which the published schema must allow beside the subject's claims.
_TOKEN_CLAIMS: dict[str, Any] = {
    "iss": {"type": "string"},
    "vct": {"type": "string"},
    "iat": {"type": "integer"},
    "nbf": {"type": "integer"},
    "exp": {"type": "integer"},
    "jti": {"type": "string"},
    "sub": {"type": "string"},
    "cnf": {"type": "object"},
    "credentialStatus": {"type": "array"},
}


def type_metadata(registry: SchemaRegistry, type_name: str, public_url: str) -> dict[str, Any]:
    credential_type = registry.get(type_name)
    schema = registry.compiled_schema(type_name)
    properties = schema.setdefault("properties", {})
    properties.pop("id", None)  # the subject id travels as `sub`
    properties.update(_TOKEN_CLAIMS)
    schema["required"] = sorted({"iss", "vct", *[name for name in schema.get("required", []) if name in properties]})
    disclosable = credential_type.disclosable
    claims = [{"path": list(path), "sd": "always"} for path in disclosable]
    claims += [
        {"path": [name], "sd": "never"}
        for name in sorted(properties)
        if name not in _TOKEN_CLAIMS and (name,) not in disclosable
    ]
    names = credential_type.display_name
    return {
        "vct": vct_for(public_url, type_name),
        "name": names["en"],
        "display": [{"lang": "ko-KR", "name": names["ko"]}, {"lang": "en-US", "name": names["en"]}],
        "claims": claims,
        "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema},
    }
