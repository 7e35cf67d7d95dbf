"""Data Integrity proofs with the eddsa-rdfc-2022 and ecdsa-rdfc-2019 cryptosuites.

Standards followed:
- W3C Verifiable Credential Data Integrity 1.0: the ``DataIntegrityProof`` shape ("2.1 Proofs"), proof
  purposes, challenge and domain, and the data-loss rule (enforced by core/jsonld.py).
- W3C Data Integrity EdDSA Cryptosuites v1.0, eddsa-rdfc-2022: Create Proof, Verify Proof, Transformation,
  Hashing, Proof Configuration, Proof Serialization, Proof Verification.
- W3C Data Integrity ECDSA Cryptosuites v1.0, ecdsa-rdfc-2019 with P-256 and SHA-256 only (the same steps).

Both suites do the same thing except the signature:
1. transformation: the unsecured document's RDFC-1.0 canonical N-Quads (strict, offline JSON-LD);
2. proof configuration: the proof options without ``proofValue``, with the document's ``@context``, canonicalized;
3. hashing: ``SHA-256(canonical proof configuration) || SHA-256(canonical document)`` (64 bytes);
4. serialization: an Ed25519 signature of those bytes, or an ECDSA P-256/SHA-256 signature in IEEE P1363 form
   (``r || s``, 32 bytes each), as the multibase base58btc ``proofValue`` (``z`` prefix).

The proof says which suite it uses, but never which key type is acceptable: each suite is pinned to one key type
and a key of the other type is refused before any signature check. One proof per document: proof sets and
chains (an array of proofs, ``previousProof``) are refused with their own code.

Pure: no I/O and no clock (``created`` and ``now`` are passed in). Errors are ``DataIntegrityError``s whose
``code`` is one of the module's codes or a core/jsonld.py code; details never quote document values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from did_service.core import jsonld
from did_service.core.did import multibase_decode, multibase_encode
from did_service.core.keys import SigningKey
from did_service.errors import DidServiceError, InvalidDid

EDDSA_RDFC_2022: Final = "eddsa-rdfc-2022"
ECDSA_RDFC_2019: Final = "ecdsa-rdfc-2019"
CRYPTOSUITES: Final = (EDDSA_RDFC_2022, ECDSA_RDFC_2019)
PROOF_TYPE: Final = "DataIntegrityProof"
# The verification relationships of DID Core, which the data-integrity context defines as proof purposes.
PROOF_PURPOSES: Final = frozenset(
    {"assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation", "keyAgreement"}
)
SIGNATURE_LENGTH: Final = 64  # Ed25519, and P-256 r || s
_P256_SCALAR_LENGTH: Final = 32

# XML Schema 1.1 dateTimeStamp (a time zone is mandatory), as VC Data Integrity requires for created/expires.
_DATETIME_STAMP: Final = re.compile(
    r"-?(?:[1-9][0-9]{3,}|0[0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)


class DataIntegrityError(DidServiceError):
    """A Data Integrity proof cannot be created or does not verify; ``code`` says which rule failed.

    Codes: proof_missing, unsupported_proof_set, invalid_proof, unsupported_proof_type, unsupported_cryptosuite,
    invalid_proof_value, key_suite_mismatch, proof_purpose_mismatch, challenge_mismatch, domain_mismatch,
    context_mismatch, proof_expired, invalid_signature, and the core/jsonld.py codes (unsupported_context,
    undefined_term, invalid_jsonld, canonicalization_limit).
    """

    status = 422
    code = "invalid_proof"
    title = "The Data Integrity proof is not acceptable"


@dataclass(frozen=True)
class Proof:
    """A structurally valid proof as read from a secured document; ``raw`` is the proof object as received."""

    cryptosuite: str
    verification_method: str
    proof_purpose: str
    created: str | None
    challenge: str | None
    domain: str | None
    expires: str | None
    signature: bytes = field(repr=False)
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def options(self) -> dict[str, Any]:
        """The proof options: the proof without its ``proofValue``."""
        return {key: value for key, value in self.raw.items() if key != "proofValue"}


@dataclass(frozen=True)
class VerifyData:
    """The cryptosuite's intermediate values for one document and proof configuration."""

    canonical_document: str
    canonical_proof_config: str

    @property
    def document_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_document.encode("utf-8")).digest()

    @property
    def proof_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_proof_config.encode("utf-8")).digest()

    @property
    def hash_data(self) -> bytes:
        """What is signed: the proof configuration hash first, then the document hash."""
        return self.proof_hash + self.document_hash


# --- the cryptosuite steps ----------------------------------------------------------------------------------


def proof_configuration(document: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The proof configuration: ``options`` without ``proofValue``, carrying the document's ``@context``.

    Raises DataIntegrityError if the options are not a DataIntegrityProof of a supported cryptosuite or their
    ``created`` is not a dateTimeStamp (the suites' "Proof Configuration" steps).
    """
    _check_type_and_suite(options)
    if "created" in options:
        _datetime_stamp(options["created"], "created")
    config = {key: value for key, value in options.items() if key != "proofValue"}
    config["@context"] = document.get("@context")
    return config


def verify_data(document: Mapping[str, Any], options: Mapping[str, Any]) -> VerifyData:
    """Transformation and proof configuration of ``document`` under ``options``, both canonicalized."""
    config = proof_configuration(document, options)
    try:
        return VerifyData(canonical_document=jsonld.canonicalize(document),
                          canonical_proof_config=jsonld.canonicalize(config))
    except jsonld.JsonLdError as exc:
        raise DataIntegrityError(exc.detail, code=exc.code) from exc


# --- creating -----------------------------------------------------------------------------------------------


def add_proof(
    document: Mapping[str, Any],
    private_key: SigningKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
    verification_method: str,
    *,
    cryptosuite: str,
    proof_purpose: str = "assertionMethod",
    created: str | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """A new dict: ``document`` with a ``proof`` made with ``private_key`` (the input is not modified; nested
    values are shared with it, not copied).

    The key must fit the suite: Ed25519 for eddsa-rdfc-2022, P-256 for ecdsa-rdfc-2019 (key_suite_mismatch).
    Raises DataIntegrityError, including the core/jsonld.py codes when the document is not strict JSON-LD.
    """
    if not isinstance(document, Mapping):
        raise DataIntegrityError("the document to secure must be a JSON object", code="invalid_proof")
    if "proof" in document:
        raise DataIntegrityError("the document already has a proof; proof sets and chains are not supported",
                                 code="unsupported_proof_set")
    suite = _suite(cryptosuite)
    key = private_key.private_key if isinstance(private_key, SigningKey) else private_key
    if not _key_fits(suite, key, private=True):
        raise DataIntegrityError(f"{suite} signs with {_KEY_NAMES[suite]} keys only", code="key_suite_mismatch")
    if not isinstance(verification_method, str) or not verification_method:
        raise DataIntegrityError("the verification method must be a non-empty string", code="invalid_proof")
    if proof_purpose not in PROOF_PURPOSES:
        raise DataIntegrityError("unknown proof purpose", code="invalid_proof")
    for name, value in (("challenge", challenge), ("domain", domain)):
        if value is not None and not isinstance(value, str):
            raise DataIntegrityError(f"the proof's {name} must be a string", code="invalid_proof")

    # Member order as in the specification's examples and test vectors.
    proof: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": suite}
    if created is not None:
        proof["created"] = created
    proof["verificationMethod"] = verification_method
    proof["proofPurpose"] = proof_purpose
    if challenge is not None:
        proof["challenge"] = challenge
    if domain is not None:
        proof["domain"] = domain
    signature = _sign(suite, key, verify_data(document, proof).hash_data)
    proof["proofValue"] = multibase_encode(signature)
    return {**document, "proof": proof}


def _sign(suite: str, key: Any, data: bytes) -> bytes:
    if suite == EDDSA_RDFC_2022:
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_P256_SCALAR_LENGTH, "big") + s.to_bytes(_P256_SCALAR_LENGTH, "big")


# --- reading ------------------------------------------------------------------------------------------------


def read_proof(document: Any) -> tuple[dict[str, Any], Proof]:
    """Split a secured document into (unsecured document, proof) and apply every check that needs no key.

    A single proof may also come as a one-element array (the same RDF). Raises DataIntegrityError:
    proof_missing, unsupported_proof_set, invalid_proof, unsupported_proof_type, unsupported_cryptosuite,
    invalid_proof_value.
    """
    if not isinstance(document, Mapping):
        raise DataIntegrityError("a secured document must be a JSON object", code="invalid_proof")
    value = document.get("proof")
    if isinstance(value, list):
        if len(value) > 1:
            raise DataIntegrityError("the document has several proofs; proof sets are not supported",
                                     code="unsupported_proof_set")
        value = value[0] if value else None
    if value is None:
        raise DataIntegrityError("the document has no proof", code="proof_missing")
    if not isinstance(value, Mapping):
        raise DataIntegrityError("the proof must be a JSON object", code="invalid_proof")
    if "previousProof" in value:
        raise DataIntegrityError("the proof is part of a proof chain; proof chains are not supported",
                                 code="unsupported_proof_set")
    suite = _check_type_and_suite(value)
    method = value.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise DataIntegrityError("the proof has no verificationMethod", code="invalid_proof")
    purpose = value.get("proofPurpose")
    if not isinstance(purpose, str) or purpose not in PROOF_PURPOSES:
        raise DataIntegrityError("the proof has no known proofPurpose", code="invalid_proof")
    signature = _decode_proof_value(value.get("proofValue"))
    for name in ("created", "expires"):
        if name in value:
            _datetime_stamp(value[name], name)
    for name in ("challenge", "domain"):
        if name in value and not isinstance(value[name], str):
            # A domain may be a set of strings in VC Data Integrity; one string is all a verifier here expects.
            raise DataIntegrityError(f"the proof's {name} must be a string", code="invalid_proof")
    if "@context" in value and _context_list(value["@context"]) is None:
        raise DataIntegrityError("the proof's @context must be a URL or a list of URLs", code="invalid_proof")
    unsecured = {key: item for key, item in document.items() if key != "proof"}
    proof = Proof(
        cryptosuite=suite,
        verification_method=method,
        proof_purpose=purpose,
        created=value.get("created"),
        challenge=value.get("challenge"),
        domain=value.get("domain"),
        expires=value.get("expires"),
        signature=signature,
        raw=dict(value),
    )
    return unsecured, proof


def _check_type_and_suite(options: Mapping[str, Any]) -> str:
    if options.get("type") != PROOF_TYPE:
        raise DataIntegrityError(f"the proof type must be {PROOF_TYPE}", code="unsupported_proof_type")
    return _suite(options.get("cryptosuite"))


def _suite(value: Any) -> str:
    if not isinstance(value, str) or value not in CRYPTOSUITES:
        raise DataIntegrityError(f"the cryptosuite must be one of {', '.join(CRYPTOSUITES)}",
                                 code="unsupported_cryptosuite")
    return value


def _decode_proof_value(value: Any) -> bytes:
    if not isinstance(value, str):
        raise DataIntegrityError("the proof has no proofValue string", code="invalid_proof_value")
    try:
        signature = multibase_decode(value)  # base58btc only: the 'z' header is required
    except InvalidDid as exc:
        raise DataIntegrityError("the proofValue is not multibase base58btc ('z')", code="invalid_proof_value") from exc
    if len(signature) != SIGNATURE_LENGTH:
        raise DataIntegrityError(f"the proofValue must decode to {SIGNATURE_LENGTH} bytes",
                                 code="invalid_proof_value")
    return signature


def _datetime_stamp(value: Any, name: str) -> datetime:
    moment = _parse_datetime_stamp(value)
    if moment is None:
        raise DataIntegrityError(f"the proof's {name} is not an XML Schema dateTimeStamp", code="invalid_proof")
    return moment


def _parse_datetime_stamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _DATETIME_STAMP.fullmatch(value):
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # datetime takes at most microseconds; the extra digits do not change validity
        head, rest = text.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # 2023-02-30, or a year outside datetime's range
        return None


def _context_list(value: Any) -> list[str] | None:
    contexts = value if isinstance(value, list) else [value]
    return contexts if all(isinstance(item, str) for item in contexts) else None


# --- verifying ----------------------------------------------------------------------------------------------


def verify_proof(
    document: Mapping[str, Any],
    proof: Proof,
    public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey,
    *,
    expected_purpose: str,
    challenge: str | None = None,
    domain: str | None = None,
    now: datetime | None = None,
) -> None:
    """Raise DataIntegrityError unless ``proof`` (from ``read_proof``) is a valid proof of ``document``.

    ``document`` may be the secured document or the unsecured one: a ``proof`` member in it is ignored.
    Checks, cheapest first: the proof purpose; the challenge (a challenge expected but absent, or present but
    not expected, fails too); the domain when one is expected; ``expires`` when ``now`` is given; the key type
    against the suite; the proof's own ``@context``, when present, against the document's (VC DI EdDSA/ECDSA
    "Verify Proof": the document's list must start with it, in order); then the signature over the canonical
    document and proof configuration.
    """
    if not isinstance(document, Mapping):
        raise DataIntegrityError("a secured document must be a JSON object", code="invalid_proof")
    if proof.proof_purpose != expected_purpose:
        raise DataIntegrityError(f"the proof's purpose is not {expected_purpose}", code="proof_purpose_mismatch")
    if challenge is not None and proof.challenge != challenge:
        raise DataIntegrityError("the proof is not bound to the expected challenge", code="challenge_mismatch")
    if challenge is None and proof.challenge is not None:
        # A proof made for somebody's challenge answers that request only; it is not a standing assertion.
        raise DataIntegrityError("the proof is bound to a challenge, but none was expected", code="challenge_mismatch")
    if domain is not None and proof.domain != domain:
        raise DataIntegrityError("the proof is not bound to the expected domain", code="domain_mismatch")
    if now is not None and proof.expires is not None and now > _datetime_stamp(proof.expires, "expires"):
        raise DataIntegrityError("the proof has expired", code="proof_expired")
    if not _key_fits(proof.cryptosuite, public_key, private=False):
        raise DataIntegrityError(f"{proof.cryptosuite} proofs are verified with {_KEY_NAMES[proof.cryptosuite]} keys only",
                                 code="key_suite_mismatch")

    unsecured = {key: value for key, value in document.items() if key != "proof"}
    if "@context" in proof.raw:
        proof_contexts = _context_list(proof.raw["@context"])
        document_contexts = _context_list(unsecured.get("@context"))
        if (proof_contexts is None or document_contexts is None
                or document_contexts[: len(proof_contexts)] != proof_contexts):
            raise DataIntegrityError("the document's @context does not start with the proof's @context",
                                     code="context_mismatch")
        unsecured["@context"] = proof.raw["@context"]

    data = verify_data(unsecured, proof.options).hash_data
    if not _signature_verifies(proof.cryptosuite, public_key, proof.signature, data):
        raise DataIntegrityError("the signature does not verify", code="invalid_signature")


def _signature_verifies(suite: str, public_key: Any, signature: bytes, data: bytes) -> bool:
    try:
        if suite == EDDSA_RDFC_2022:
            public_key.verify(signature, data)
        else:
            r = int.from_bytes(signature[:_P256_SCALAR_LENGTH], "big")
            s = int.from_bytes(signature[_P256_SCALAR_LENGTH:], "big")
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- keys ---------------------------------------------------------------------------------------------------

_KEY_NAMES: Final = {EDDSA_RDFC_2022: "Ed25519", ECDSA_RDFC_2019: "P-256"}


def _key_fits(suite: str, key: Any, *, private: bool) -> bool:
    if suite == EDDSA_RDFC_2022:
        return isinstance(key, ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey)
    expected = ec.EllipticCurvePrivateKey if private else ec.EllipticCurvePublicKey
    return isinstance(key, expected) and isinstance(key.curve, ec.SECP256R1)
