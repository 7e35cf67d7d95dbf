"""SD-JWT (RFC 9901) with SD-JWT VC key binding: the RFC's example, our own round trips, and every MUST-reject
of sections 7.1 and 7.3 with its code."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from jwcrypto import jwk, jws

from did_service.core.keys import SigningKey, generate_private_key, signing_key_from_private
from did_service.core.proofs import sd_jwt
from did_service.core.proofs.jose import JoseError, b64url_decode, b64url_encode, sign_compact
from did_service.core.proofs.sd_jwt import SdJwtError
from did_service.errors import DidServiceError
from tests.support import VECTORS_DIR, load_subject

FOLDER = VECTORS_DIR / "ietf-sd-jwt"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
AUD = "https://bank.example"
NONCE = "n-0S6_WzA2Mj"
VCT = "https://issuer.example/credentials/ResidentIdentityCredential"
SUBJECT = load_subject("ResidentIdentityCredential")
HOUSEHOLD = [{"name": "Kim", "relation": "spouse"}, {"name": "Lee", "relation": "child"}, {"name": "Park", "relation": "parent"}]
CLEAR = {
    "iss": "did:web:issuer.example",
    "vct": VCT,
    "iat": 1767000000,
    "nbf": 1767000000,
    "exp": 1798536000,
    "sub": "did:key:z6MkholderExample",
    "status": {"status_list": {"idx": 4711, "uri": "https://issuer.example/status/1"}},
}
CLAIMS = {**CLEAR, **SUBJECT, "householdMembers": HOUSEHOLD}
DISCLOSABLE = [(name,) for name in SUBJECT] + [("address", name) for name in SUBJECT["address"]] + [
    ("householdMembers", None)
]


def _key(alg: str) -> SigningKey:
    return signing_key_from_private(generate_private_key(alg))


KEYS = {alg: _key(alg) for alg in ("EdDSA", "ES256")}
HOLDERS = {alg: _key(alg) for alg in ("EdDSA", "ES256")}
ISSUER, HOLDER = KEYS["EdDSA"], HOLDERS["EdDSA"]


def _cnf(holder: SigningKey) -> dict:
    """The cnf our issuer writes: the key's defining members only (no kid)."""
    jwk_ = holder.public_jwk
    return {"jwk": {name: jwk_[name] for name in ("kty", "crv", "x", "y") if name in jwk_}}


def _load(name: str) -> Any:
    text = (FOLDER / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text.strip()


def _key_from_jwk(name: str) -> SigningKey:
    return signing_key_from_private(jwk.JWK(**_load(name)).get_op_key("sign"))


def _code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.code


def _issue(
    claims: dict | None = None, disclosable=DISCLOSABLE, issuer: SigningKey = ISSUER, holder: SigningKey | None = HOLDER, **kw
) -> str:
    kw.setdefault("holder_jwk", holder.public_jwk if holder else None)
    return sd_jwt.issue(CLAIMS if claims is None else claims, key=issuer, kid=issuer.kid, disclosable=disclosable, **kw)


def _present(issued: str, reveal, holder: SigningKey | None = HOLDER, **kw) -> str:
    if holder is None:
        return sd_jwt.present(issued, reveal=reveal)
    kw = {"audience": AUD, "nonce": NONCE, "now": NOW, **kw}
    return sd_jwt.present(issued, reveal=reveal, holder_key=holder, **kw)


def _verify(text: str, issuer: SigningKey = ISSUER, require_key_binding: bool = True, **kw) -> dict:
    kw = {"audience": AUD, "nonce": NONCE, "now": NOW, **kw}
    return sd_jwt.verify(sd_jwt.parse(text), issuer.public_key, require_key_binding=require_key_binding, **kw)


def _disclosure(*array: Any) -> str:
    return b64url_encode(json.dumps(list(array)).encode("utf-8"))


def _digest(disclosure: str) -> str:
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def _sd_jwt(payload: dict, disclosures: list[str], typ: str = "dc+sd-jwt", issuer: SigningKey = ISSUER) -> str:
    """An issuer-signed SD-JWT with exactly the payload and Disclosures given: for building what our issuer
    would never make."""
    return sign_compact(payload, issuer, issuer.kid, typ) + "~" + "".join(d + "~" for d in disclosures)


def _kb(presented: str, holder: SigningKey = HOLDER, typ: str = "kb+jwt", **claims: Any) -> str:
    body = {"iat": int(NOW.timestamp()), "aud": AUD, "nonce": NONCE, "sd_hash": _digest(presented), **claims}
    return sign_compact(body, holder, holder.kid, typ)


def _flip(text: str, index: int) -> str:
    """One base64url character changed (a middle one, so the result is still canonical base64url)."""
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def _signed_part(text: str) -> str:
    return text.split("~", 1)[0]


def _issuer_payload(text: str) -> dict:
    return json.loads(b64url_decode(_signed_part(text).split(".")[1]))


# --- RFC 9901 section 5 ---------------------------------------------------------------------------------------

RFC_ISSUER_KEY = jwk.JWK(**_load("rfc9901-issuer-public-jwk.json")).get_op_key("verify")
RFC_TYP = "example+sd-jwt"  # the spec's examples predate SD-JWT VC's dc+sd-jwt


def test_rfc9901_issuance_verifies_and_unpacks_to_the_user_claims() -> None:
    issuance = _load("rfc9901-s5.1-sd-jwt-issuance.txt")
    parsed = sd_jwt.parse(issuance)
    assert parsed.signed_part == _load("rfc9901-s5.1-issuer-signed-jwt.txt")
    assert parsed.issuer_jwt.payload == _load("rfc9901-s5.1-issuer-jwt-payload.json")
    assert len(parsed.disclosures) == 10 and parsed.kb_jwt is None
    # Section 5.1 prints this Disclosure and its digest.
    first = parsed.disclosures[0]
    assert (first.salt, first.name, first.value) == ("2GLC42sKQveCfGfryNRN9w", "given_name", "John")
    assert first.digest == "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4"

    claims = sd_jwt.verify(parsed, RFC_ISSUER_KEY, now=NOW, require_key_binding=False, expected_typ=RFC_TYP)
    payload = _load("rfc9901-s5.1-issuer-jwt-payload.json")
    clear = {name: payload[name] for name in ("iss", "iat", "exp", "cnf")}
    assert claims == {**_load("rfc9901-s5.1-user-claims.json"), **clear}


def test_rfc9901_presentation_with_key_binding_verifies() -> None:
    kb_payload = _load("generated-presentation-kb-jwt-payload.json")
    now = datetime.fromtimestamp(kb_payload["iat"], timezone.utc)
    claims = sd_jwt.verify(
        _load("generated-presentation-with-kb.txt"),
        RFC_ISSUER_KEY,
        now=now,
        require_key_binding=True,
        audience=kb_payload["aud"],
        nonce=kb_payload["nonce"],
        expected_typ=RFC_TYP,
    )
    assert (kb_payload["aud"], kb_payload["nonce"]) == ("https://verifier.example.org", "1234567890")
    assert claims == _load("generated-presentation-verified-contents.json")
    assert "email" not in claims and claims["nationalities"] == ["US"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"nonce": "1234567891"}, "kb_nonce_mismatch"),
        ({"audience": "https://verifier.example.net"}, "kb_audience_mismatch"),
        ({"now": datetime.fromtimestamp(1795608192 + 301, timezone.utc)}, "kb_iat_out_of_window"),
        ({"expected_typ": "dc+sd-jwt"}, "invalid_typ"),
    ],
)
def test_rfc9901_presentation_refused_for_another_transaction(change: dict, code: str) -> None:
    kw = {
        "now": datetime.fromtimestamp(1795608192, timezone.utc),
        "audience": "https://verifier.example.org",
        "nonce": "1234567890",
        "expected_typ": RFC_TYP,
        **change,
    }
    with pytest.raises(SdJwtError) as excinfo:
        sd_jwt.verify(_load("generated-presentation-with-kb.txt"), RFC_ISSUER_KEY, require_key_binding=True, **kw)
    assert _code(excinfo) == code


def test_our_holder_presents_the_rfc9901_issuance() -> None:
    holder = _key_from_jwk("spec-holder-private-jwk.json")
    reveal = [("given_name",), ("family_name",), ("address",), ("nationalities", 0)]
    presentation = sd_jwt.present(
        _load("rfc9901-s5.1-sd-jwt-issuance.txt"), reveal=reveal, holder_key=holder, audience=AUD, nonce=NONCE, now=NOW
    )
    claims = sd_jwt.verify(
        presentation, RFC_ISSUER_KEY, now=NOW, require_key_binding=True, audience=AUD, nonce=NONCE, expected_typ=RFC_TYP
    )
    assert claims == _load("generated-presentation-verified-contents.json")
    assert presentation.count("~") == 1 + 4  # four Disclosures, none more


def test_the_rfc9901_issuer_key_signs_an_issuance_that_verifies() -> None:
    issuer = _key_from_jwk("spec-issuer-private-jwk.json")
    claims = {"iss": "https://issuer.example.com", **_load("rfc9901-s5.1-user-claims.json")}
    issued = _issue(claims, [("given_name",), ("nationalities", None)], issuer=issuer, typ=RFC_TYP)
    out = sd_jwt.verify(issued, RFC_ISSUER_KEY, now=NOW, require_key_binding=False, expected_typ=RFC_TYP)
    assert out == {**claims, "cnf": _cnf(HOLDER)}


# --- issue -> present -> verify -------------------------------------------------------------------------------


@pytest.mark.parametrize("issuer_alg", ["EdDSA", "ES256"])
@pytest.mark.parametrize("holder_alg", ["EdDSA", "ES256"])
def test_round_trip_reveals_exactly_the_chosen_claims(issuer_alg: str, holder_alg: str) -> None:
    issuer, holder = KEYS[issuer_alg], HOLDERS[holder_alg]
    issued = _issue(issuer=issuer, holder=holder)
    reveal = [("givenName",), ("address", "locality"), ("householdMembers", 1)]
    presentation = _present(issued, reveal, holder=holder)

    claims = _verify(presentation, issuer=issuer)
    assert claims == {
        **CLEAR,
        "cnf": _cnf(holder),
        "givenName": SUBJECT["givenName"],
        "address": {"locality": SUBJECT["address"]["locality"]},
        "householdMembers": [HOUSEHOLD[1]],
    }
    # givenName, address, address.locality, one household member: nothing else travels.
    assert len(sd_jwt.parse(presentation).disclosures) == 4


def test_full_disclosure_gives_back_the_issued_claims() -> None:
    issued = _issue()
    claims = _verify(_present(issued, DISCLOSABLE))
    assert claims == {**CLAIMS, "cnf": _cnf(HOLDER)}
    assert len(sd_jwt.parse(issued).disclosures) == len(SUBJECT) + len(SUBJECT["address"]) + len(HOUSEHOLD)


def test_revealing_an_object_reveals_the_disclosures_beneath_it() -> None:
    claims = _verify(_present(_issue(), [("address",), ("householdMembers", None)]))
    assert claims["address"] == SUBJECT["address"]
    assert claims["householdMembers"] == HOUSEHOLD
    assert "givenName" not in claims


def test_revealing_nothing_keeps_the_clear_claims_and_empties_disclosed_arrays() -> None:
    claims = _verify(_present(_issue(), []))
    assert claims == {**CLEAR, "cnf": _cnf(HOLDER), "householdMembers": []}


def test_issued_payload_hides_the_disclosable_values() -> None:
    issued = _issue(decoys=2)
    payload = _issuer_payload(issued)
    assert {"길동", "Gildong", "900101-1234567", "제주시", "KR", "Kim", "spouse"}.isdisjoint(_leaves(payload))
    assert payload["_sd_alg"] == "sha-256"
    assert set(CLEAR) <= payload.keys() and payload["cnf"] == _cnf(HOLDER)
    # Ten top-level subject claims plus two decoys; the digests are sorted so their order says nothing.
    assert len(payload["_sd"]) == len(SUBJECT) + 2 and payload["_sd"] == sorted(payload["_sd"])
    assert [set(element) for element in payload["householdMembers"]] == [{"..."}] * 3


def _leaves(node: Any) -> list:
    """Every value in a payload except the digests themselves."""
    if isinstance(node, dict):
        return [leaf for name, child in node.items() if name not in ("_sd", "...") for leaf in _leaves(child)]
    if isinstance(node, list):
        return [leaf for child in node for leaf in _leaves(child)]
    return [node]


def test_salts_are_random_and_at_least_128_bits() -> None:
    salts = [d.salt for d in sd_jwt.parse(_issue()).disclosures] + [d.salt for d in sd_jwt.parse(_issue()).disclosures]
    assert len(set(salts)) == len(salts)
    assert all(len(b64url_decode(salt)) * 8 >= 128 for salt in salts)


def test_decoys_default_to_between_one_and_three_per_object() -> None:
    counts = set()
    for _ in range(40):
        payload = _issuer_payload(_issue())
        counts.add(len(payload["_sd"]) - len(SUBJECT))
    assert counts <= {1, 2, 3} and len(counts) > 1


def test_without_decoys_the_sd_arrays_hold_only_real_digests() -> None:
    issued = _issue(decoys=0)
    payload = _issuer_payload(issued)
    assert sorted(payload["_sd"]) == sorted(d.digest for d in sd_jwt.parse(issued).disclosures if d.name in SUBJECT)


def test_array_elements_by_index_and_nested_members_of_elements() -> None:
    issued = _issue(disclosable=[("householdMembers", 0), ("householdMembers", None, "name")], decoys=0)
    payload = _issuer_payload(issued)
    assert set(payload["householdMembers"][0]) == {"..."}
    assert payload["householdMembers"][1] == {"relation": "child", "_sd": payload["householdMembers"][1]["_sd"]}
    claims = _verify(_present(issued, [("householdMembers", None, "name")]))
    # Element 0 is disclosed as a whole, so revealing the names inside it needs its own Disclosure too.
    assert claims["householdMembers"] == HOUSEHOLD
    claims = _verify(_present(issued, [("householdMembers", 2, "name")]))
    assert claims["householdMembers"] == [{"relation": "child"}, HOUSEHOLD[2]]


def test_paths_that_do_not_resolve_are_skipped() -> None:
    issued = _issue(disclosable=[("givenName",), ("middleName",), ("address", "unit"), ("householdMembers", 7)])
    assert [d.name for d in sd_jwt.parse(issued).disclosures] == ["givenName"]


def test_presentation_without_key_binding() -> None:
    presentation = _present(_issue(), [("givenName",)], holder=None)
    assert presentation.endswith("~")
    claims = _verify(presentation, require_key_binding=False)
    assert claims["givenName"] == SUBJECT["givenName"]
    with pytest.raises(SdJwtError) as excinfo:
        _verify(presentation)
    assert _code(excinfo) == "key_binding_required"


def test_key_binding_is_checked_when_present_even_if_not_required() -> None:
    presentation = _present(_issue(), [("givenName",)])
    assert _verify(presentation, require_key_binding=False, audience=None, nonce=None)["givenName"] == SUBJECT["givenName"]
    with pytest.raises(SdJwtError) as excinfo:
        _verify(presentation, require_key_binding=False, nonce="another")
    assert _code(excinfo) == "kb_nonce_mismatch"
    with pytest.raises(SdJwtError) as excinfo:
        _verify(_flip(presentation, len(presentation) - 20), require_key_binding=False)
    assert _code(excinfo) == "invalid_kb_jwt"


def test_digest_of_issuer_jwt_is_shared_by_issuance_and_presentations() -> None:
    issued = _issue()
    expected = hashlib.sha256(_signed_part(issued).encode("ascii")).hexdigest()
    assert sd_jwt.digest_of_issuer_jwt(issued) == expected
    assert sd_jwt.digest_of_issuer_jwt(_present(issued, [("givenName",)])) == expected
    assert sd_jwt.digest_of_issuer_jwt(_issue()) != expected


def test_errors_are_token_errors_with_status_422() -> None:
    with pytest.raises(DidServiceError) as excinfo:
        sd_jwt.parse("no separator")
    assert isinstance(excinfo.value, JoseError) and excinfo.value.status == 422
    assert _code(excinfo) == "malformed_sd_jwt"


# --- section 7.1: the Disclosures must fit the signed payload exactly -------------------------------------------

BASE_CLAIMS = {**CLEAR, "givenName": "Gildong", "familyName": "Hong"}


def _presentation_with(disclosures: list[str], payload_extra: dict | None = None, kb: bool = False) -> str:
    text = _sd_jwt({**CLEAR, "_sd_alg": "sha-256", **(payload_extra or {})}, disclosures)
    return text + _kb(text) if kb else text


def _refused(text: str, require_key_binding: bool = False, **kw) -> str:
    with pytest.raises(JoseError) as excinfo:
        _verify(text, require_key_binding=require_key_binding, **kw)
    return _code(excinfo)


def test_tampered_disclosure_is_refused() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)])
    original = sd_jwt.parse(issued).disclosures[0]
    forged = _disclosure(original.salt, "givenName", "Mallory")
    assert _refused(issued.replace(original.raw, forged)) == "unreferenced_disclosure"
    # One character changed (still base64url): the digest no longer matches, or the JSON breaks.
    flipped = _flip(original.raw, len(original.raw) // 2)
    assert _refused(issued.replace(original.raw, flipped)) in {"unreferenced_disclosure", "invalid_disclosure"}


def test_duplicate_disclosure_is_refused() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)])
    raw = sd_jwt.parse(issued).disclosures[0].raw
    assert _refused(issued + raw + "~") == "duplicate_disclosure"


def test_disclosure_from_another_sd_jwt_is_refused() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)])
    other = sd_jwt.parse(_issue(BASE_CLAIMS, [("familyName",)])).disclosures[0].raw
    assert _refused(issued + other + "~") == "unreferenced_disclosure"


def test_digest_embedded_twice_is_refused() -> None:
    given = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "givenName", "Gildong")
    assert _refused(_presentation_with([given], {"_sd": [_digest(given), _digest(given)]})) == "duplicate_digest"
    nested = {"_sd": [_digest(given)], "address": {"_sd": [_digest(given)]}}
    assert _refused(_presentation_with([given], nested)) == "duplicate_digest"
    # Also when nothing discloses it (a decoy used twice), and across a Disclosure's value.
    decoy = _digest("decoy")
    assert _refused(_presentation_with([], {"_sd": [decoy, decoy]})) == "duplicate_digest"
    inner = _disclosure("c2FsdHNhbHRzYWx0c2FsdB", "street", "Main")
    outer = _disclosure("c2FsdHNhbHRzYWx0c2FsdC", "address", {"_sd": [_digest(inner)]})
    assert _refused(_presentation_with([outer, inner], {"_sd": [_digest(outer), _digest(inner)]})) == "duplicate_digest"


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_disclosure_of_a_reserved_name_is_refused(name: str) -> None:
    bad = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", name, ["x"])
    assert _refused(_presentation_with([bad], {"_sd": [_digest(bad)]})) == "forbidden_claim_name"


def test_disclosure_colliding_with_a_clear_claim_is_refused() -> None:
    clash = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "sub", "did:example:someone-else")
    assert _refused(_presentation_with([clash], {"_sd": [_digest(clash)]})) == "forbidden_claim_name"
    first = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "givenName", "A")
    second = _disclosure("c2FsdHNhbHRzYWx0c2FsdB", "givenName", "B")
    both = {"_sd": [_digest(first), _digest(second)]}
    assert _refused(_presentation_with([first, second], both)) == "forbidden_claim_name"
    # Nested objects too.
    street = _disclosure("c2FsdHNhbHRzYWx0c2FsdC", "street", "Other St")
    nested = {"address": {"street": "Main St", "_sd": [_digest(street)]}}
    assert _refused(_presentation_with([street], nested)) == "forbidden_claim_name"


@pytest.mark.parametrize("name", sorted(sd_jwt.VC_CLEAR_ONLY_CLAIMS))
def test_sd_jwt_vc_claims_that_must_stay_clear_are_refused_as_disclosures(name: str) -> None:
    payload = {k: v for k, v in CLEAR.items() if k != name}
    disclosure = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", name, CLEAR.get(name, "x"))
    text = _sd_jwt({**payload, "_sd": [_digest(disclosure)]}, [disclosure])
    assert _refused(text) == "forbidden_claim_name"


def test_misplaced_disclosures_are_refused() -> None:
    element = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "US")
    assert _refused(_presentation_with([element], {"_sd": [_digest(element)]})) == "misplaced_disclosure"
    member = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "nationality", "US")
    array = {"nationalities": [{"...": _digest(member)}]}
    assert _refused(_presentation_with([member], array)) == "misplaced_disclosure"


def _non_canonical() -> str:
    """base64url of a valid Disclosure with the unused low bits of its last character set."""
    data = b'["salt","name","vv"]'
    assert len(data) % 3 == 2
    text = b64url_encode(data)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    text = text[:-1] + alphabet[alphabet.index(text[-1]) + 1]
    assert text != b64url_encode(data)
    return text


_NON_CANONICAL = _non_canonical()


@pytest.mark.parametrize(
    "disclosure",
    [
        "not*base64url",
        "",
        b64url_encode(b"not json"),
        b64url_encode(b'{"salt": "s", "name": "n"}'),
        _disclosure("only-a-salt"),
        _disclosure("salt", "name", "value", "extra"),
        _disclosure(1234, "name", "value"),
        _disclosure("salt", 5, "value"),
        _disclosure(None, "value"),
        b64url_encode(b'["salt", "name", {"a": 1, "a": 2}]'),
        b64url_encode(b'["salt", "name", NaN]'),
        b64url_encode(b'["salt", "name", "\xff"]'),
        _NON_CANONICAL,
    ],
    ids=[
        "not-base64url", "empty", "not-json", "object", "one-element", "four-elements", "number-salt",
        "number-name", "null-salt", "duplicate-keys", "nan", "not-utf8", "non-canonical",
    ],
)
def test_malformed_disclosure_is_refused(disclosure: str) -> None:
    text = _presentation_with([disclosure], {"_sd": [_digest(disclosure)] if disclosure else []})
    with pytest.raises(SdJwtError) as excinfo:
        sd_jwt.parse(text)
    assert _code(excinfo) == "invalid_disclosure"


@pytest.mark.parametrize(
    "payload_extra",
    [
        {"_sd": "not-an-array"},
        {"_sd": [1, 2]},
        {"address": {"_sd": [None]}},
        {"nationalities": [{"...": 5}]},
        {"nationalities": [{"...": "digest", "extra": 1}]},
    ],
    ids=["sd-string", "sd-numbers", "nested-sd-null", "dots-number", "dots-with-member"],
)
def test_malformed_digest_containers_are_refused(payload_extra: dict) -> None:
    assert _refused(_presentation_with([], payload_extra)) == "malformed_sd_jwt"


@pytest.mark.parametrize("alg", ["sha-512", "SHA-256", "sha3-256", 256])
def test_other_digest_algorithms_are_refused(alg: Any) -> None:
    given = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "givenName", "Gildong")
    text = _sd_jwt({**CLEAR, "_sd_alg": alg, "_sd": [_digest(given)]}, [given])
    assert _refused(text) == "unsupported_sd_alg"


def test_absent_sd_alg_means_sha_256() -> None:
    given = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "givenName", "Gildong")
    text = _sd_jwt({**CLEAR, "_sd": [_digest(given)]}, [given])
    assert _verify(text, require_key_binding=False)["givenName"] == "Gildong"


def test_undisclosed_array_elements_and_decoys_are_removed() -> None:
    us = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "US")
    payload = {"nationalities": [{"...": _digest(us)}, {"...": _digest("hidden")}, "KR"], "_sd": [_digest("decoy")]}
    claims = _verify(_presentation_with([us], payload), require_key_binding=False)
    assert claims["nationalities"] == ["US", "KR"] and "_sd" not in claims and "_sd_alg" not in claims


def test_nesting_through_disclosures_is_bounded() -> None:
    disclosures, digest = [], None
    for level in range(sd_jwt.MAX_DEPTH + 2):
        value = {"_sd": [digest]} if digest else "leaf"
        raw = _disclosure(f"salt{level}", "inner", value)
        disclosures.append(raw)
        digest = _digest(raw)
    assert _refused(_presentation_with(disclosures, {"_sd": [digest]})) == "malformed_sd_jwt"


def test_structure_and_size_limits() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)])
    for text in (_signed_part(issued), 42, "é" + issued, "~" * 3):
        with pytest.raises(JoseError):
            sd_jwt.parse(text)  # type: ignore[arg-type]
    too_many = _signed_part(issued) + "~" + "WyJzIiwgInYiXQ~" * (sd_jwt.MAX_DISCLOSURES + 1)
    with pytest.raises(SdJwtError) as excinfo:
        sd_jwt.parse(too_many)
    assert _code(excinfo) == "malformed_sd_jwt"
    with pytest.raises(SdJwtError):
        sd_jwt.parse(issued + "x" * sd_jwt.MAX_SD_JWT_CHARS)


# --- the issuer-signed JWT (RFC 8725 rules through jose) --------------------------------------------------------


def test_wrong_typ_is_refused() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)], typ="vc+sd-jwt")
    assert _refused(issued) == "invalid_typ"
    assert _verify(issued, require_key_binding=False, expected_typ="vc+sd-jwt")["givenName"] == "Gildong"


def test_alg_none_is_refused() -> None:
    header = b64url_encode(b'{"alg":"none","typ":"dc+sd-jwt"}')
    payload = b64url_encode(json.dumps({**CLEAR, "_sd_alg": "sha-256"}).encode())
    with pytest.raises(JoseError) as excinfo:
        sd_jwt.parse(f"{header}.{payload}.~")
    assert _code(excinfo) == "unsupported_alg"


def test_signature_tampering_is_refused() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)], holder=None)
    signed = _signed_part(issued)
    head, body, signature = signed.split(".")
    assert _refused(issued.replace(signature, _flip(signature, 10))) == "invalid_signature"
    # A payload change under the original signature (here: one more clear claim).
    changed = b64url_encode(json.dumps({**_issuer_payload(issued), "iss": "did:web:mallory.example"}).encode())
    assert _refused(issued.replace(body, changed)) == "invalid_signature"


def test_issuer_key_is_the_callers_and_pins_the_algorithm() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)])
    assert _refused(issued, issuer=_key("EdDSA")) == "invalid_signature"
    assert _refused(issued, issuer=KEYS["ES256"]) == "alg_key_mismatch"


def test_key_carrying_headers_are_refused() -> None:
    header = {"alg": "EdDSA", "typ": "dc+sd-jwt", "jwk": ISSUER.public_jwk}
    payload = json.dumps({**CLEAR, "_sd_alg": "sha-256"}).encode()
    signed = jws.JWSCore("EdDSA", ISSUER.jwk, json.dumps(header), payload, None).sign()
    text = f"{signed['protected']}.{b64url_encode(payload)}.{signed['signature']}~"
    with pytest.raises(JoseError) as excinfo:
        sd_jwt.parse(text)
    assert _code(excinfo) == "untrusted_key_header"


# --- section 7.3: key binding -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bound() -> tuple[str, str]:
    """(issuance, presentation of givenName and familyName with a KB-JWT)."""
    issued = _issue(BASE_CLAIMS, [("givenName",), ("familyName",)])
    return issued, _present(issued, [("givenName",), ("familyName",)])


def test_key_binding_verifies(bound: tuple[str, str]) -> None:
    claims = _verify(bound[1])
    assert (claims["givenName"], claims["familyName"]) == ("Gildong", "Hong")


def test_kb_jwt_signed_by_another_key_is_refused(bound: tuple[str, str]) -> None:
    presented = sd_jwt.parse(bound[1]).presented_part
    assert _refused(presented + _kb(presented, holder=_key("EdDSA")), True) == "invalid_kb_jwt"
    # Another key of the other type: the algorithm is pinned to the cnf key, not taken from the KB-JWT.
    assert _refused(presented + _kb(presented, holder=HOLDERS["ES256"]), True) == "invalid_kb_jwt"


def test_kb_jwt_with_wrong_typ_is_refused(bound: tuple[str, str]) -> None:
    presented = sd_jwt.parse(bound[1]).presented_part
    assert _refused(presented + _kb(presented, typ="JWT"), True) == "invalid_kb_jwt"


def test_replay_to_another_nonce_or_audience_is_refused(bound: tuple[str, str]) -> None:
    assert _refused(bound[1], True, nonce="n-another") == "kb_nonce_mismatch"
    assert _refused(bound[1], True, audience="https://other-bank.example") == "kb_audience_mismatch"


@pytest.mark.parametrize("seconds", [-301, 301, -3600, 86400])
def test_kb_jwt_outside_the_iat_window_is_refused(bound: tuple[str, str], seconds: int) -> None:
    assert _refused(bound[1], True, now=NOW + timedelta(seconds=seconds)) == "kb_iat_out_of_window"


@pytest.mark.parametrize("seconds", [-300, 0, 300])
def test_kb_jwt_inside_the_iat_window_is_accepted(bound: tuple[str, str], seconds: int) -> None:
    assert _verify(bound[1], now=NOW + timedelta(seconds=seconds))["givenName"] == "Gildong"


def test_sd_hash_binds_the_disclosure_set(bound: tuple[str, str]) -> None:
    parsed = sd_jwt.parse(bound[1])
    dropped = bound[1].replace(parsed.disclosures[0].raw + "~", "", 1)
    assert _refused(dropped, True) == "sd_hash_mismatch"
    # Reordered Disclosures are another string, so another hash.
    first, second = parsed.disclosures
    reordered = bound[1].replace(f"{first.raw}~{second.raw}~", f"{second.raw}~{first.raw}~")
    assert reordered != bound[1] and _refused(reordered, True) == "sd_hash_mismatch"


def test_kb_jwt_with_alg_none_or_a_header_key_is_refused(bound: tuple[str, str]) -> None:
    presented = sd_jwt.parse(bound[1]).presented_part
    header = b64url_encode(b'{"alg":"none","typ":"kb+jwt"}')
    body = b64url_encode(json.dumps({"iat": int(NOW.timestamp()), "aud": AUD, "nonce": NONCE, "sd_hash": _digest(presented)}).encode())
    assert _refused(f"{presented}{header}.{body}.", True) == "invalid_kb_jwt"
    with_jwk = json.dumps({"alg": "EdDSA", "typ": "kb+jwt", "jwk": HOLDER.public_jwk})
    signed = jws.JWSCore("EdDSA", HOLDER.jwk, with_jwk, b64url_decode(body), None).sign()
    assert _refused(f"{presented}{signed['protected']}.{body}.{signed['signature']}", True) == "invalid_kb_jwt"


@pytest.mark.parametrize(
    "claims",
    [{"iat": None}, {"iat": "1767000000"}, {"iat": True}, {"nonce": None}, {"aud": [AUD]}, {"sd_hash": None}],
    ids=["no-iat", "string-iat", "bool-iat", "no-nonce", "aud-array", "no-sd-hash"],
)
def test_kb_jwt_claims_must_be_well_typed(bound: tuple[str, str], claims: dict) -> None:
    presented = sd_jwt.parse(bound[1]).presented_part
    kb = _kb(presented, **claims)
    kb_payload = json.loads(b64url_decode(kb.split(".")[1]))
    assert all(kb_payload[name] == value for name, value in claims.items())
    assert _refused(presented + kb, True) == "invalid_kb_jwt"


def test_key_binding_without_cnf_is_refused() -> None:
    issued = _issue(BASE_CLAIMS, [("givenName",)], holder=None)
    with pytest.raises(SdJwtError) as excinfo:
        _present(issued, [("givenName",)])
    assert _code(excinfo) == "missing_cnf"
    assert _refused(issued + _kb(issued), True) == "missing_cnf"
    assert _refused(issued + _kb(issued), False) == "missing_cnf"


@pytest.mark.parametrize(
    "cnf",
    [
        {"jwk": {**HOLDER.jwk.export_private(as_dict=True)}},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"jwk": {"kty": "OKP", "crv": "X25519", "x": HOLDER.public_jwk["x"]}},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": HOLDERS["ES256"].public_jwk["x"], "y": HOLDERS["ES256"].public_jwk["x"]}},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        {"jwk": "not-an-object"},
    ],
    ids=["private", "symmetric", "x25519", "off-curve", "short", "string"],
)
def test_cnf_must_be_an_ed25519_or_p256_public_key(cnf: dict) -> None:
    payload = {**BASE_CLAIMS, "cnf": cnf, "_sd_alg": "sha-256"}
    issued = _sd_jwt(payload, [])
    code = "missing_cnf" if not isinstance(cnf["jwk"], dict) else "invalid_cnf"
    assert _refused(issued + _kb(issued), True) == code
    if isinstance(cnf["jwk"], dict):
        with pytest.raises(SdJwtError) as excinfo:
            _issue(BASE_CLAIMS, [("givenName",)], holder=None, holder_jwk=cnf["jwk"])
        assert _code(excinfo) == "invalid_cnf"


def test_required_key_binding_needs_audience_and_nonce() -> None:
    with pytest.raises(ValueError):
        _verify(_present(_issue(), []), audience=None)
    with pytest.raises(ValueError):
        _verify(_present(_issue(), []), nonce=None)
    with pytest.raises(ValueError):
        _verify(_present(_issue(), []), now=NOW.replace(tzinfo=None))


# --- issuer and holder refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iss", "vct", "cnf", "iat", "nbf", "exp", "status", "_sd", "_sd_alg", "..."])
def test_issuer_refuses_to_make_clear_only_claims_disclosable(name: str) -> None:
    claims = {**BASE_CLAIMS, "cnf": {"jwk": HOLDER.public_jwk}}
    with pytest.raises(SdJwtError) as excinfo:
        _issue(claims, [(name,)], holder=None)
    assert _code(excinfo) == "forbidden_claim_name"
    with pytest.raises(SdJwtError):
        _issue(claims, [("status", "status_list")] if name == "status" else [(name, "x")], holder=None)


@pytest.mark.parametrize(
    "claims",
    [{"_sd": []}, {"address": {"_sd_alg": "sha-256"}}, {"list": [{"...": "x"}]}, {"deep": [[{"a": {"_sd": 1}}]]}],
)
def test_issuer_refuses_claims_that_look_like_sd_jwt_structure(claims: dict) -> None:
    with pytest.raises(SdJwtError) as excinfo:
        _issue({**BASE_CLAIMS, **claims}, [("givenName",)])
    assert _code(excinfo) == "forbidden_claim_name"


def test_issuer_input_checks() -> None:
    with pytest.raises(SdJwtError) as excinfo:
        _issue({k: v for k, v in BASE_CLAIMS.items() if k != "vct"}, [("givenName",)])
    assert _code(excinfo) == "missing_vct"
    for bad_path in [("givenName"), (), (0,), ("a", True), ("a", -1), ["givenName"]]:
        with pytest.raises(ValueError):
            _issue(BASE_CLAIMS, [bad_path])
    with pytest.raises(ValueError):
        _issue({**BASE_CLAIMS, "cnf": {"jwk": HOLDERS["ES256"].public_jwk}}, [("givenName",)])
    with pytest.raises(ValueError):
        _issue(BASE_CLAIMS, [("givenName",)], decoys=-1)


def test_issuer_keeps_only_the_public_members_of_the_holder_key() -> None:
    holder_jwk = {**HOLDER.public_jwk, "kid": "wallet-key-1", "use": "sig"}
    minimal = {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": HOLDER.public_jwk["x"]}}
    issued = _issue(BASE_CLAIMS, [("givenName",)], holder=None, holder_jwk=holder_jwk)
    assert _issuer_payload(issued)["cnf"] == minimal
    # The same key may also come in the claims' cnf (alone, or together with holder_jwk).
    for holder_arg in (None, holder_jwk):
        issued = _issue({**BASE_CLAIMS, "cnf": {"jwk": holder_jwk}}, [("givenName",)], holder=None, holder_jwk=holder_arg)
        assert _issuer_payload(issued)["cnf"] == minimal


@pytest.mark.parametrize(
    "cnf",
    [{"jwk": {**HOLDER.jwk.export_private(as_dict=True)}}, {"jkt": "thumbprint"}, {"jwk": HOLDER.public_jwk, "kid": "k"}, "jwk"],
    ids=["private", "jkt", "extra-member", "string"],
)
def test_issuer_refuses_a_cnf_in_the_claims_it_cannot_bind(cnf: Any) -> None:
    with pytest.raises(SdJwtError) as excinfo:
        _issue({**BASE_CLAIMS, "cnf": cnf}, [("givenName",)], holder=None)
    assert _code(excinfo) == "invalid_cnf"


def test_holder_refuses_a_key_that_is_not_bound() -> None:
    with pytest.raises(SdJwtError) as excinfo:
        _present(_issue(), [("givenName",)], holder=HOLDERS["ES256"])
    assert _code(excinfo) == "holder_key_mismatch"
    with pytest.raises(SdJwtError):
        _present(_present(_issue(), []), [])  # already carries a KB-JWT
    with pytest.raises(ValueError):
        sd_jwt.present(_issue(), reveal=[], holder_key=HOLDER, audience=AUD, nonce=NONCE)  # no time
    with pytest.raises(ValueError):
        sd_jwt.present(_issue(), reveal=[], audience=AUD)  # an audience with nothing to bind


def test_holder_checks_the_structure_of_what_it_presents() -> None:
    given = _disclosure("c2FsdHNhbHRzYWx0c2FsdA", "givenName", "Gildong")
    with pytest.raises(SdJwtError) as excinfo:
        sd_jwt.present(_presentation_with([given], {"_sd": [_digest(given)] * 2}), reveal=[("givenName",)])
    assert _code(excinfo) == "duplicate_digest"


# --- property: what comes back is exactly what was revealed, plus the clear claims ---------------------------------

_NAMES = st.text(min_size=0, max_size=6).filter(lambda s: s not in {"_sd", "_sd_alg", "..."})
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_NAMES, children, max_size=3),
    max_leaves=12,
)
_SUBJECTS = st.dictionaries(_NAMES.filter(lambda s: s not in sd_jwt.ISSUER_CLEAR_CLAIMS and s != "sub"), _VALUES, max_size=5)


def _all_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    paths = []
    for step, child in children:
        paths.append(prefix + (step,))
        paths.extend(_all_paths(child, prefix + (step,)))
    return paths


def _expected(node: Any, prefix: tuple, disclosable: set, revealed) -> Any:
    """The model: a disclosable node survives only if some revealed path runs through it."""
    if isinstance(node, dict):
        items = [(k, prefix + (k,), v) for k, v in node.items()]
        return {k: _expected(v, p, disclosable, revealed) for k, p, v in items if p not in disclosable or revealed(p)}
    if isinstance(node, list):
        items = [(prefix + (i,), v) for i, v in enumerate(node)]
        return [_expected(v, p, disclosable, revealed) for p, v in items if p not in disclosable or revealed(p)]
    return node


def _on_path(concrete: tuple, pattern: tuple) -> bool:
    return all(isinstance(c, int) if p is None else c == p and type(c) is type(p) for c, p in zip(concrete, pattern))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_SUBJECTS, data=st.data())
def test_property_present_then_verify_returns_the_revealed_claims(subject: dict, data: st.DataObject) -> None:
    paths = _all_paths(subject)
    disclosable = set(data.draw(st.lists(st.sampled_from(paths), unique=True)) if paths else [])
    reveal = data.draw(st.lists(st.sampled_from(paths), max_size=4) if paths else st.just([]))
    # Some patterns with a wildcard in place of an index.
    reveal += [tuple(None if isinstance(s, int) else s for s in p) for p in data.draw(st.lists(st.sampled_from(paths), max_size=2) if paths else st.just([]))]
    claims = {**CLEAR, **subject}
    issued = sd_jwt.issue(claims, key=ISSUER, kid=ISSUER.kid, disclosable=disclosable, holder_jwk=HOLDER.public_jwk)
    presentation = _present(issued, reveal)
    got = _verify(presentation)

    revealed = lambda p: any(_on_path(p, r) for r in reveal)  # noqa: E731
    assert got == {**CLEAR, "cnf": _cnf(HOLDER), **_expected(subject, (), disclosable, revealed)}
    # Nothing travels that the verifier does not use.
    assert len(sd_jwt.parse(presentation).disclosures) == sum(1 for p in disclosable if revealed(p))
