"""Whatever a correctly signed token carries, the verifier answers with a report, never an exception."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from did_service.core.verifier.report import Report
from tests.core.test_verify import ED, ISSUER, credential, jwk_method_id, signed, verify

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)

leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from([ISSUER, "did:key:z6Mk", "did:web:localhost", "2026-01-01T00:00:00Z", "VerifiableCredential",
                     "https://www.w3.org/ns/credentials/v2", "ResidentIdentityCredential", "DiplomaCredential"]),
)
value = st.recursive(leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=10)
members = st.sampled_from(
    ["@context", "type", "issuer", "iss", "credentialSubject", "validFrom", "validUntil", "nbf", "exp", "iat", "jti",
     "id", "sub", "vc", "credentialStatus", "issuanceDate", "expirationDate"]
)


@settings(max_examples=400, deadline=None)
@given(changes=st.dictionaries(members, value, max_size=6), typ=st.sampled_from(["vc+jwt", "JWT", None]),
       kid=st.one_of(st.just(None), st.text(max_size=30), st.just("#x"), st.just(ISSUER + "#")))
def test_signed_payload_fuzz(changes, typ, kid):
    payload = {**credential(), **changes}
    header = {"alg": "EdDSA", "kid": kid if kid is not None else jwk_method_id(ISSUER, ED)}
    if typ:
        header["typ"] = typ
    report = verify(signed(payload, header=header))
    assert isinstance(report, Report)
    report.to_dict()
    if report.verified:
        # Whatever else changed, a verified token names the real issuer and the real key, and is in its window.
        issuer = payload.get("issuer")
        assert (issuer.get("id") if isinstance(issuer, dict) else issuer) == ISSUER
        assert header["kid"] in (jwk_method_id(ISSUER, ED), "#" + ED.kid)
        assert payload.get("iss", ISSUER) == ISSUER
        assert "credentialStatus" not in payload


@settings(max_examples=300, deadline=None)
@given(st.one_of(value, st.text(max_size=200)))
def test_unsigned_garbage_fuzz(garbage):
    report = verify(garbage)
    assert report.verified is False
