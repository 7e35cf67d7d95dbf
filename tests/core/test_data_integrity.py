"""Tests for did_service.core.proofs.data_integrity: the W3C vc-di-eddsa and vc-di-ecdsa vectors byte for byte,
the must-reject cases of the specifications, and binding (purpose, challenge, domain, context, key type)."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import base58
import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from did_service.core import jsonld
from did_service.core.did import did_key_from_public_key, multibase_encode, public_key_from_multibase
from did_service.core.keys import signing_key_from_private
from did_service.core.proofs import data_integrity as di
from did_service.core.proofs.data_integrity import DataIntegrityError
from tests.support import CREDENTIAL_TYPES, VECTORS_DIR, load_subject

EDDSA = VECTORS_DIR / "w3c-vc-di-eddsa" / "TestVectors"
EDDSA_RDFC = EDDSA / "eddsa-rdfc-2022"
ECDSA = VECTORS_DIR / "w3c-vc-di-ecdsa" / "TestVectors"
ECDSA_RDFC = ECDSA / "ecdsa-rdfc-2019-p256"

V2 = "https://www.w3.org/ns/credentials/v2"
DS = "https://schemas.did-service.example/contexts/credentials/v1"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
CREATED = "2024-05-01T09:30:00Z"
VERIFIER = "https://verifier.example"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _multikey_secret(value: str, prefix: bytes) -> bytes:
    """The key bytes of a multibase Multikey secret (ed25519-priv 0x1300 = 80 26, p256-priv 0x1306 = 86 26)."""
    raw = base58.b58decode(value[1:])
    assert value[0] == "z" and raw[:2] == prefix
    return raw[2:]


ED_PAIR = _load(EDDSA / "keyPair.json")
ED_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(_multikey_secret(ED_PAIR["privateKeyMultibase"], b"\x80\x26"))
ED_PUBLIC = public_key_from_multibase(ED_PAIR["publicKeyMultibase"])
P256_PAIR = _load(ECDSA / "p256KeyPair.json")
P256_KEY = ec.derive_private_key(
    int.from_bytes(_multikey_secret(P256_PAIR["secretKeyMultibase"], b"\x86\x26"), "big"), ec.SECP256R1()
)
P256_PUBLIC = public_key_from_multibase(P256_PAIR["publicKeyMultibase"])
KEYS = {"eddsa-rdfc-2022": (ED_KEY, ED_PUBLIC), "ecdsa-rdfc-2019": (P256_KEY, P256_PUBLIC)}


def test_vector_key_pairs_match():
    assert ED_KEY.public_key() == ED_PUBLIC and P256_KEY.public_key() == P256_PUBLIC


def _method(public_key: Any) -> str:
    did = did_key_from_public_key(public_key)
    return f"{did}#{did.removeprefix('did:key:')}"


def _credential(credential_type: str = "ResidentIdentityCredential") -> dict[str, Any]:
    return {
        "@context": [V2, DS],
        "id": "urn:uuid:7a0f6f8e-0c2b-4a8e-9d3e-5f7b0b1c2d3e",
        "type": ["VerifiableCredential", credential_type],
        "issuer": "did:web:issuer.example",
        "validFrom": "2024-05-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", **load_subject(credential_type)},
    }


def _sign(document: dict[str, Any], suite: str, **options: Any) -> dict[str, Any]:
    private, public = KEYS[suite]
    return di.add_proof(document, private, _method(public), cryptosuite=suite, created=CREATED, **options)


def _verify(document: dict[str, Any], public_key: Any = None, *, expected_purpose: str = "assertionMethod",
            **options: Any) -> di.Proof:
    unsecured, proof = di.read_proof(document)
    di.verify_proof(document, proof, public_key or KEYS[proof.cryptosuite][1], expected_purpose=expected_purpose,
                    **options)
    return proof


def _code(call, *args, **kwargs) -> str:
    with pytest.raises(DataIntegrityError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 422
    return caught.value.code


# --- eddsa-rdfc-2022 vectors (vc-di-eddsa appendix B.1) -----------------------------------------------------


def _eddsa_options() -> dict[str, Any]:
    config = _load(EDDSA_RDFC / "proofConfigDataInt.json")
    return {key: value for key, value in config.items() if key != "@context"}


def test_eddsa_canonical_forms_and_hashes_are_reproduced():
    unsigned = _load(EDDSA / "unsigned.json")
    assert di.proof_configuration(unsigned, _eddsa_options()) == _load(EDDSA_RDFC / "proofConfigDataInt.json")
    data = di.verify_data(unsigned, _eddsa_options())
    assert data.canonical_document == _text(EDDSA_RDFC / "canonDocDataInt.txt")
    assert data.canonical_proof_config == _text(EDDSA_RDFC / "proofCanonDataInt.txt")
    assert data.document_hash.hex() == _text(EDDSA_RDFC / "docHashDataInt.txt").strip()
    assert data.proof_hash.hex() == _text(EDDSA_RDFC / "proofHashDataInt.txt").strip()
    assert data.hash_data.hex() == _text(EDDSA_RDFC / "combinedHashDataInt.txt").strip()


def test_eddsa_signature_and_secured_credential_are_reproduced():
    unsigned = _load(EDDSA / "unsigned.json")
    before = copy.deepcopy(unsigned)
    options = _eddsa_options()
    signed = di.add_proof(unsigned, ED_KEY, options["verificationMethod"], cryptosuite="eddsa-rdfc-2022",
                          created=options["created"])
    assert unsigned == before and "proof" not in unsigned
    expected = _load(EDDSA_RDFC / "signedDataInt.json")
    assert signed == expected
    assert list(signed["proof"]) == list(expected["proof"])  # member order too
    proof_value = signed["proof"]["proofValue"]
    assert proof_value == _text(EDDSA_RDFC / "sigBTC58DataInt.txt").strip()
    assert base58.b58decode(proof_value[1:]).hex() == _text(EDDSA_RDFC / "sigHexDataInt.txt").strip()


def test_eddsa_vector_verifies_and_tampering_fails():
    signed = _load(EDDSA_RDFC / "signedDataInt.json")
    proof = _verify(signed, ED_PUBLIC)
    assert (proof.cryptosuite, proof.proof_purpose, proof.created) == ("eddsa-rdfc-2022", "assertionMethod",
                                                                       "2023-02-24T23:36:38Z")
    assert proof.verification_method == _method(ED_PUBLIC)
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["alumniOf"] = "The School of Forgeries"
    assert _code(_verify, tampered, ED_PUBLIC) == "invalid_signature"


# --- ecdsa-rdfc-2019 P-256 vectors (vc-di-ecdsa) ------------------------------------------------------------


def _ecdsa_options() -> dict[str, Any]:
    config = _load(ECDSA_RDFC / "proofConfigECDSAP256.json")
    return {key: value for key, value in config.items() if key != "@context"}


def test_ecdsa_canonical_forms_and_hashes_are_reproduced():
    unsigned = _load(ECDSA / "unsigned.json")
    data = di.verify_data(unsigned, _ecdsa_options())
    assert data.canonical_document == _text(ECDSA_RDFC / "canonDocECDSAP256.txt")
    assert data.canonical_proof_config == _text(ECDSA_RDFC / "proofCanonECDSAP256.txt")
    assert data.document_hash.hex() == _text(ECDSA_RDFC / "docHashECDSAP256.txt").strip()
    assert data.proof_hash.hex() == _text(ECDSA_RDFC / "proofHashECDSAP256.txt").strip()
    assert data.hash_data.hex() == _text(ECDSA_RDFC / "combinedHashECDSAP256.txt").strip()
    proof_value = _text(ECDSA_RDFC / "sigBTC58ECDSAP256.txt").strip()
    assert base58.b58decode(proof_value[1:]).hex() == _text(ECDSA_RDFC / "sigHexECDSAP256.txt").strip()


def test_ecdsa_vector_verifies_and_tampering_fails():
    signed = _load(ECDSA_RDFC / "signedECDSAP256.json")
    proof = _verify(signed, P256_PUBLIC)
    assert proof.verification_method == _method(P256_PUBLIC)
    tampered = copy.deepcopy(signed)
    tampered["validFrom"] = "2023-01-02T00:00:00Z"
    assert _code(_verify, tampered, P256_PUBLIC) == "invalid_signature"


def test_ecdsa_own_signatures_are_randomized_and_verify():
    unsigned = _load(ECDSA / "unsigned.json")
    options = _ecdsa_options()
    first = di.add_proof(unsigned, P256_KEY, options["verificationMethod"], cryptosuite="ecdsa-rdfc-2019",
                         created=options["created"])
    second = di.add_proof(unsigned, P256_KEY, options["verificationMethod"], cryptosuite="ecdsa-rdfc-2019",
                          created=options["created"])
    assert first["proof"]["proofValue"] != second["proof"]["proofValue"]
    vector_proof = _load(ECDSA_RDFC / "signedECDSAP256.json")["proof"]
    for signed in (first, second):
        assert {k: v for k, v in signed["proof"].items() if k != "proofValue"} == {
            k: v for k, v in vector_proof.items() if k != "proofValue"}
        assert len(base58.b58decode(signed["proof"]["proofValue"][1:])) == 64  # P1363 r || s, not DER
        _verify(signed, P256_PUBLIC)


# --- vectors that need an unbundled context -----------------------------------------------------------------


@pytest.mark.parametrize("path,suite", [
    (EDDSA_RDFC / "employ" / "signedDataInt.json", "eddsa-rdfc-2022"),
    (ECDSA_RDFC / "employ" / "signedECDSAP256.json", "ecdsa-rdfc-2019"),
])
def test_employment_vectors_need_a_context_that_is_not_bundled(path, suite):
    signed = _load(path)
    assert "https://w3id.org/citizenship/v4rc1" in signed["@context"]
    assert _code(_verify, signed, KEYS[suite][1]) == "unsupported_context"
    unsigned = {key: value for key, value in signed.items() if key != "proof"}
    assert _code(_sign, unsigned, suite) == "unsupported_context"


# --- our credentials ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", di.CRYPTOSUITES)
@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
def test_our_credentials_round_trip(suite, credential_type):
    credential = _credential(credential_type)
    signed = _sign(credential, suite)
    assert signed["proof"]["type"] == "DataIntegrityProof" and signed["proof"]["cryptosuite"] == suite
    proof = _verify(signed)
    assert proof.created == CREATED
    unsecured, _ = di.read_proof(signed)
    assert unsecured == credential


def test_a_signing_key_record_is_accepted_too():
    signed = di.add_proof(_credential(), signing_key_from_private(ED_KEY), _method(ED_PUBLIC),
                          cryptosuite="eddsa-rdfc-2022")
    assert "created" not in signed["proof"]
    _verify(signed)


# --- must-reject: the proof's shape (read_proof) ------------------------------------------------------------


def _signed_vector() -> dict[str, Any]:
    return _load(EDDSA_RDFC / "signedDataInt.json")


def _proof_set(document: dict[str, Any]) -> None:
    document["proof"] = [document["proof"], dict(document["proof"])]


def _mutate_proof(**changes: Any):
    def mutate(document: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is _DELETE:
                document["proof"].pop(key)
            else:
                document["proof"][key] = value
    return mutate


_DELETE = object()


@pytest.mark.parametrize("mutate,code", [
    (lambda d: d.pop("proof"), "proof_missing"),
    (lambda d: d.update(proof=None), "proof_missing"),
    (lambda d: d.update(proof=[]), "proof_missing"),
    (_proof_set, "unsupported_proof_set"),
    (_mutate_proof(previousProof="urn:uuid:1"), "unsupported_proof_set"),
    (lambda d: d.update(proof="z2YwC8z3ap7yx1nZYCg4L3j3ApHsF8kgPdSb5xoS1VR7vPG3F561B52hYnQF9iseabecm3ijx4K1FBTQsCZahKZme"),
     "invalid_proof"),
    (_mutate_proof(type="Ed25519Signature2020"), "unsupported_proof_type"),
    (_mutate_proof(type=["DataIntegrityProof"]), "unsupported_proof_type"),
    (_mutate_proof(type=_DELETE), "unsupported_proof_type"),
    (_mutate_proof(cryptosuite=_DELETE), "unsupported_cryptosuite"),
    (_mutate_proof(cryptosuite="eddsa-jcs-2022"), "unsupported_cryptosuite"),
    (_mutate_proof(cryptosuite="bbs-2023"), "unsupported_cryptosuite"),
    (_mutate_proof(cryptosuite=["eddsa-rdfc-2022"]), "unsupported_cryptosuite"),
    (_mutate_proof(verificationMethod=_DELETE), "invalid_proof"),
    (_mutate_proof(verificationMethod={"id": "did:example:1#k"}), "invalid_proof"),
    (_mutate_proof(proofPurpose=_DELETE), "invalid_proof"),
    (_mutate_proof(proofPurpose="bragging"), "invalid_proof"),
    (_mutate_proof(proofValue=_DELETE), "invalid_proof_value"),
    # No multibase header: the same signature as hex, as bare base58, as base64url multibase ('u').
    (_mutate_proof(proofValue="4d8e53c2d5b3f2a7891753eb16ca993325bdb0d3cfc5be1093d0a18426f5ef8578cadc0fd4b5f4dd0d1ce0aefd15"
                              "ab120b7a894d0eb094ffda4e6553cd1ed50d"), "invalid_proof_value"),
    (_mutate_proof(proofValue="2YwC8z3ap7yx1nZYCg4L3j3ApHsF8kgPdSb5xoS1VR7vPG3F561B52hYnQF9iseabecm3ijx4K1FBTQsCZahKZme"),
     "invalid_proof_value"),
    (_mutate_proof(proofValue="uTY5TwtWz8qeJF1PrFsqZMyW9sNPPxb4Qk9ChhCb174V4ytwP1LX03Q0c4K79FasSC3qJTQ6wlP_aTmVTzR7VDQ"),
     "invalid_proof_value"),
    (_mutate_proof(proofValue="z0OIl"), "invalid_proof_value"),         # not in the base58 alphabet
    (_mutate_proof(proofValue="z" + base58.b58encode(bytes(63)).decode()), "invalid_proof_value"),
    (_mutate_proof(created="2023-02-24T23:36:38"), "invalid_proof"),     # no time zone
    (_mutate_proof(created="2023-02-30T23:36:38Z"), "invalid_proof"),    # no such day
    (_mutate_proof(created=1677281798), "invalid_proof"),
    (_mutate_proof(expires="tomorrow"), "invalid_proof"),
    (_mutate_proof(challenge=7), "invalid_proof"),
    (_mutate_proof(domain=[VERIFIER, "https://other.example"]), "invalid_proof"),
    (_mutate_proof(**{"@context": {"inline": "https://example.org/"}}), "invalid_proof"),
])
def test_malformed_proofs_are_refused_before_any_key_is_needed(mutate, code):
    document = _signed_vector()
    mutate(document)
    assert _code(di.read_proof, document) == code


def test_a_single_proof_in_an_array_is_the_same_proof():
    document = _signed_vector()
    document["proof"] = [document["proof"]]
    _verify(document, ED_PUBLIC)


def test_an_eddsa_jcs_2022_proof_is_an_unsupported_cryptosuite():
    assert _code(di.read_proof, _load(EDDSA / "eddsa-jcs-2022" / "signedJCS.json")) == "unsupported_cryptosuite"


def test_an_ed25519_signature_2020_proof_is_an_unsupported_type():
    assert _code(di.read_proof, _load(EDDSA / "Ed25519Signature2020" / "signedEdSig.json")) == "unsupported_proof_type"


# --- must-reject: the wrong canonicalization or hash --------------------------------------------------------


def _resign(document: dict[str, Any], hash_data: bytes, suite: str = "eddsa-rdfc-2022",
            ecdsa_hash: hashes.HashAlgorithm | None = None) -> dict[str, Any]:
    private, _ = KEYS[suite]
    if suite == "eddsa-rdfc-2022":
        signature = private.sign(hash_data)
    else:
        r, s = decode_dss_signature(private.sign(hash_data, ec.ECDSA(ecdsa_hash or hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    resigned = copy.deepcopy(document)
    resigned["proof"]["proofValue"] = multibase_encode(signature)
    return resigned


def test_a_proof_computed_with_jcs_but_labelled_rdfc_fails():
    signed = _signed_vector()
    options = {key: value for key, value in signed["proof"].items() if key != "proofValue"}
    unsecured = {key: value for key, value in signed.items() if key != "proof"}
    config = {**options, "@context": unsecured["@context"]}
    jcs_hash = hashlib.sha256(rfc8785.dumps(config)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    forged = _resign(signed, jcs_hash)
    _verify(_resign(signed, di.verify_data(unsecured, options).hash_data), ED_PUBLIC)  # the harness is sound
    assert _code(_verify, forged, ED_PUBLIC) == "invalid_signature"


@pytest.mark.parametrize("suite", di.CRYPTOSUITES)
def test_a_proof_computed_over_sha512_hashes_fails(suite):
    signed = _sign(_credential(), suite)
    unsecured, proof = di.read_proof(signed)
    data = di.verify_data(unsecured, proof.options)
    sha512 = (hashlib.sha512(data.canonical_proof_config.encode()).digest()
              + hashlib.sha512(data.canonical_document.encode()).digest())
    assert _code(_verify, _resign(signed, sha512, suite, hashes.SHA512())) == "invalid_signature"
    if suite == "ecdsa-rdfc-2019":  # SHA-256 hashes but ECDSA over SHA-512: still not ecdsa-rdfc-2019 with P-256
        assert _code(_verify, _resign(signed, data.hash_data, suite, hashes.SHA512())) == "invalid_signature"
    _verify(_resign(signed, data.hash_data, suite))  # the harness is sound


# --- must-reject: binding and tampering (verify_proof) ------------------------------------------------------


@pytest.mark.parametrize("suite", di.CRYPTOSUITES)
def test_changes_after_signing_fail(suite):
    signed = _sign(_credential(), suite)
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["givenName"] = "길순"
    assert _code(_verify, changed) == "invalid_signature"
    added = copy.deepcopy(signed)
    added["description"] = "a defined term, added after signing"
    assert _code(_verify, added) == "invalid_signature"
    undefined = copy.deepcopy(signed)
    undefined["credentialSubject"]["nickname"] = "x"
    assert _code(_verify, undefined) == "undefined_term"
    removed = copy.deepcopy(signed)
    del removed["credentialSubject"]["photoDigest"]
    assert _code(_verify, removed) == "invalid_signature"
    for key, value in (("created", "2024-05-02T09:30:00Z"), ("verificationMethod", _method(KEYS[suite][1]) + "x")):
        options_changed = copy.deepcopy(signed)
        options_changed["proof"][key] = value
        assert _code(_verify, options_changed) == "invalid_signature"
    flipped = copy.deepcopy(signed)
    signature = bytearray(base58.b58decode(flipped["proof"]["proofValue"][1:]))
    signature[10] ^= 1
    flipped["proof"]["proofValue"] = multibase_encode(bytes(signature))
    assert _code(_verify, flipped) == "invalid_signature"
    proof_term = copy.deepcopy(signed)
    proof_term["proof"]["note"] = "x"
    assert _code(_verify, proof_term) == "undefined_term"


def test_a_swapped_context_fails():
    signed = _sign(_credential(), "eddsa-rdfc-2022")
    swapped = {**signed, "@context": [V2, EXAMPLES]}  # every subject term now means examples#...
    assert _code(_verify, swapped) == "invalid_signature"
    vector = _signed_vector()
    vector["@context"] = [V2, DS]  # alumniOf is not defined by the did_service context
    assert _code(_verify, vector, ED_PUBLIC) == "undefined_term"


def test_the_proof_context_must_start_the_document_context():
    """VC DI EdDSA/ECDSA "Verify Proof": a proof that carries @context binds the document's list, in order."""
    signed = _sign(_load(EDDSA / "unsigned.json"), "eddsa-rdfc-2022")
    signed["proof"]["@context"] = [V2, EXAMPLES]  # not in the canonical RDF: may be added after signing
    _verify(signed)
    reordered = {**signed, "@context": [EXAMPLES, V2]}
    assert _code(_verify, reordered) == "context_mismatch"
    shortened = {**signed, "@context": [V2]}
    assert _code(_verify, shortened) == "context_mismatch"
    prefix_only = copy.deepcopy(signed)
    prefix_only["proof"]["@context"] = V2  # the document is then processed with [V2] alone: alumniOf is undefined
    assert _code(_verify, prefix_only) == "undefined_term"


def test_a_reorder_that_keeps_the_rdf_still_verifies_without_a_proof_context():
    """RDFC signs the document's meaning, not its JSON. Without a proof @context, a reorder that leaves every term
    with the same IRI is the same signed statement (VCDM's first-context rule is the credential validator's job);
    a change of meaning does not verify (test_a_swapped_context_fails)."""
    signed = _sign(_load(EDDSA / "unsigned.json"), "eddsa-rdfc-2022")
    _verify({**signed, "@context": [EXAMPLES, V2]})
    ours = _sign(_credential(), "eddsa-rdfc-2022")
    _verify({**ours, "@context": [DS, V2]})
    _verify({**ours, "@context": [V2, EXAMPLES, DS]})  # the catch-all @vocab adds nothing: every term is defined


@pytest.mark.parametrize("suite", di.CRYPTOSUITES)
def test_the_key_type_is_pinned_by_the_suite(suite):
    other = "ecdsa-rdfc-2019" if suite == "eddsa-rdfc-2022" else "eddsa-rdfc-2022"
    signed = _sign(_credential(), suite)
    assert _code(_verify, signed, KEYS[other][1]) == "key_suite_mismatch"
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert _code(_verify, signed, p384.public_key()) == "key_suite_mismatch"
    with pytest.raises(DataIntegrityError) as caught:
        di.add_proof(_credential(), KEYS[other][0], "did:example:1#k", cryptosuite=suite)
    assert caught.value.code == "key_suite_mismatch"
    assert _code(di.add_proof, _credential(), p384, "did:example:1#k", cryptosuite="ecdsa-rdfc-2019") == "key_suite_mismatch"
    # Relabelling the suite makes the proof claim the other key type; the verifier's key no longer fits.
    relabelled = copy.deepcopy(signed)
    relabelled["proof"]["cryptosuite"] = other
    assert _code(_verify, relabelled, KEYS[suite][1]) == "key_suite_mismatch"
    stranger = ed25519.Ed25519PrivateKey.generate() if suite == "eddsa-rdfc-2022" else ec.generate_private_key(ec.SECP256R1())
    assert _code(_verify, signed, stranger.public_key()) == "invalid_signature"


def test_the_proof_purpose_must_be_the_expected_one():
    signed = _sign(_credential(), "eddsa-rdfc-2022")
    assert _code(_verify, signed, expected_purpose="authentication") == "proof_purpose_mismatch"
    relabelled = copy.deepcopy(signed)
    relabelled["proof"]["proofPurpose"] = "authentication"  # changing it also breaks the signature
    assert _code(_verify, relabelled, expected_purpose="authentication") == "invalid_signature"


def _presentation(holder_credential: dict[str, Any]) -> dict[str, Any]:
    return {"@context": [V2], "type": ["VerifiablePresentation"], "holder": "did:example:holder",
            "verifiableCredential": [holder_credential]}


@pytest.mark.parametrize("suite", di.CRYPTOSUITES)
def test_presentations_bind_challenge_and_domain(suite):
    credential = _sign(_credential(), "eddsa-rdfc-2022")
    presentation = _sign(_presentation(credential), suite, proof_purpose="authentication", challenge="c-1",
                         domain=VERIFIER)
    assert presentation["proof"]["challenge"] == "c-1" and presentation["proof"]["domain"] == VERIFIER
    proof = _verify(presentation, expected_purpose="authentication", challenge="c-1", domain=VERIFIER)
    assert (proof.challenge, proof.domain) == ("c-1", VERIFIER)
    _verify(presentation, expected_purpose="authentication", challenge="c-1")  # no domain required: not checked
    assert _code(_verify, presentation, expected_purpose="assertionMethod", challenge="c-1") == "proof_purpose_mismatch"
    assert _code(_verify, presentation, expected_purpose="authentication", challenge="c-2") == "challenge_mismatch"
    assert _code(_verify, presentation, expected_purpose="authentication") == "challenge_mismatch"  # not expected
    assert _code(_verify, presentation, expected_purpose="authentication", challenge="c-1",
                 domain="https://other.example") == "domain_mismatch"
    # Changing the challenge or domain in the proof breaks the signature.
    for key, value in (("challenge", "c-2"), ("domain", "https://other.example")):
        replayed = copy.deepcopy(presentation)
        replayed["proof"][key] = value
        assert _code(_verify, replayed, expected_purpose="authentication", challenge=replayed["proof"]["challenge"],
                     domain=replayed["proof"]["domain"]) == "invalid_signature"
    # The embedded credential is covered by the presentation's signature.
    tampered = copy.deepcopy(presentation)
    tampered["verifiableCredential"][0]["credentialSubject"]["givenName"] = "길순"
    assert _code(_verify, tampered, expected_purpose="authentication", challenge="c-1") == "invalid_signature"
    # And it still verifies on its own, with its own proof.
    _verify(presentation["verifiableCredential"][0])


def test_a_challenge_expected_but_absent_fails():
    presentation = _sign(_presentation(_sign(_credential(), "eddsa-rdfc-2022")), "eddsa-rdfc-2022",
                         proof_purpose="authentication", domain=VERIFIER)
    _verify(presentation, expected_purpose="authentication", domain=VERIFIER)
    assert _code(_verify, presentation, expected_purpose="authentication", challenge="c-1") == "challenge_mismatch"
    assert _code(_verify, presentation, expected_purpose="authentication", domain="https://x.example") == "domain_mismatch"
    undomained = _sign(_presentation(_sign(_credential(), "eddsa-rdfc-2022")), "eddsa-rdfc-2022",
                       proof_purpose="authentication", challenge="c-1")
    assert _code(_verify, undomained, expected_purpose="authentication", challenge="c-1",
                 domain=VERIFIER) == "domain_mismatch"


def test_an_expired_proof_fails_when_the_time_is_given():
    document = {**_credential()}
    signed = _sign(document, "eddsa-rdfc-2022")
    unsecured, _ = di.read_proof(signed)
    # expires is part of the signed proof options: build it through the suite's own steps.
    options = {**{k: v for k, v in signed["proof"].items() if k != "proofValue"}, "expires": "2025-01-01T00:00:00Z"}
    expiring = _resign({**signed, "proof": options}, di.verify_data(unsecured, options).hash_data)
    _verify(expiring, now=datetime(2024, 12, 31, tzinfo=timezone.utc))
    _verify(expiring)  # no clock given: not checked here
    assert _code(_verify, expiring, now=datetime(2025, 1, 2, tzinfo=timezone.utc)) == "proof_expired"


# --- add_proof's own refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("call,code", [
    (lambda: di.add_proof(_sign(_credential(), "eddsa-rdfc-2022"), ED_KEY, "did:example:1#k",
                          cryptosuite="eddsa-rdfc-2022"), "unsupported_proof_set"),
    (lambda: di.add_proof(_credential(), ED_KEY, "did:example:1#k", cryptosuite="eddsa-jcs-2022"),
     "unsupported_cryptosuite"),
    (lambda: di.add_proof(_credential(), ED_KEY, "did:example:1#k", cryptosuite="eddsa-rdfc-2022",
                          created="yesterday"), "invalid_proof"),
    (lambda: di.add_proof(_credential(), ED_KEY, "did:example:1#k", cryptosuite="eddsa-rdfc-2022",
                          proof_purpose="bragging"), "invalid_proof"),
    (lambda: di.add_proof(_credential(), ED_KEY, "", cryptosuite="eddsa-rdfc-2022"), "invalid_proof"),
    (lambda: di.add_proof(_credential(), ED_KEY, "keys/1", cryptosuite="eddsa-rdfc-2022"), "invalid_jsonld"),
    (lambda: di.add_proof([_credential()], ED_KEY, "did:example:1#k", cryptosuite="eddsa-rdfc-2022"), "invalid_proof"),
    (lambda: di.add_proof({**_credential(), "nickname": "x"}, ED_KEY, "did:example:1#k",
                          cryptosuite="eddsa-rdfc-2022"), "undefined_term"),
    (lambda: di.add_proof({**_credential(), "@context": [V2, "https://example.com/ctx"]}, ED_KEY, "did:example:1#k",
                          cryptosuite="eddsa-rdfc-2022"), "unsupported_context"),
])
def test_add_proof_refuses(call, code):
    assert _code(call) == code


def test_json_ld_errors_keep_their_code_as_data_integrity_errors():
    with pytest.raises(DataIntegrityError) as caught:
        _sign({**_credential(), "nickname": "x"}, "eddsa-rdfc-2022")
    assert isinstance(caught.value.__cause__, jsonld.JsonLdError) and caught.value.code == "undefined_term"


_PROOF_KEYS = st.sampled_from(["type", "cryptosuite", "created", "expires", "verificationMethod", "proofPurpose",
                               "proofValue", "challenge", "domain", "previousProof", "@context", "id", "nonce"])
_PROOF_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=12),
    st.sampled_from(["DataIntegrityProof", "eddsa-rdfc-2022", "ecdsa-rdfc-2019", "assertionMethod", CREATED,
                     "did:example:1#k", V2, _load(EDDSA_RDFC / "signedDataInt.json")["proof"]["proofValue"]]),
    st.lists(st.sampled_from(["DataIntegrityProof", V2, "x"]), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(proof=st.one_of(st.dictionaries(_PROOF_KEYS, _PROOF_VALUES, max_size=9), _PROOF_VALUES))
def test_any_proof_value_reads_or_gives_a_data_integrity_error(proof):
    document = {**_load(EDDSA / "unsigned.json"), "proof": proof}
    try:
        _, read = di.read_proof(document)
    except DataIntegrityError:
        return
    with pytest.raises(DataIntegrityError):  # made up: it cannot verify
        di.verify_proof(document, read, KEYS[read.cryptosuite][1], expected_purpose=read.proof_purpose,
                        challenge=read.challenge, domain=read.domain)
