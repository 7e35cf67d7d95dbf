"""The credential verifier against honest tokens and the attacks the foundation issue lists (RFC 8725)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from jwcrypto import jwk, jws

from did_service.config import Settings
from did_service.core import did as dids
from did_service.core.credential import build_credential, jwt_claims, parse_issue_request
from did_service.core.did_document import build_issuer_document, jwk_method_id
from did_service.core.keys import generate_private_key, signing_key_from_private
from did_service.core.proofs.jose import b64url_encode, sign_compact
from did_service.core.schema import SchemaRegistry
from did_service.core.verifier.verify import verify_credential
from did_service.errors import ResolutionError
from did_service.services.resolver import Resolver
from tests.support import issue_body, load_subject

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
ISSUER = "did:web:issuer.example"
REGISTRY = SchemaRegistry.from_directory(Settings().schemas_dir)
ED = signing_key_from_private(generate_private_key("EdDSA"))
P256 = signing_key_from_private(generate_private_key("ES256"))
OTHER = signing_key_from_private(generate_private_key("EdDSA"))
DOCUMENT = build_issuer_document(ISSUER, [ED, P256])
RESOLVE = Resolver(ISSUER, lambda: DOCUMENT)


def credential(**changes) -> dict:
    request = parse_issue_request(issue_body(), REGISTRY)
    vc = build_credential(request, issuer=ISSUER, credential_id="urn:uuid:1b0d7a4e-54c0-4f3e-9f0b-6b0c6f2d3d11", now=NOW - timedelta(days=1))
    vc.update(changes)
    return vc


def signed(payload: dict | None = None, key=ED, header: dict | None = None) -> str:
    """A token with an arbitrary header, signed by ``key`` (for building attacks)."""
    payload = payload if payload is not None else jwt_claims(credential(), NOW - timedelta(days=1))
    header = header if header is not None else {"alg": key.alg, "kid": jwk_method_id(ISSUER, key), "typ": "vc+jwt"}
    payload_bytes = json.dumps(payload).encode()
    # JWSCore signs whatever header it is given, as an attacker's tooling would.
    signed_parts = jws.JWSCore(header["alg"], key.jwk, json.dumps(header), payload_bytes, None).sign()
    return f"{signed_parts['protected']}.{b64url_encode(payload_bytes)}.{signed_parts['signature']}"


def verify(value, resolve=RESOLVE, now=NOW):
    return verify_credential(value, resolve=resolve, registry=REGISTRY, trusted_issuers={ISSUER}, now=now)


def codes(report) -> list[str]:
    return [e["code"] for e in report.errors]


@pytest.mark.parametrize("key", [ED, P256], ids=["EdDSA", "ES256"])
def test_honest_credential_verifies(key):
    token = sign_compact(jwt_claims(credential(), NOW), key, jwk_method_id(ISSUER, key), "vc+jwt")
    report = verify(token)
    assert report.verified, report.to_dict()
    assert [c.id for c in report.checks] == ["format", "issuer_key", "signature", "data_model", "validity_period", "schema", "trusted_issuer"]


def _b64(obj) -> str:
    return b64url_encode(json.dumps(obj).encode())


def _one_char_changed(token: str, index: int) -> str:
    ch = token[index]
    return token[:index] + ("B" if ch != "B" else "C") + token[index + 1 :]


GOOD = sign_compact(jwt_claims(credential(), NOW), ED, jwk_method_id(ISSUER, ED), "vc+jwt")
HEADER, PAYLOAD, SIGNATURE = GOOD.split(".")


def _hs256_with_public_key() -> str:
    # Algorithm confusion: HMAC keyed with the issuer's public key bytes.
    secret = jwk.JWK(kty="oct", k=b64url_encode(json.dumps(ED.public_jwk).encode()))
    token = jws.JWS(json.dumps(jwt_claims(credential(), NOW)).encode())
    token.add_signature(secret, alg="HS256", protected=json.dumps({"alg": "HS256", "kid": jwk_method_id(ISSUER, ED), "typ": "vc+jwt"}))
    return token.serialize(compact=True)


ATTACKS = {
    "garbage": ("not a token", "malformed_credential"),
    "empty": ("", "malformed_credential"),
    "truncated": (GOOD[: len(GOOD) // 2], "malformed_credential"),
    "truncated_signature": (GOOD[:-10], "invalid_signature"),
    "payload_char_changed": (f"{HEADER}.{_one_char_changed(PAYLOAD, 40)}.{SIGNATURE}", None),
    "signature_char_changed": (f"{HEADER}.{PAYLOAD}.{_one_char_changed(SIGNATURE, 5)}", "invalid_signature"),
    "alg_none": (f"{_b64({'alg': 'none', 'typ': 'vc+jwt'})}.{PAYLOAD}.", "unsupported_alg"),
    "alg_none_upper": (f"{_b64({'alg': 'NONE', 'typ': 'vc+jwt'})}.{PAYLOAD}.{SIGNATURE}", "unsupported_alg"),
    "alg_list": (f"{_b64({'alg': ['EdDSA'], 'typ': 'vc+jwt'})}.{PAYLOAD}.{SIGNATURE}", "unsupported_alg"),
    "hs256_public_key": (_hs256_with_public_key(), "unsupported_alg"),
    "embedded_jwk": (signed(key=OTHER, header={"alg": "EdDSA", "typ": "vc+jwt", "kid": jwk_method_id(ISSUER, ED), "jwk": OTHER.public_jwk}), "untrusted_key_header"),
    "jku": (signed(header={"alg": "EdDSA", "typ": "vc+jwt", "kid": jwk_method_id(ISSUER, ED), "jku": "https://evil.example/jwks"}), "untrusted_key_header"),
    "x5c": (signed(header={"alg": "EdDSA", "typ": "vc+jwt", "kid": jwk_method_id(ISSUER, ED), "x5c": ["MIIB"]}), "untrusted_key_header"),
    "crit": (signed(header={"alg": "EdDSA", "typ": "vc+jwt", "kid": jwk_method_id(ISSUER, ED), "crit": ["exp"], "exp": 1}), "unsupported_critical_header"),
    "kid_other_did": (signed(key=OTHER, header={"alg": "EdDSA", "typ": "vc+jwt", "kid": dids.did_key_from_public_key(OTHER.public_key) + "#" + dids.did_key_from_public_key(OTHER.public_key).split(":")[2]}), "kid_mismatch"),
    "kid_unknown_fragment": (signed(key=OTHER, header={"alg": "EdDSA", "typ": "vc+jwt", "kid": ISSUER + "#not-a-key"}), "key_not_found"),
    "kid_missing": (signed(header={"alg": "EdDSA", "typ": "vc+jwt"}), "missing_kid"),
    "signed_by_other_key": (signed(key=OTHER, header={"alg": "EdDSA", "typ": "vc+jwt", "kid": jwk_method_id(ISSUER, ED)}), "invalid_signature"),
    "alg_key_mismatch": (signed(key=P256, header={"alg": "ES256", "typ": "vc+jwt", "kid": jwk_method_id(ISSUER, ED)}), "alg_key_mismatch"),
    "wrong_typ": (signed(header={"alg": "EdDSA", "typ": "JWT", "kid": jwk_method_id(ISSUER, ED)}), "invalid_typ"),
    "jwe": ("a.b.c.d.e", "malformed_credential"),
    "duplicate_header_member": (
        b64url_encode(b'{"alg":"EdDSA","alg":"none","typ":"vc+jwt"}') + f".{PAYLOAD}.{SIGNATURE}",
        "malformed_credential",
    ),
    "payload_not_object": (signed(payload=[1, 2]), "malformed_credential"),  # type: ignore[arg-type]
    "expired": (signed(jwt_claims(credential(validUntil="2026-11-24T00:00:00Z"), NOW)), "expired"),
    "exp_claim_past": (signed({**jwt_claims(credential(), NOW), "exp": int((NOW - timedelta(hours=1)).timestamp())}), "expired"),
    "not_yet_valid": (signed(jwt_claims(credential(validFrom="2026-12-25T00:00:00Z"), NOW)), "not_yet_valid"),
    "iss_mismatch": (signed({**jwt_claims(credential(), NOW), "iss": "did:web:other.example"}), "issuer_mismatch"),
    "issuer_not_did": (signed({**jwt_claims(credential(issuer="https://issuer.example"), NOW), "iss": "https://issuer.example"}), "unsupported_issuer"),
    "schema_violation": (signed(jwt_claims(credential(credentialSubject={**load_subject(), "residentRegistrationNumber": "x"}), NOW)), "schema_violation"),
    "wrong_context": (signed(jwt_claims(credential(**{"@context": ["https://example.com/ctx"]}), NOW)), "invalid_context"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_never_verified(name):
    token, expected_code = ATTACKS[name]
    report = verify(token)
    assert report.verified is False
    assert report.errors, report.to_dict()
    if expected_code:
        assert expected_code in codes(report), report.to_dict()


def test_payload_change_fails_signature_or_format():
    report = verify(ATTACKS["payload_char_changed"][0])
    assert set(codes(report)) & {"invalid_signature", "malformed_credential"}


def test_leeway_is_60_seconds():
    vc = credential(validUntil="2026-11-25T11:59:30Z")
    assert verify(signed(jwt_claims(vc, NOW - timedelta(days=2)))).verified  # 30 s past: inside leeway
    vc = credential(validUntil="2026-11-25T11:58:30Z")
    assert "expired" in codes(verify(signed(jwt_claims(vc, NOW - timedelta(days=2)))))


def test_enveloped_form_and_bad_envelopes():
    assert verify({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "EnvelopedVerifiableCredential", "id": f"data:application/vc+jwt,{GOOD}"}).verified
    report = verify({"type": "EnvelopedVerifiableCredential", "id": f"data:application/jwt,{GOOD}"})
    assert codes(report) == ["unsupported_format"]
    # A Data Integrity proof is read now; an empty one names what is wrong with it.
    assert codes(verify({"type": ["VerifiableCredential"], "proof": {}})) == ["unsupported_proof_type"]
    assert codes(verify(42)) == ["malformed_credential"]


def test_resolution_outage_is_could_not_run_not_verified():
    def offline(did):
        raise ResolutionError("host unreachable", transient=True)

    report = verify(GOOD, resolve=offline)
    assert not report.verified
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses["issuer_key"] == "could_not_run"
    assert statuses["signature"] == "could_not_run"


def test_status_entry_cannot_be_checked_yet_so_not_verified():
    vc = credential(credentialStatus={"type": "BitstringStatusListEntry", "statusPurpose": "revocation"})
    report = verify(signed(jwt_claims(vc, NOW)))
    assert not report.verified
    assert {"status": "could_not_run"}.items() <= [c.to_dict() for c in report.checks if c.id == "status"][0].items()


def test_unknown_type_from_other_issuer_verifies_with_warning():
    vc = credential(type=["VerifiableCredential", "MembershipCredential"], credentialSubject={"member": True})
    report = verify(signed(jwt_claims(vc, NOW)))
    assert report.verified, report.to_dict()
    assert [w["code"] for w in report.warnings] == ["unknown_credential_type"]


@pytest.mark.parametrize("make_did", ["key", "jwk"])
def test_vc_1_1_jwt_from_offline_did_verifies(make_did):
    holder = signing_key_from_private(generate_private_key("ES256"))
    issuer = dids.did_key_from_public_key(holder.public_key) if make_did == "key" else dids.did_jwk_from_public_key(holder.public_key)
    document = Resolver("did:web:unused.example", dict).resolve(issuer)
    kid = document["assertionMethod"][0]
    kid = kid if isinstance(kid, str) else kid["id"]
    payload = {
        "iss": issuer,
        "sub": "did:example:subject",
        "jti": "urn:uuid:6a3b1c1e-0d37-4b1f-9f0b-000000000001",
        "nbf": int((NOW - timedelta(days=1)).timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "vc": {
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "type": ["VerifiableCredential", "UniversityDegreeCredential"],
            "credentialSubject": {"degree": {"type": "BachelorDegree"}},
        },
    }
    token = signed(payload, key=holder, header={"alg": "ES256", "typ": "JWT", "kid": kid})
    report = verify(token, resolve=Resolver("did:web:unused.example", dict))
    assert report.verified, report.to_dict()
    expired = signed({**payload, "exp": int((NOW - timedelta(days=1)).timestamp())}, key=holder, header={"alg": "ES256", "typ": "JWT", "kid": kid})
    assert "expired" in codes(verify(expired, resolve=Resolver("did:web:unused.example", dict)))


def test_registered_type_from_an_untrusted_issuer_is_not_verified():
    """A did:key can sign a perfect ResidentIdentityCredential; it must still not verify."""
    forger = signing_key_from_private(generate_private_key("EdDSA"))
    forger_did = dids.did_key_from_public_key(forger.public_key)
    kid = forger_did + "#" + forger_did.split(":")[2]
    vc = credential(issuer=forger_did)
    token = signed(jwt_claims(vc, NOW), key=forger, header={"alg": "EdDSA", "typ": "vc+jwt", "kid": kid})
    report = verify(token)
    assert not report.verified
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses["signature"] == "passed" and statuses["trusted_issuer"] == "failed"
    assert codes(report) == ["untrusted_issuer"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_datetimes_at_the_edge_of_the_calendar_fail_cleanly(moment):
    for member in ("validFrom", "validUntil"):
        report = verify(signed(jwt_claims(credential(**{member: moment}), NOW) | {"nbf": 0}))
        assert not report.verified
        assert "invalid_datetime" in codes(report)


def test_vc_1_1_issuer_mismatch_and_object_issuer():
    vc = credential(issuer={"id": ISSUER, "name": "Jeju"})
    assert verify(signed(jwt_claims(vc, NOW) | {"iss": ISSUER})).verified
    holder = signing_key_from_private(generate_private_key("EdDSA"))
    issuer = dids.did_key_from_public_key(holder.public_key)
    payload = {"iss": issuer, "vc": {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiableCredential"],
               "issuer": "did:key:someone-else", "credentialSubject": {"a": 1}}}
    kid = issuer + "#" + issuer.split(":")[2]
    report = verify(signed(payload, key=holder, header={"alg": "EdDSA", "typ": "JWT", "kid": kid}), resolve=Resolver("did:web:x.example", dict))
    assert "issuer_mismatch" in codes(report)
