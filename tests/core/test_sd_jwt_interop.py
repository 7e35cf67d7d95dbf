"""SD-JWT interop with the reference implementation (PyPI `sd-jwt` 0.10.4, which generated RFC 9901's examples).

Known limits of the reference package that shape these tests (not our behaviour): its verifier checks a KB-JWT
only with ES256 (so holder keys here are P-256 where it verifies key binding), it never checks the KB-JWT's iat,
and its holder stamps the KB-JWT with the wall clock (patched here to the test's time).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from jwcrypto import jwk

import sd_jwt.holder as ref_holder
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from did_service.core.keys import SigningKey, generate_private_key, signing_key_from_private
from did_service.core.proofs import sd_jwt as ours
from tests.support import load_subject

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
AUD = "https://bank.example"
NONCE = "interop-nonce-81"
SUBJECT = load_subject("ResidentIdentityCredential")
CLEAR = {
    "iss": "did:web:issuer.example",
    "vct": "https://issuer.example/credentials/ResidentIdentityCredential",
    "iat": 1767000000,
    "exp": 1798536000,
}
HOUSEHOLD = [{"name": "Kim", "relation": "spouse"}, {"name": "Lee", "relation": "child"}]


def _key(alg: str) -> SigningKey:
    return signing_key_from_private(generate_private_key(alg))


HOLDER = _key("ES256")


def _public(key: SigningKey) -> jwk.JWK:
    return jwk.JWK(**key.public_jwk)


def _reference_verify(text: str, issuer: SigningKey, key_binding: bool = True) -> dict:
    def issuer_key(iss: str, header: dict) -> jwk.JWK:
        assert iss == CLEAR["iss"]
        return _public(issuer)

    verifier = SDJWTVerifier(
        text, issuer_key, expected_aud=AUD if key_binding else None, expected_nonce=NONCE if key_binding else None
    )
    return verifier.get_verified_payload()


# --- ours -> reference ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("issuer_alg", ["EdDSA", "ES256"])
def test_reference_verifier_accepts_our_issuance_and_key_bound_presentation(issuer_alg: str) -> None:
    issuer = _key(issuer_alg)
    claims = {**CLEAR, **SUBJECT, "householdMembers": HOUSEHOLD}
    disclosable = [(name,) for name in SUBJECT] + [("address", name) for name in SUBJECT["address"]]
    issued = ours.issue(
        claims, key=issuer, kid=issuer.kid, disclosable=disclosable + [("householdMembers", None)],
        holder_jwk=HOLDER.public_jwk,
    )
    reveal = [("givenName",), ("address", "locality"), ("householdMembers", 0)]
    presentation = ours.present(issued, reveal=reveal, holder_key=HOLDER, audience=AUD, nonce=NONCE, now=NOW)

    theirs = _reference_verify(presentation, issuer)
    mine = ours.verify(presentation, issuer.public_key, now=NOW, require_key_binding=True, audience=AUD, nonce=NONCE)
    assert theirs == mine
    assert theirs["address"] == {"locality": SUBJECT["address"]["locality"]}
    assert theirs["householdMembers"] == [HOUSEHOLD[0]] and "familyName" not in theirs

    # The full issuance (no KB) unpacks to every claim there too.
    assert _reference_verify(issued, issuer, key_binding=False) == {**claims, "cnf": mine["cnf"]}


def test_reference_verifier_refuses_our_presentation_for_another_nonce() -> None:
    issuer = _key("EdDSA")
    issued = ours.issue({**CLEAR, **SUBJECT}, key=issuer, kid=issuer.kid, disclosable=[("givenName",)], holder_jwk=HOLDER.public_jwk)
    presentation = ours.present(issued, reveal=[("givenName",)], holder_key=HOLDER, audience=AUD, nonce="other", now=NOW)
    with pytest.raises(ValueError, match="nonce"):
        _reference_verify(presentation, issuer)


def test_reference_holder_presents_our_issuance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ref_holder, "time", lambda: NOW.timestamp())
    issuer = _key("EdDSA")
    issued = ours.issue(
        {**CLEAR, **SUBJECT}, key=issuer, kid=issuer.kid,
        disclosable=[("givenName",), ("familyName",), ("address",), ("address", "region")], holder_jwk=HOLDER.public_jwk,
    )
    holder = SDJWTHolder(issued)
    holder.create_presentation(
        {"givenName": True, "address": {"region": True}}, nonce=NONCE, aud=AUD, holder_key=HOLDER.jwk, sign_alg="ES256"
    )
    claims = ours.verify(
        holder.sd_jwt_presentation, issuer.public_key, now=NOW, require_key_binding=True, audience=AUD, nonce=NONCE
    )
    # region is disclosable inside the address Disclosure; the other address members are clear within it.
    assert claims["givenName"] == SUBJECT["givenName"] and claims["address"] == SUBJECT["address"]
    assert "familyName" not in claims


# --- reference -> ours ----------------------------------------------------------------------------------------


@pytest.fixture
def reference_issuance() -> tuple[SigningKey, str, dict]:
    issuer = _key("ES256")
    user_claims = {
        **CLEAR,
        SDObj("givenName"): SUBJECT["givenName"],
        SDObj("familyName"): SUBJECT["familyName"],
        SDObj("address"): {
            SDObj("locality"): SUBJECT["address"]["locality"],
            "country": SUBJECT["address"]["country"],
        },
        "householdMembers": [SDObj(HOUSEHOLD[0]), SDObj(HOUSEHOLD[1])],
    }
    made = SDJWTIssuer(
        user_claims, issuer.jwk, holder_key=_public(HOLDER), sign_alg="ES256", add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    return issuer, made.sd_jwt_issuance, user_claims


@pytest.mark.parametrize("holder_alg", ["ES256", "EdDSA"])
def test_our_verifier_accepts_a_reference_issuance_and_presentation(
    monkeypatch: pytest.MonkeyPatch, reference_issuance: tuple, holder_alg: str
) -> None:
    monkeypatch.setattr(ref_holder, "time", lambda: NOW.timestamp())
    issuer, _, user_claims = reference_issuance
    holder_key = _key(holder_alg)
    made = SDJWTIssuer(
        user_claims, issuer.jwk, holder_key=_public(holder_key), sign_alg="ES256", add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    holder = SDJWTHolder(made.sd_jwt_issuance)
    holder.create_presentation(
        {"givenName": True, "address": {"locality": True}, "householdMembers": [False, True]},
        nonce=NONCE, aud=AUD, holder_key=holder_key.jwk, sign_alg=holder_key.alg,
    )
    claims = ours.verify(
        holder.sd_jwt_presentation, issuer.public_key, now=NOW, require_key_binding=True, audience=AUD, nonce=NONCE
    )
    assert claims == {
        **CLEAR,
        "cnf": {"jwk": _public(holder_key).export_public(as_dict=True)},
        "givenName": SUBJECT["givenName"],
        "address": {"locality": SUBJECT["address"]["locality"], "country": SUBJECT["address"]["country"]},
        "householdMembers": [HOUSEHOLD[1]],
    }
    with pytest.raises(ours.SdJwtError) as excinfo:
        ours.verify(holder.sd_jwt_presentation, issuer.public_key, now=NOW, require_key_binding=True, audience=AUD, nonce="x")
    assert excinfo.value.code == "kb_nonce_mismatch"


def test_our_holder_presents_a_reference_issuance_to_the_reference_verifier(reference_issuance: tuple) -> None:
    issuer, issued, _ = reference_issuance
    presentation = ours.present(
        issued, reveal=[("familyName",), ("householdMembers", 0)], holder_key=HOLDER, audience=AUD, nonce=NONCE, now=NOW
    )
    theirs = _reference_verify(presentation, issuer)
    assert theirs == ours.verify(presentation, issuer.public_key, now=NOW, require_key_binding=True, audience=AUD, nonce=NONCE)
    assert theirs["familyName"] == SUBJECT["familyName"] and theirs["householdMembers"] == [HOUSEHOLD[0]]
    assert "address" not in theirs and "givenName" not in theirs
