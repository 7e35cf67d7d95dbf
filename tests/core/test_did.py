"""Tests for did_service.core.did: official did:key and did:jwk vectors, must-reject inputs, did:web naming,
verification method lookup, and round-trip properties."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from did_service.core import did as dids
from did_service.core.did import (
    KeyNotAuthorized,
    KeyNotFound,
    did_jwk_from_public_jwk,
    did_jwk_from_public_key,
    did_key_from_public_key,
    did_web_document_url,
    did_web_from_url,
    find_verification_method,
    multibase_encode,
    public_jwk_from_public_key,
    public_key_from_jwk,
    public_key_from_multibase,
    public_key_from_verification_method,
    public_key_multibase,
    resolve_did_jwk,
    resolve_did_key,
    resolve_offline,
    split_did_url,
)
from did_service.errors import InvalidDid, ResolutionError

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DID_KEY_VECTORS = VECTORS / "w3c-ccg-did-key"
DID_JWK_VECTORS = VECTORS / "did-jwk"

# Order of the P-256 group (SEC 2, section 2.4.2); bounds valid private scalars for the property tests.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


ED25519_VECTORS = _load(DID_KEY_VECTORS / "ed25519-x25519.json")
NIST_VECTORS = _load(DID_KEY_VECTORS / "nist-curves.json")
SECP256K1_VECTORS = _load(DID_KEY_VECTORS / "secp256k1.json")
X25519_VECTORS = _load(DID_KEY_VECTORS / "x25519.json")["didDocument"]
SPEC_EXAMPLE = _load(DID_KEY_VECTORS / "spec-example-did-document-ed25519-2020.json")
DID_JWK_EXAMPLES = _load(DID_JWK_VECTORS / "spec-examples.json")


def _is_p256_vector(entry: dict[str, Any]) -> bool:
    # The file mixes two shapes: JsonWebKey2020 (publicKeyJwk/privateKeyJwk) and one P256Key2021 entry
    # (publicKeyBase58 = compressed point, privateKeyBase58 = the scalar).
    method = entry["verificationMethod"]
    return method["type"] == "P256Key2021" or method["publicKeyJwk"]["crv"] == "P-256"


P256_VECTORS = {did: entry for did, entry in NIST_VECTORS.items() if _is_p256_vector(entry)}
OTHER_NIST_DIDS = sorted(set(NIST_VECTORS) - set(P256_VECTORS))


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _did_jwk_of(jwk: Any) -> str:
    """A did:jwk of arbitrary JSON, bypassing did_jwk_from_public_jwk's validation (for must-reject tests)."""
    return "did:jwk:" + _b64url(json.dumps(jwk).encode("utf-8"))


def _document_key(document: dict[str, Any], relationship: str = "assertionMethod") -> Any:
    method_id = document[relationship][0]
    return public_key_from_verification_method(find_verification_method(document, method_id, relationship))


def _compressed(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def _same_key(a: Any, b: Any) -> bool:
    return a.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == b.public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )


def _p256_vector_public_key(method: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """The public key derived from the vector's private key (never read from its public part)."""
    if "privateKeyJwk" in method:
        encoded = method["privateKeyJwk"]["d"]
        scalar = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    else:
        scalar = base58.b58decode(method["privateKeyBase58"])
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1()).public_key()


def _assert_matches_p256_vector(public_key: ec.EllipticCurvePublicKey, method: dict[str, Any]) -> None:
    if "publicKeyJwk" in method:
        assert public_jwk_from_public_key(public_key) == method["publicKeyJwk"]
    else:
        assert _compressed(public_key) == base58.b58decode(method["publicKeyBase58"])


def _ed25519_vector_public_bytes(entry: dict[str, Any]) -> bytes:
    # Four entries give Ed25519VerificationKey2018 (publicKeyBase58), one gives JsonWebKey2020 (publicKeyJwk).
    pair = entry["verificationKeyPair"]
    if "publicKeyBase58" in pair:
        return base58.b58decode(pair["publicKeyBase58"])
    x = pair["publicKeyJwk"]["x"]
    return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))


# --- did:key: official vectors ----------------------------------------------------------------------------


def test_vector_files_cover_the_supported_key_types() -> None:
    assert len(ED25519_VECTORS) == 5
    assert len(P256_VECTORS) == 3


@pytest.mark.parametrize("did", sorted(ED25519_VECTORS))
def test_ed25519_vector_seed_gives_identifier(did: str) -> None:
    entry = ED25519_VECTORS[did]
    public_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(entry["seed"])).public_key()
    assert did_key_from_public_key(public_key) == did
    assert _raw(public_key) == _ed25519_vector_public_bytes(entry)


@pytest.mark.parametrize("did", sorted(ED25519_VECTORS))
def test_ed25519_vector_resolves_to_key_bytes(did: str) -> None:
    entry = ED25519_VECTORS[did]
    document = resolve_did_key(did)
    multibase = did.removeprefix("did:key:")
    method_id = f"{did}#{multibase}"
    assert document["@context"] == ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
    assert document["id"] == did
    assert document["verificationMethod"] == [
        {"id": method_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multibase}
    ]
    for relationship in ("assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation"):
        assert document[relationship] == [method_id]
    assert "keyAgreement" not in document
    assert _raw(_document_key(document)) == _ed25519_vector_public_bytes(entry)


@pytest.mark.parametrize("did", sorted(ED25519_VECTORS))
def test_ed25519_vector_document_gives_same_key(did: str) -> None:
    """The vector's own (Ed25519VerificationKey2018) document yields the key our resolver yields."""
    vector_document = ED25519_VECTORS[did]["didDocument"]
    assert _same_key(_document_key(vector_document), _document_key(resolve_did_key(did)))


@pytest.mark.parametrize("did", sorted(ED25519_VECTORS))
def test_ed25519_vector_x25519_key_agreement_is_not_an_assertion_key(did: str) -> None:
    vector_document = ED25519_VECTORS[did]["didDocument"]
    x25519_id = vector_document["keyAgreement"][0]
    with pytest.raises(KeyNotAuthorized):
        find_verification_method(vector_document, x25519_id, "assertionMethod")
    method = find_verification_method(vector_document, x25519_id, "keyAgreement")
    with pytest.raises(InvalidDid):
        public_key_from_verification_method(method)  # X25519KeyAgreementKey2019: not a signing key type


@pytest.mark.parametrize("did", sorted(P256_VECTORS))
def test_p256_vector_private_key_gives_identifier(did: str) -> None:
    method = P256_VECTORS[did]["verificationMethod"]
    public_key = _p256_vector_public_key(method)
    assert did_key_from_public_key(public_key) == did
    _assert_matches_p256_vector(public_key, method)


@pytest.mark.parametrize("did", sorted(P256_VECTORS))
def test_p256_vector_resolves_to_vector_jwk(did: str) -> None:
    entry = P256_VECTORS[did]
    public_key = _document_key(resolve_did_key(did))
    _assert_matches_p256_vector(public_key, entry["verificationMethod"])
    vector_method = entry["didDocument"]["verificationMethod"][0]
    if vector_method["type"] == "JsonWebKey2020":  # P256Key2021 is a pre-Multikey draft type we do not accept
        assert _same_key(public_key, _document_key(entry["didDocument"]))
    else:
        with pytest.raises(InvalidDid):
            public_key_from_verification_method(vector_method)


def test_spec_example_document_key_matches_identifier() -> None:
    did = SPEC_EXAMPLE["id"]
    multibase = did.removeprefix("did:key:")
    spec_method = find_verification_method(SPEC_EXAMPLE, f"#{multibase}")  # relative id
    assert spec_method["type"] == "Ed25519VerificationKey2020"
    assert _same_key(public_key_from_verification_method(spec_method), _document_key(resolve_did_key(did)))
    x25519_id = SPEC_EXAMPLE["keyAgreement"][0]["id"]  # embedded in keyAgreement only
    assert find_verification_method(SPEC_EXAMPLE, x25519_id, "keyAgreement")["type"] == "X25519KeyAgreementKey2020"
    with pytest.raises(KeyNotAuthorized):
        find_verification_method(SPEC_EXAMPLE, x25519_id, "assertionMethod")


# --- did:key: must reject ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "did",
    sorted(SECP256K1_VECTORS) + sorted(X25519_VECTORS) + OTHER_NIST_DIDS,
)
def test_unsupported_codec_vectors_are_rejected(did: str) -> None:
    with pytest.raises(InvalidDid) as info:
        resolve_did_key(did)
    assert info.value.code == "invalid_did"
    assert did.removeprefix("did:key:") not in info.value.detail  # details never quote input


def _ed25519_key() -> Ed25519PublicKey:
    return Ed25519PrivateKey.generate().public_key()


def _p256_key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


# x = 1 is not the x-coordinate of any P-256 point (1 - 3 + b is a non-residue mod p).
OFF_CURVE_P256 = b"\x02" + (1).to_bytes(32, "big")


def test_off_curve_constant_is_rejected_by_cryptography_itself() -> None:
    with pytest.raises(ValueError):
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), OFF_CURVE_P256)


@pytest.mark.parametrize(
    "multikey",
    [
        pytest.param(lambda: b"\xed\x01" + _raw(_ed25519_key())[:31], id="ed25519-truncated"),
        pytest.param(lambda: b"\xed\x01" + _raw(_ed25519_key()) + b"\x00", id="ed25519-too-long"),
        pytest.param(lambda: b"\xed\x01", id="ed25519-no-key"),
        pytest.param(lambda: b"\x80\x24" + _compressed(_p256_key())[:32], id="p256-truncated"),
        pytest.param(
            lambda: b"\x80\x24" + _p256_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
            id="p256-uncompressed",
        ),
        pytest.param(lambda: b"\x80\x24" + OFF_CURVE_P256, id="p256-off-curve"),
        pytest.param(lambda: b"\x80\x24\x02" + b"\xff" * 32, id="p256-x-not-below-p"),
        pytest.param(lambda: b"\x80\x24\x05" + _compressed(_p256_key())[1:], id="p256-bad-sec1-tag"),
        pytest.param(lambda: b"\xed\x81\x00" + _raw(_ed25519_key()), id="non-minimal-varint"),
        pytest.param(lambda: b"\x80", id="truncated-varint"),
        pytest.param(lambda: b"", id="empty"),
        pytest.param(lambda: b"\xe7\x01" + b"\x02" * 33, id="secp256k1-codec"),
        pytest.param(lambda: b"\xec\x01" + b"\x01" * 32, id="x25519-codec"),
        pytest.param(lambda: b"\x81\x24" + b"\x02" * 49, id="p384-codec"),
        pytest.param(lambda: b"\x00" + _raw(_ed25519_key()), id="identity-codec"),
    ],
)
def test_bad_multikey_bytes_are_rejected(multikey: Any) -> None:
    multibase = multibase_encode(multikey())
    with pytest.raises(InvalidDid):
        public_key_from_multibase(multibase)
    with pytest.raises(InvalidDid):
        resolve_did_key("did:key:" + multibase)


def _valid_multibase() -> str:
    return public_key_multibase(_ed25519_key())


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda: "f" + base58.b58decode(_valid_multibase()[1:]).hex(), id="base16-prefix"),
        pytest.param(lambda: "u" + _b64url(base58.b58decode(_valid_multibase()[1:])), id="base64url-prefix"),
        pytest.param(lambda: _valid_multibase()[1:], id="no-prefix"),
        pytest.param(lambda: "z", id="prefix-only"),
        pytest.param(lambda: _valid_multibase()[:-1] + "0", id="non-base58-char"),
        pytest.param(lambda: _valid_multibase()[:-1] + "l", id="non-base58-letter"),
        pytest.param(lambda: _valid_multibase() + " ", id="trailing-space"),
        pytest.param(lambda: "z" + "2" * 5000, id="huge"),
        pytest.param(lambda: "z6Mk\u00e9", id="non-ascii"),
    ],
)
def test_bad_multibase_is_rejected(value: Any) -> None:
    with pytest.raises(InvalidDid):
        public_key_from_multibase(value())


@pytest.mark.parametrize("suffix", ["#key-1", "#", "/path", "?service=x", "/", "?"])
def test_resolvers_reject_did_urls(suffix: str) -> None:
    did_key = did_key_from_public_key(_ed25519_key())
    did_jwk = did_jwk_from_public_key(_p256_key())
    with pytest.raises(InvalidDid):
        resolve_did_key(did_key + suffix)
    with pytest.raises(InvalidDid):
        resolve_did_jwk(did_jwk + suffix)


@pytest.mark.parametrize(
    "garbage",
    ["", "did:", "did:key", "did:key:", "did:key:z", "not a did", "DID:key:z6Mk", "did:KEY:z6Mk",
     "did:key:z6Mk:extra", " did:key:z6Mk", "did:key:" + "z" * 5000, "did:web:example.com"],
)
def test_resolve_did_key_rejects_garbage(garbage: str) -> None:
    with pytest.raises(InvalidDid):
        resolve_did_key(garbage)


@pytest.mark.parametrize("value", [None, 123, b"did:key:z6Mk", ["did:key:z6Mk"]])
def test_non_string_dids_are_rejected(value: Any) -> None:
    for function in (resolve_did_key, resolve_did_jwk, resolve_offline, split_did_url, did_web_document_url):
        with pytest.raises(InvalidDid):
            function(value)


def test_keys_other_than_ed25519_and_p256_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    secp256k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    private = Ed25519PrivateKey.generate()
    for key in (p384, secp256k1, private):
        for function in (public_key_multibase, did_key_from_public_key, public_jwk_from_public_key):
            with pytest.raises(InvalidDid):
                function(key)  # type: ignore[arg-type]


# --- did:jwk ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_key", [_ed25519_key, _p256_key], ids=["ed25519", "p256"])
def test_did_jwk_round_trip(make_key: Any) -> None:
    public_key = make_key()
    jwk = public_jwk_from_public_key(public_key)
    did = did_jwk_from_public_jwk(jwk)
    assert did == did_jwk_from_public_key(public_key)
    encoded = did.removeprefix("did:jwk:")
    assert "=" not in encoded
    # Deterministic: sorted keys, no whitespace, only the required members.
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) == json.dumps(
        jwk, sort_keys=True, separators=(",", ":")
    ).encode()
    document = resolve_did_jwk(did)
    assert document["@context"] == ["https://www.w3.org/ns/did/v1"]
    assert document["verificationMethod"] == [
        {"id": f"{did}#0", "type": "JsonWebKey", "controller": did, "publicKeyJwk": jwk}
    ]
    for relationship in dids.VERIFICATION_RELATIONSHIPS:
        assert document[relationship] == [f"{did}#0"]
    assert _same_key(_document_key(document), public_key)


def test_did_jwk_drops_optional_members_and_ignores_member_order() -> None:
    jwk = public_jwk_from_public_key(_p256_key())
    decorated = {"kid": "k1", "use": "sig", "alg": "ES256", **dict(reversed(list(jwk.items())))}
    assert did_jwk_from_public_jwk(decorated) == did_jwk_from_public_jwk(jwk)


def test_did_jwk_spec_p256_example() -> None:
    example = DID_JWK_EXAMPLES["p256"]
    assert did_jwk_from_public_jwk(example["publicKeyJwk"]) == example["did"]
    document = resolve_did_jwk(example["did"])
    assert split_did_url(example["didUrl"]) == (example["did"], "0")
    method = find_verification_method(document, example["didUrl"])
    assert method["publicKeyJwk"] == example["publicKeyJwk"]
    assert [r for r in dids.VERIFICATION_RELATIONSHIPS if r in document] == sorted(
        example["relationships"], key=dids.VERIFICATION_RELATIONSHIPS.index
    )
    assert public_jwk_from_public_key(public_key_from_verification_method(method)) == example["publicKeyJwk"]


def test_did_jwk_spec_x25519_example_is_unsupported() -> None:
    with pytest.raises(InvalidDid):
        resolve_did_jwk(DID_JWK_EXAMPLES["x25519"]["did"])


def test_did_jwk_use_selects_relationships() -> None:
    jwk = public_jwk_from_public_key(_p256_key())
    signing = resolve_did_jwk(_did_jwk_of({**jwk, "use": "sig"}))
    assert "keyAgreement" not in signing and signing["assertionMethod"]
    encryption = resolve_did_jwk(_did_jwk_of({**jwk, "use": "enc"}))
    assert [r for r in dids.VERIFICATION_RELATIONSHIPS if r in encryption] == ["keyAgreement"]
    with pytest.raises(KeyNotAuthorized):
        find_verification_method(encryption, "#0", "assertionMethod")
    with pytest.raises(InvalidDid):
        resolve_did_jwk(_did_jwk_of({**jwk, "use": ["sig"]}))


def test_did_jwk_keeps_custom_members_in_the_method() -> None:
    jwk = {**public_jwk_from_public_key(_ed25519_key()), "kid": "ignored", "x-custom": 1}
    document = resolve_did_jwk(_did_jwk_of(jwk))
    assert document["verificationMethod"][0]["publicKeyJwk"] == jwk
    assert document["verificationMethod"][0]["id"].endswith("#0")  # kid is never the fragment


def _private_p256_jwk() -> dict[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk_from_public_key(private.public_key())
    return {**jwk, "d": _b64url(private.private_numbers().private_value.to_bytes(32, "big"))}


def _p256_jwk_with(**changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = {**public_jwk_from_public_key(_p256_key()), **changes}
    return {name: value for name, value in jwk.items() if value is not None}


def _off_curve_jwk() -> dict[str, str]:
    jwk = public_jwk_from_public_key(_p256_key())
    y = base64.urlsafe_b64decode(jwk["y"] + "=")
    return {**jwk, "y": _b64url(y[:-1] + bytes([y[-1] ^ 1]))}


BAD_JWKS = [
    pytest.param(_private_p256_jwk, id="private-d"),
    pytest.param(lambda: {**public_jwk_from_public_key(_ed25519_key()), "d": "AAAA"}, id="okp-private-d"),
    pytest.param(lambda: _p256_jwk_with(p="AAAA"), id="rsa-private-p"),
    pytest.param(lambda: _p256_jwk_with(q="AAAA"), id="rsa-private-q"),
    pytest.param(lambda: {"kty": "oct", "k": "AAAA"}, id="symmetric"),
    pytest.param(lambda: {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, id="rsa"),
    pytest.param(lambda: _p256_jwk_with(crv="P-384"), id="p384"),
    pytest.param(lambda: _p256_jwk_with(crv="secp256k1"), id="secp256k1"),
    pytest.param(lambda: {**public_jwk_from_public_key(_ed25519_key()), "crv": "X25519"}, id="x25519"),
    pytest.param(lambda: {**public_jwk_from_public_key(_ed25519_key()), "kty": "EC"}, id="kty-crv-mismatch"),
    pytest.param(lambda: _p256_jwk_with(kty=["EC"]), id="kty-array"),
    pytest.param(lambda: _p256_jwk_with(alg="ES384"), id="alg-mismatch"),
    pytest.param(lambda: _p256_jwk_with(alg=["ES256"]), id="alg-array"),
    pytest.param(lambda: {**public_jwk_from_public_key(_ed25519_key()), "alg": "ES256"}, id="okp-alg-es256"),
    pytest.param(lambda: _p256_jwk_with(y=None), id="missing-y"),
    pytest.param(lambda: _p256_jwk_with(x=_b64url(b"\x01" * 31)), id="short-x"),
    pytest.param(lambda: _p256_jwk_with(x=_b64url(b"\x01" * 33)), id="long-x"),
    pytest.param(lambda: _p256_jwk_with(x=123), id="numeric-x"),
    pytest.param(lambda: _p256_jwk_with(x=_b64url(b"\x01" * 32) + "=="), id="padded-x"),
    pytest.param(lambda: _p256_jwk_with(x="+" * 43), id="base64-not-url-x"),
    pytest.param(lambda: _p256_jwk_with(x=_b64url(b"\x01" * 32)[:-1] + "F"), id="non-canonical-x"),
    pytest.param(_off_curve_jwk, id="off-curve"),
    pytest.param(lambda: {**public_jwk_from_public_key(_ed25519_key()), "x": _b64url(b"\x01" * 31)}, id="short-okp"),
]


@pytest.mark.parametrize("make_jwk", BAD_JWKS)
def test_bad_jwks_are_rejected_everywhere(make_jwk: Any) -> None:
    jwk = make_jwk()
    with pytest.raises(InvalidDid):
        public_key_from_jwk(jwk)
    with pytest.raises(InvalidDid):
        did_jwk_from_public_jwk(jwk)
    with pytest.raises(InvalidDid):
        resolve_did_jwk(_did_jwk_of(jwk))
    with pytest.raises(InvalidDid):
        public_key_from_verification_method({"id": "did:example:1#k", "type": "JsonWebKey", "publicKeyJwk": jwk})


def test_private_jwk_error_does_not_quote_the_key() -> None:
    jwk = _private_p256_jwk()
    with pytest.raises(InvalidDid) as info:
        resolve_did_jwk(_did_jwk_of(jwk))
    assert jwk["d"] not in info.value.detail


def _encoded(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return "did:jwk:" + _b64url(data)


@pytest.mark.parametrize(
    "did",
    [
        pytest.param("did:jwk:", id="empty"),
        pytest.param("did:jwk:eyJ+a3R5IjoiT0tQIn0", id="plus"),
        pytest.param("did:jwk:eyJrdHkiOiJPS1AifQ==", id="padding"),
        pytest.param("did:jwk:eyJrdHkiOiJPS1AifR", id="non-canonical-tail"),
        pytest.param("did:jwk:e", id="impossible-length"),
        pytest.param(_encoded("not json"), id="not-json"),
        pytest.param(_encoded("[1, 2]"), id="array"),
        pytest.param(_encoded('"EC"'), id="string"),
        pytest.param(_encoded(b"\xff\xfe{}"), id="not-utf8"),
        pytest.param(_encoded('{"kty":"EC","kty":"OKP"}'), id="duplicate-member"),
        pytest.param(_encoded('{"kty":"OKP","crv":"Ed25519","x":NaN}'), id="nan"),
        pytest.param(_encoded('{"a":' + "[" * 1500 + "]" * 1500 + "}"), id="deep-nesting"),
        pytest.param("did:jwk:" + "A" * 5000, id="too-long"),
        pytest.param(did_key_from_public_key(Ed25519PrivateKey.generate().public_key()), id="did-key"),
    ],
)
def test_malformed_did_jwk_is_rejected(did: str) -> None:
    with pytest.raises(InvalidDid):
        resolve_did_jwk(did)


def test_resolve_offline_dispatches_and_refuses_other_methods() -> None:
    public_key = _ed25519_key()
    assert resolve_offline(did_key_from_public_key(public_key)) == resolve_did_key(did_key_from_public_key(public_key))
    assert resolve_offline(did_jwk_from_public_key(public_key)) == resolve_did_jwk(did_jwk_from_public_key(public_key))
    for did in ("did:web:example.com", "did:example:123", "garbage"):
        with pytest.raises(InvalidDid):
            resolve_offline(did)


# --- DID URLs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("did:key:z6Mkabc", ("did:key:z6Mkabc", None)),
        ("did:key:z6Mkabc#z6Mkabc", ("did:key:z6Mkabc", "z6Mkabc")),
        ("did:web:example.com%3A8443:issuers:jeju#key-1", ("did:web:example.com%3A8443:issuers:jeju", "key-1")),
        ("did:jwk:eyJ9#0", ("did:jwk:eyJ9", "0")),
        ("did:example:a#frag/with:colon?ok", ("did:example:a", "frag/with:colon?ok")),
    ],
)
def test_split_did_url(url: str, expected: tuple[str, str | None]) -> None:
    assert split_did_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["did:key:z6Mk#", "did:key:z6Mk/path#a", "did:key:z6Mk?query#a", "did:key:z6Mk#a#b", "did:key:z6Mk#a b",
     "did:key:", "did::abc", "did:Key:abc", "did:key:a%zz", "did:key:abc:", "https://example.com#a", "#key-1",
     "did:key:z6Mk" + "a" * 5000],
)
def test_split_did_url_rejects(url: str) -> None:
    with pytest.raises(InvalidDid):
        split_did_url(url)


# --- did:web ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "did", "document_url"),
    [
        ("http://127.0.0.1:5000", "did:web:127.0.0.1%3A5000", "https://127.0.0.1:5000/.well-known/did.json"),
        ("https://id.jeju.go.kr", "did:web:id.jeju.go.kr", "https://id.jeju.go.kr/.well-known/did.json"),
        ("https://example.com/issuers/jeju", "did:web:example.com:issuers:jeju",
         "https://example.com/issuers/jeju/did.json"),
        ("https://example.com/", "did:web:example.com", "https://example.com/.well-known/did.json"),
        ("https://example.com/issuers/jeju/", "did:web:example.com:issuers:jeju",
         "https://example.com/issuers/jeju/did.json"),
        ("https://Example.COM:8443/a", "did:web:example.com%3A8443:a", "https://example.com:8443/a/did.json"),
        ("https://example.com:443", "did:web:example.com", "https://example.com/.well-known/did.json"),
        ("https://example.com/user%20alice", "did:web:example.com:user%20alice",
         "https://example.com/user%20alice/did.json"),
    ],
)
def test_did_web_derivation(base_url: str, did: str, document_url: str) -> None:
    assert did_web_from_url(base_url) == did
    assert did_web_document_url(did) == document_url


def test_did_web_spec_lowercase_port_encoding_is_understood() -> None:
    assert did_web_document_url("did:web:localhost%3a8443") == "https://localhost:8443/.well-known/did.json"


@pytest.mark.parametrize(
    "base_url",
    ["https://user:pw@example.com", "https://user@example.com", "https://example.com?x=1", "https://example.com#f",
     "ftp://example.com", "example.com", "https://", "https:///path", "https://example.com//a",
     "https://example.com/a//b", "https://example.com/./a", "https://example.com/a/..", "https://example.com/%2e%2e",
     "https://example.com/a%2Fb", "https://[::1]:8443", "https://exa_mple.com", "https://example.com:0",
     "https://example.com:99999", "https://example.com:port", "https://bücher.example", "https://example.com/a b",
     "https://example.com/~user", "https://-bad.example.com", "https://" + "a" * 5000 + ".com", None],
)
def test_did_web_from_url_rejects(base_url: Any) -> None:
    with pytest.raises(InvalidDid):
        did_web_from_url(base_url)


@pytest.mark.parametrize(
    "did",
    ["did:web:", "did:web:example.com::a", "did:web:example.com:a:", "did:web::a", "did:web:example.com#key-1",
     "did:web:example.com/path", "did:web:example.com%2Fevil", "did:web:example.com%3A0", "did:web:example.com%3A99999",
     "did:web:example.com%3A08443", "did:web:example.com%3A", "did:web:user%40example.com", "did:web:%65xample.com",
     "did:web:example.com:%2e%2e:x", "did:web:Example.com", "did:key:z6Mkabc", "did:web:example.com%3A80%3A81"],
)
def test_did_web_document_url_rejects(did: str) -> None:
    with pytest.raises(InvalidDid):
        did_web_document_url(did)


# --- verification methods ---------------------------------------------------------------------------------


def _methods_for(public_key: Any) -> list[dict[str, Any]]:
    """Every verification method form accepted for a key."""
    base = {"id": "did:example:1#k", "controller": "did:example:1"}
    forms = [
        {**base, "type": "Multikey", "publicKeyMultibase": public_key_multibase(public_key)},
        {**base, "type": "JsonWebKey", "publicKeyJwk": public_jwk_from_public_key(public_key)},
        {**base, "type": "JsonWebKey2020", "publicKeyJwk": public_jwk_from_public_key(public_key)},
    ]
    if isinstance(public_key, Ed25519PublicKey):
        multibase = public_key_multibase(public_key)
        forms.append({**base, "type": "Ed25519VerificationKey2020", "publicKeyMultibase": multibase})
        raw_base58 = base58.b58encode(_raw(public_key)).decode()
        forms.append({**base, "type": "Ed25519VerificationKey2018", "publicKeyBase58": raw_base58})
    return forms


@pytest.mark.parametrize("make_key", [_ed25519_key, _p256_key], ids=["ed25519", "p256"])
def test_public_key_from_each_verification_method_type(make_key: Any) -> None:
    public_key = make_key()
    for method in _methods_for(public_key):
        assert _same_key(public_key_from_verification_method(method), public_key), method["type"]


def test_bad_verification_methods_are_rejected() -> None:
    ed25519, p256 = _ed25519_key(), _p256_key()
    multikey = {"id": "did:example:1#k", "type": "Multikey", "publicKeyMultibase": public_key_multibase(ed25519)}
    jwk = public_jwk_from_public_key(ed25519)
    bad = [
        {**multikey, "type": "EcdsaSecp256k1VerificationKey2019"},
        {**multikey, "type": "X25519KeyAgreementKey2020"},
        {**multikey, "type": ["Multikey"]},
        {key: value for key, value in multikey.items() if key != "type"},
        {**multikey, "secretKeyMultibase": "z123"},
        {**multikey, "privateKeyJwk": {}},
        {**multikey, "publicKeyJwk": jwk},  # two key properties
        {**multikey, "publicKeyMultibase": None},
        {"id": "did:example:1#k", "type": "Multikey", "publicKeyJwk": jwk},  # wrong property for the type
        {"id": "did:example:1#k", "type": "JsonWebKey", "publicKeyMultibase": multikey["publicKeyMultibase"]},
        {"id": "did:example:1#k", "type": "JsonWebKey", "publicKeyJwk": "not an object"},
        {**multikey, "type": "Ed25519VerificationKey2020", "publicKeyMultibase": public_key_multibase(p256)},
        {"id": "did:example:1#k", "type": "Ed25519VerificationKey2018", "publicKeyBase58": "1" * 31},
        {"id": "did:example:1#k", "type": "Ed25519VerificationKey2018", "publicKeyBase58": "0OIl"},
        {"id": "did:example:1#k", "type": "Ed25519VerificationKey2018", "publicKeyBase58": 5},
    ]
    for method in bad:
        with pytest.raises(InvalidDid):
            public_key_from_verification_method(method)
    with pytest.raises(InvalidDid):
        public_key_from_verification_method(["not", "a", "method"])  # type: ignore[arg-type]


# --- find_verification_method -----------------------------------------------------------------------------

DOC_ID = "did:web:example.com"


def _issuer_document() -> dict[str, Any]:
    key_1 = {"id": "#key-1", "type": "Multikey", "controller": DOC_ID,
             "publicKeyMultibase": public_key_multibase(_ed25519_key())}
    key_2 = {"id": f"{DOC_ID}#key-2", "type": "JsonWebKey", "controller": DOC_ID,
             "publicKeyJwk": public_jwk_from_public_key(_p256_key())}
    embedded = {"id": f"{DOC_ID}#auth", "type": "Multikey", "controller": DOC_ID,
                "publicKeyMultibase": public_key_multibase(_ed25519_key())}
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DOC_ID,
        "verificationMethod": [key_1, key_2],
        "assertionMethod": ["#key-1", f"{DOC_ID}#key-2"],
        "authentication": [embedded, "#key-1"],
        "capabilityInvocation": [],
    }


@pytest.mark.parametrize("method_id", ["#key-1", f"{DOC_ID}#key-1"])
def test_find_method_resolves_relative_and_absolute_ids(method_id: str) -> None:
    document = _issuer_document()
    method = find_verification_method(document, method_id)
    assert method["id"] == f"{DOC_ID}#key-1"
    assert method["publicKeyMultibase"] == document["verificationMethod"][0]["publicKeyMultibase"]
    assert document["verificationMethod"][0]["id"] == "#key-1"  # the document is not modified


def test_find_method_embedded_in_relationship() -> None:
    document = _issuer_document()
    assert find_verification_method(document, "#auth", "authentication")["id"] == f"{DOC_ID}#auth"
    with pytest.raises(KeyNotAuthorized):
        find_verification_method(document, "#auth", "assertionMethod")


def test_find_method_requires_the_relationship() -> None:
    document = _issuer_document()
    assert find_verification_method(document, "#key-2")["type"] == "JsonWebKey"
    with pytest.raises(KeyNotAuthorized) as info:
        find_verification_method(document, "#key-2", "authentication")
    assert info.value.code == "key_not_authorized"
    for relationship in ("capabilityInvocation", "capabilityDelegation", "keyAgreement"):
        with pytest.raises(KeyNotAuthorized):
            find_verification_method(document, "#key-1", relationship)


@pytest.mark.parametrize("method_id", ["#key-3", "did:web:other.example#key-1", f"{DOC_ID}#KEY-1"])
def test_find_method_unknown_id(method_id: str) -> None:
    with pytest.raises(KeyNotFound) as info:
        find_verification_method(_issuer_document(), method_id)
    assert info.value.code == "key_not_found"


def test_find_method_rejects_malformed_input() -> None:
    document = _issuer_document()
    for method_id in ("key-1", DOC_ID, "", "#", 5):
        with pytest.raises(InvalidDid):
            find_verification_method(document, method_id)  # type: ignore[arg-type]
    duplicated = {**document, "verificationMethod": document["verificationMethod"] + [
        {**document["verificationMethod"][0], "id": f"{DOC_ID}#key-1"}]}
    embedded_twice = {**document, "assertionMethod": [document["authentication"][0], "#key-1"]}
    for bad in (
        duplicated,
        embedded_twice,
        {**document, "id": "did:web:example.com#frag"},
        {**document, "id": None},
        {**document, "assertionMethod": "#key-1"},
        {**document, "assertionMethod": [5]},
        {**document, "verificationMethod": [{"type": "Multikey"}]},
        {**document, "verificationMethod": ["#key-1"]},
        ["not", "a", "document"],
    ):
        with pytest.raises(InvalidDid):
            find_verification_method(bad, "#key-1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        find_verification_method(document, "#key-1", "assertion")


def test_lookup_errors_are_resolution_errors() -> None:
    for error in (KeyNotFound, KeyNotAuthorized, InvalidDid):
        assert issubclass(error, ResolutionError)
        assert error().status == 422
    assert KeyNotFound().code == "key_not_found"
    assert KeyNotAuthorized().code == "key_not_authorized"


# --- properties -------------------------------------------------------------------------------------------

ed25519_keys = st.binary(min_size=32, max_size=32).map(
    lambda seed: Ed25519PrivateKey.from_private_bytes(seed).public_key()
)
p256_keys = st.integers(min_value=1, max_value=P256_ORDER - 1).map(
    lambda d: ec.derive_private_key(d, ec.SECP256R1()).public_key()
)


@given(st.one_of(ed25519_keys, p256_keys))
def test_key_did_resolve_key_round_trip(public_key: Any) -> None:
    for did, resolve in ((did_key_from_public_key(public_key), resolve_did_key),
                         (did_jwk_from_public_key(public_key), resolve_did_jwk)):
        document = resolve(did)
        assert document["id"] == did
        assert _same_key(_document_key(document), public_key)
    assert _same_key(public_key_from_multibase(public_key_multibase(public_key)), public_key)
    assert _same_key(public_key_from_jwk(public_jwk_from_public_key(public_key)), public_key)


@given(st.binary(max_size=64))
def test_arbitrary_multikey_bytes_decode_or_raise_invalid_did(data: bytes) -> None:
    try:
        public_key = public_key_from_multibase(multibase_encode(data))
    except InvalidDid:
        return
    assert public_key_multibase(public_key) == multibase_encode(data)  # accepted only in canonical form


@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_another_error(text: str) -> None:
    for function in (resolve_offline, split_did_url, did_web_document_url, did_web_from_url):
        try:
            function(text)
        except InvalidDid:
            pass


@given(st.text(alphabet="ABCDEFabcdef0123456789-_", max_size=300))
def test_arbitrary_did_jwk_never_escapes_as_another_error(encoded: str) -> None:
    try:
        resolve_did_jwk("did:jwk:" + encoded)
    except InvalidDid:
        pass
