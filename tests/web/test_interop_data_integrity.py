"""What the issuer signs with Data Integrity, verified without the project's code: plain pyld (RDFC-1.0 through
its own document loader over the bundled context files), hashlib, base58 and cryptography, following the
cryptosuite specs' "Verify Proof" steps literally."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import base58
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk
from pyld import jsonld

from tests.support import CREDENTIAL_TYPES, issue_body

CONTEXTS_DIR = Path(__file__).resolve().parents[2] / "did_service" / "contexts"


def _loader():
    manifest = json.loads((CONTEXTS_DIR / "manifest.json").read_text(encoding="utf-8"))["contexts"]

    def load(url, options=None):
        # Only the files themselves; a URL that is not in the folder is a test failure, never a fetch.
        document = json.loads((CONTEXTS_DIR / manifest[url]).read_text(encoding="utf-8"))
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}

    return load


def _canonical(document: dict) -> bytes:
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader()}
    return jsonld.normalize(copy.deepcopy(document), options).encode("utf-8")


def independently_verified(secured: dict, did_document: dict) -> bool:
    proof = dict(secured["proof"])
    proof_value = proof.pop("proofValue")
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    config = {"@context": unsecured["@context"], **proof}
    hash_data = hashlib.sha256(_canonical(config)).digest() + hashlib.sha256(_canonical(unsecured)).digest()
    method = next(m for m in did_document["verificationMethod"] if m["id"] == proof["verificationMethod"])
    key = jwk.JWK(**method["publicKeyJwk"]).get_op_key("verify")
    assert proof_value.startswith("z")
    signature = base58.b58decode(proof_value[1:])
    try:
        if proof["cryptosuite"] == "eddsa-rdfc-2022":
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(signature, hash_data)
        else:
            assert proof["cryptosuite"] == "ecdsa-rdfc-2019" and isinstance(key, ec.EllipticCurvePublicKey)
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, hash_data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "ecdsa-rdfc-2019"])
@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
def test_issued_data_integrity_credentials_verify_with_plain_pyld_and_cryptography(client, auth, suite,
                                                                                   credential_type):
    response = client.post("/credentials/issue", json=issue_body(credential_type, format=suite), headers=auth)
    assert response.status_code == 201, response.get_json()
    secured = response.get_json()["verifiableCredential"]
    did_document = client.get("/.well-known/did.json").get_json()
    assert independently_verified(secured, did_document)
    tampered = copy.deepcopy(secured)
    tampered["validFrom"] = "2020-01-01T00:00:00Z"
    assert not independently_verified(tampered, did_document)


def independently_signed(document: dict, private_key, method: str, suite: str) -> dict:
    proof = {"type": "DataIntegrityProof", "cryptosuite": suite, "created": "2026-01-01T00:00:00Z",
             "verificationMethod": method, "proofPurpose": "assertionMethod"}
    config = {"@context": document["@context"], **proof}
    hash_data = hashlib.sha256(_canonical(config)).digest() + hashlib.sha256(_canonical(document)).digest()
    if suite == "eddsa-rdfc-2022":
        signature = private_key.sign(hash_data)
    else:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(private_key.sign(hash_data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return {**document, "proof": {**proof, "proofValue": "z" + base58.b58encode(signature).decode()}}


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "ecdsa-rdfc-2019"])
def test_credentials_signed_by_the_independent_procedure_verify_here(client, suite):
    from did_service.core import did as dids
    from tests.support import VECTORS_DIR

    private_key = ed25519.Ed25519PrivateKey.generate() if suite == "eddsa-rdfc-2022" else ec.generate_private_key(
        ec.SECP256R1())
    issuer = dids.did_key_from_public_key(private_key.public_key())
    method = dids.resolve_offline(issuer)["verificationMethod"][0]["id"]
    unsigned = json.loads((VECTORS_DIR / "w3c-vc-di-eddsa" / "TestVectors" / "unsigned.json").read_text())
    document = {**unsigned, "issuer": issuer}
    report = client.post("/credentials/verify", json={
        "verifiableCredential": independently_signed(document, private_key, method, suite)}).get_json()
    assert report["verified"] is True, report
    forged = independently_signed({**document, "credentialSubject": {**document["credentialSubject"],
                                                                     "alumniOf": "Other"}},
                                  private_key, method, suite)
    forged["credentialSubject"] = document["credentialSubject"]
    assert report["verified"] is True and client.post("/credentials/verify", json={
        "verifiableCredential": forged}).get_json()["verified"] is False
