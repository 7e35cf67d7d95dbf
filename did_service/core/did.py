"""DIDs without the network: did:key and did:jwk resolution, did:web naming, and key lookup in DID documents.

Standards followed:
- did:key v0.7 (W3C CCG): ``did:key:`` + multibase base58btc (``z``) of a multicodec-prefixed public key.
  Supported codecs: ed25519-pub (0xed) and p256-pub (0x1200, 33-byte compressed SEC1 point). Documents use
  the current ``Multikey`` form.
- did:jwk (github:quartzjer/did-jwk spec.md): ``did:jwk:`` + base64url of the UTF-8 JSON of a public JWK;
  the single verification method is always ``#0``; ``use`` selects the relationships.
- did:web (W3C CCG): ``did:web:`` + host (port colon as ``%3A``) + optional path segments joined with ``:``.
  Only the naming lives here; fetching the document is the resolver's job (services/resolver.py).
- DID Core 1.0 for DID URL syntax and verification relationships.

Everything here is pure: no I/O, no clock, no network. Malformed or unsupported input raises ``InvalidDid``
(a ``ResolutionError``); lookups in a well-formed document raise ``KeyNotFound`` or ``KeyNotAuthorized``.
Error details never quote the input: DIDs and keys may identify a person.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Final, TypeAlias
from urllib.parse import unquote, urlsplit

import base58
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from did_service.core import strict_json
from did_service.errors import InvalidDid, ResolutionError

PublicKey: TypeAlias = Ed25519PublicKey | ec.EllipticCurvePublicKey

DID_V1_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1_CONTEXT: Final = "https://w3id.org/security/multikey/v1"

# Multicodec table entries we accept (https://github.com/multiformats/multicodec/blob/master/table.csv).
ED25519_PUB_CODEC: Final = 0xED
P256_PUB_CODEC: Final = 0x1200

ED25519_KEY_LENGTH: Final = 32
P256_COMPRESSED_LENGTH: Final = 33
P256_COORDINATE_LENGTH: Final = 32

VERIFICATION_RELATIONSHIPS: Final = (
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
)

# Bounds the work done on hostile input before any parsing (base58 decoding is quadratic). A did:jwk for a
# P-256 key is about 150 characters; 4 KiB leaves room for JWKs with a few extra members.
MAX_DID_LENGTH: Final = 4096
# The longest multibase key we accept is 2 codec bytes + 33 key bytes = 48 base58 characters.
_MAX_MULTIBASE_LENGTH: Final = 128

# JWK members that only private (or symmetric) keys have: RFC 7518 sections 6.2.2, 6.3.2 and 6.4.1.
PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "r", "t", "k"})
# Verification method properties that hold secrets; a DID document must never carry them.
_PRIVATE_VM_PROPERTIES: Final = ("secretKeyMultibase", "privateKeyMultibase", "privateKeyJwk", "privateKeyBase58")
_PUBLIC_VM_PROPERTIES: Final = ("publicKeyMultibase", "publicKeyJwk", "publicKeyBase58")
# Verification method type -> the one key property it must carry.
_VM_TYPE_PROPERTY: Final = {
    "Multikey": "publicKeyMultibase",
    "Ed25519VerificationKey2020": "publicKeyMultibase",
    "Ed25519VerificationKey2018": "publicKeyBase58",
    "JsonWebKey": "publicKeyJwk",
    "JsonWebKey2020": "publicKeyJwk",
}
# A JWK "alg", when present, must name the one algorithm we pin to its key type.
_JWK_ALGS: Final = {("OKP", "Ed25519"): frozenset({"EdDSA", "Ed25519"}), ("EC", "P-256"): frozenset({"ES256"})}

_BASE58_RE: Final = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
_BASE64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
# DID Core 1.0 section 3.1: did = "did:" method-name ":" method-specific-id.
_IDCHAR: Final = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_DID_RE: Final = re.compile(rf"did:[a-z0-9]+:(?:{_IDCHAR}*:)*{_IDCHAR}+")
# RFC 3986 fragment = *( pchar / "/" / "?" ).
_FRAGMENT_RE: Final = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})+")
_DID_WEB_SEGMENT_RE: Final = re.compile(rf"{_IDCHAR}+")
# LDH host names and dotted IPv4, lower case (DNS is case-insensitive; one spelling per DID).
_HOST_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_RE: Final = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
_MAX_HOST_LENGTH: Final = 253
_DID_WEB_AUTHORITY_RE: Final = re.compile(r"(?P<host>[^%:]+)(?:%3[Aa](?P<port>[0-9]+))?")


class KeyNotFound(ResolutionError):
    code = "key_not_found"
    title = "The DID document has no such verification method"


class KeyNotAuthorized(ResolutionError):
    code = "key_not_authorized"
    title = "The verification method is not authorized for this purpose"


# --- encodings --------------------------------------------------------------------------------------------


def _encode_varint(value: int) -> bytes:
    """Multiformats unsigned varint (LEB128)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _decode_varint(data: bytes) -> tuple[int, int]:
    """Return (value, bytes consumed). The multiformats spec caps varints at 9 bytes and requires minimal form."""
    value = 0
    for index, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            # A trailing 0x00 after continuation bytes is a second spelling of a shorter varint.
            if byte == 0 and index > 0:
                raise InvalidDid("The multicodec prefix is not minimally encoded")
            return value, index + 1
    raise InvalidDid("The multicodec prefix is truncated or too long")


_ED25519_PREFIX: Final = _encode_varint(ED25519_PUB_CODEC)  # ed 01
_P256_PREFIX: Final = _encode_varint(P256_PUB_CODEC)  # 80 24


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: the ``z`` prefix followed by Bitcoin-alphabet base58."""
    return "z" + base58.b58encode(data).decode("ascii")


def multibase_decode(value: str) -> bytes:
    """Decode base58btc multibase; any other base is refused (did:key and Multikey use only ``z``)."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise InvalidDid("Only base58btc multibase values (prefix 'z') are supported")
    body = value[1:]
    # Checked here because base58.b58decode silently strips whitespace, which would give one key two spellings.
    if len(body) > _MAX_MULTIBASE_LENGTH or not _BASE58_RE.fullmatch(body):
        raise InvalidDid("The multibase value is not valid base58btc")
    return base58.b58decode(body)


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: str) -> bytes:
    """Strict unpadded base64url: alphabet checked, non-canonical trailing bits refused."""
    if not isinstance(value, str) or not _BASE64URL_RE.fullmatch(value) or len(value) % 4 == 1:
        raise InvalidDid("The value is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:
        raise InvalidDid("The value is not unpadded base64url") from exc
    # Unused low bits in the last character would let one byte string have several spellings.
    if _b64url_encode(data) != value:
        raise InvalidDid("The value is not canonical base64url")
    return data


# --- public keys ------------------------------------------------------------------------------------------


def _is_p256(public_key: object) -> bool:
    return isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1)


def _ed25519_from_raw(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != ED25519_KEY_LENGTH:
        raise InvalidDid("An Ed25519 public key is 32 bytes")
    # cryptography does not point-check Ed25519 keys on load; a non-point encoding fails every verification.
    return Ed25519PublicKey.from_public_bytes(raw)


def _p256_from_sec1(encoded: bytes) -> ec.EllipticCurvePublicKey:
    """Decode and validate a SEC1 point; cryptography refuses points that are not on the curve."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), encoded)
    except ValueError as exc:
        raise InvalidDid("The key is not a valid P-256 point") from exc


def _p256_from_compressed(raw: bytes) -> ec.EllipticCurvePublicKey:
    # did:key requires the compressed form for P-256; an uncompressed point would be a second DID for one key.
    if len(raw) != P256_COMPRESSED_LENGTH or raw[0] not in (0x02, 0x03):
        raise InvalidDid("A P-256 did:key holds a 33-byte compressed point")
    return _p256_from_sec1(raw)


def _multicodec_key(public_key: PublicKey) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return _ED25519_PREFIX + public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if _is_p256(public_key):
        return _P256_PREFIX + public_key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    raise InvalidDid("Only Ed25519 and P-256 public keys are supported")


def public_key_multibase(public_key: PublicKey) -> str:
    """The Multikey ``publicKeyMultibase`` (and did:key identifier) of an Ed25519 or P-256 public key.

    Raises InvalidDid for any other key (including private keys).
    """
    return multibase_encode(_multicodec_key(public_key))


def public_key_from_multibase(value: str) -> PublicKey:
    """Inverse of ``public_key_multibase``. Raises InvalidDid for unknown codecs, wrong lengths, bad points."""
    data = multibase_decode(value)
    codec, offset = _decode_varint(data)
    raw = data[offset:]
    if codec == ED25519_PUB_CODEC:
        return _ed25519_from_raw(raw)
    if codec == P256_PUB_CODEC:
        return _p256_from_compressed(raw)
    raise InvalidDid("Unsupported multicodec key type")


def public_jwk_from_public_key(public_key: PublicKey) -> dict[str, str]:
    """The public JWK (RFC 8037 OKP/Ed25519 or RFC 7518 EC/P-256) with only the required members."""
    if isinstance(public_key, Ed25519PublicKey):
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64url_encode(raw)}
    if _is_p256(public_key):
        point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)  # 04 || X || Y
        x, y = point[1 : 1 + P256_COORDINATE_LENGTH], point[1 + P256_COORDINATE_LENGTH :]
        return {"crv": "P-256", "kty": "EC", "x": _b64url_encode(x), "y": _b64url_encode(y)}
    raise InvalidDid("Only Ed25519 and P-256 public keys are supported")


def _jwk_coordinate(jwk: Mapping[str, Any], name: str, length: int) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidDid("The JWK lacks a required coordinate")
    raw = _b64url_decode(value)
    if len(raw) != length:
        raise InvalidDid("A JWK coordinate has the wrong length")
    return raw


def _require_public_jwk(jwk: object) -> Mapping[str, Any]:
    if not isinstance(jwk, Mapping):
        raise InvalidDid("A JWK must be a JSON object")
    if PRIVATE_JWK_MEMBERS.intersection(jwk):
        raise InvalidDid("The JWK holds private key material")
    return jwk


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """An Ed25519 or P-256 public key from a public JWK.

    Raises InvalidDid if the JWK has private members, another key type or curve, an ``alg`` that does not
    belong to the key type, or coordinates that are malformed or not on the curve.
    """
    jwk = _require_public_jwk(jwk)
    kty, crv = jwk.get("kty"), jwk.get("crv")
    # Type checks first: JSON arrays are unhashable and would escape as TypeError from the lookups below.
    if not isinstance(kty, str) or not isinstance(crv, str) or (kty, crv) not in _JWK_ALGS:
        raise InvalidDid("Only OKP/Ed25519 and EC/P-256 JWKs are supported")
    kind = (kty, crv)
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in _JWK_ALGS[kind]):
        raise InvalidDid("The JWK's alg does not match its key type")
    if kind == ("OKP", "Ed25519"):
        return _ed25519_from_raw(_jwk_coordinate(jwk, "x", ED25519_KEY_LENGTH))
    x = _jwk_coordinate(jwk, "x", P256_COORDINATE_LENGTH)
    y = _jwk_coordinate(jwk, "y", P256_COORDINATE_LENGTH)
    return _p256_from_sec1(b"\x04" + x + y)


# --- DIDs and DID URLs ------------------------------------------------------------------------------------


def split_did_url(url: str) -> tuple[str, str | None]:
    """Split a DID URL into (DID, fragment or None).

    Only fragments are supported: a DID URL with a path or query raises InvalidDid, as does a malformed DID
    or an empty fragment.
    """
    if not isinstance(url, str) or len(url) > MAX_DID_LENGTH:
        raise InvalidDid("Malformed DID")
    did, sep, fragment = url.partition("#")
    if "/" in did or "?" in did:
        raise InvalidDid("DID URLs with a path or query are not supported")
    if not _DID_RE.fullmatch(did):
        raise InvalidDid("Malformed DID")
    if not sep:
        return did, None
    if not _FRAGMENT_RE.fullmatch(fragment):
        raise InvalidDid("Malformed DID URL fragment")
    return did, fragment


def _method_specific_id(did: str, method: str) -> str:
    """The method-specific id of a bare DID of the given method (no path, query or fragment)."""
    bare, fragment = split_did_url(did)
    if fragment is not None:
        raise InvalidDid("Expected a DID, not a DID URL with a fragment")
    prefix = f"did:{method}:"
    if not bare.startswith(prefix):
        raise InvalidDid("Unexpected DID method")
    return bare[len(prefix) :]


def _document(did: str, contexts: list[str], method: dict[str, Any], relationships: tuple[str, ...]) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": contexts, "id": did, "verificationMethod": [method]}
    for relationship in relationships:
        document[relationship] = [method["id"]]
    return document


# --- did:key ----------------------------------------------------------------------------------------------

_DID_KEY_RELATIONSHIPS: Final = ("authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation")


def did_key_from_public_key(public_key: PublicKey) -> str:
    return "did:key:" + public_key_multibase(public_key)


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of a did:key, with one ``Multikey`` verification method ``did#<multibase>``.

    No keyAgreement entry: deriving an X25519 key from Ed25519 is optional in the spec and unused here.
    """
    multibase = _method_specific_id(did, "key")
    public_key = public_key_from_multibase(multibase)
    # Base58 has one spelling per byte string, but re-encoding makes "one key, one did:key" explicit.
    if public_key_multibase(public_key) != multibase:
        raise InvalidDid("The did:key is not in canonical form")
    method = {"id": f"{did}#{multibase}", "type": "Multikey", "controller": did, "publicKeyMultibase": multibase}
    return _document(did, [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT], method, _DID_KEY_RELATIONSHIPS)


# --- did:jwk ----------------------------------------------------------------------------------------------

_DID_JWK_SIG_RELATIONSHIPS: Final = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
)


def did_jwk_from_public_jwk(jwk: Mapping[str, Any]) -> str:
    """did:jwk of a public JWK, reduced to its required members and serialized with sorted keys, no whitespace.

    Deterministic, so the same key always gives the same DID (the did:jwk spec allows any serialization).
    Raises InvalidDid for private or unsupported JWKs rather than silently dropping members.
    """
    return did_jwk_from_public_key(public_key_from_jwk(jwk))


def did_jwk_from_public_key(public_key: PublicKey) -> str:
    serialized = json.dumps(public_jwk_from_public_key(public_key), sort_keys=True, separators=(",", ":"))
    return "did:jwk:" + _b64url_encode(serialized.encode("utf-8"))


def _parse_did_jwk(encoded: str) -> dict[str, Any]:
    try:
        # Strict: two "x" members would let different parsers see different keys behind one DID.
        jwk = strict_json.loads(_b64url_decode(encoded))
    except strict_json.StrictJsonError as exc:
        raise InvalidDid("The did:jwk does not encode a strict JSON object") from exc
    if not isinstance(jwk, dict):
        raise InvalidDid("The did:jwk does not encode a JSON object")
    return jwk


def _did_jwk_relationships(jwk: Mapping[str, Any]) -> tuple[str, ...]:
    """did:jwk spec: ``use: sig`` drops keyAgreement; ``use: enc`` keeps only keyAgreement."""
    use = jwk.get("use")
    if use is not None and not isinstance(use, str):
        raise InvalidDid("The JWK's use member must be a string")
    if use == "sig":
        return _DID_JWK_SIG_RELATIONSHIPS
    if use == "enc":
        return ("keyAgreement",)
    return _DID_JWK_SIG_RELATIONSHIPS + ("keyAgreement",)


def resolve_did_jwk(did: str) -> dict[str, Any]:
    """The DID document of a did:jwk: one ``JsonWebKey`` method ``did#0`` holding the JWK as encoded.

    The spec's examples use type ``JsonWebKey2020`` with the jws-2020 context; that context is not bundled
    (contexts/manifest.json), so the document carries only the DID v1 context and the current type name.
    Verifiers here accept both types.

    Raises InvalidDid for non-base64url identifiers, JSON that is not an object, private JWKs and keys other
    than OKP/Ed25519 and EC/P-256.
    """
    jwk = _parse_did_jwk(_method_specific_id(did, "jwk"))
    public_key_from_jwk(jwk)  # validates members, curve and point
    method = {"id": f"{did}#0", "type": "JsonWebKey", "controller": did, "publicKeyJwk": jwk}
    return _document(did, [DID_V1_CONTEXT], method, _did_jwk_relationships(jwk))


def resolve_offline(did: str) -> dict[str, Any]:
    """Resolve a DID whose document is derived from the identifier alone (did:key, did:jwk)."""
    if isinstance(did, str) and did.startswith("did:key:"):
        return resolve_did_key(did)
    if isinstance(did, str) and did.startswith("did:jwk:"):
        return resolve_did_jwk(did)
    raise InvalidDid("Only did:key and did:jwk resolve offline")


# --- did:web ----------------------------------------------------------------------------------------------


def _check_host(host: str) -> None:
    if len(host) > _MAX_HOST_LENGTH or not _HOST_RE.fullmatch(host):
        # IPv6 literals land here too: did:web defines no spelling for them.
        raise InvalidDid("The did:web host must be a lower-case DNS name or IPv4 address")


def _check_port(port: str) -> None:
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536 or port.startswith("0"):
        raise InvalidDid("The did:web port is not valid")


def _check_web_segment(segment: str) -> None:
    if not _DID_WEB_SEGMENT_RE.fullmatch(segment):
        raise InvalidDid("A did:web path segment is empty or has characters a DID cannot carry")
    # HTTP stacks normalize dot segments (also percent-encoded ones), which would move the document.
    decoded = unquote(segment)
    if decoded in (".", "..") or "/" in decoded:
        raise InvalidDid("A did:web path segment must not be a dot segment or contain a slash")


def did_web_from_url(base_url: str) -> str:
    """The did:web for an issuer's base URL: ``https://example.com:8443/a/b`` -> ``did:web:example.com%3A8443:a:b``.

    http is accepted for local development (the DID does not carry the scheme). One trailing slash is
    ignored; userinfo, query, fragment, empty or dot segments and IPv6 literals raise InvalidDid. Whether
    a host is acceptable to resolve (IP literals, private ranges) is the resolver's policy, not checked here.
    """
    if not isinstance(base_url, str) or len(base_url) > MAX_DID_LENGTH:
        raise InvalidDid("Malformed did:web base URL")
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:  # urllib's own error for bad ports and brackets
        raise InvalidDid("Malformed did:web base URL") from exc
    if parts.scheme not in ("https", "http") or "@" in parts.netloc:
        raise InvalidDid("A did:web base URL is http(s) without userinfo")
    if "?" in base_url or "#" in base_url:
        raise InvalidDid("A did:web base URL has no query or fragment")
    host = parts.hostname or ""
    _check_host(host)
    if port is not None:
        _check_port(str(port))
    # The default port is the same origin as no port; dropping it keeps one DID per origin.
    authority = host if port is None or (parts.scheme, port) == ("https", 443) else f"{host}%3A{port}"
    path = parts.path.removesuffix("/")
    segments = path.split("/")[1:] if path else []
    for segment in segments:
        _check_web_segment(segment)
    return ":".join(["did:web", authority, *segments])


def did_web_document_url(did: str) -> str:
    """The https URL of a did:web's document: ``/.well-known/did.json`` without a path, else ``/<path>/did.json``."""
    authority, *segments = _method_specific_id(did, "web").split(":")
    # Only the port colon may be percent-encoded in the host part; anything else is a second spelling.
    match = _DID_WEB_AUTHORITY_RE.fullmatch(authority)
    if match is None:
        raise InvalidDid("The did:web host part is malformed")
    host, port = match["host"], match["port"]
    _check_host(host)
    if port is not None:
        _check_port(port)
    for segment in segments:
        _check_web_segment(segment)
    origin = f"https://{host}" if port is None else f"https://{host}:{port}"
    path = "/" + "/".join(segments) + "/did.json" if segments else "/.well-known/did.json"
    return origin + path


# --- verification methods ---------------------------------------------------------------------------------


def _ed25519_from_base58(value: object) -> Ed25519PublicKey:
    if not isinstance(value, str) or len(value) > _MAX_MULTIBASE_LENGTH or not _BASE58_RE.fullmatch(value):
        raise InvalidDid("publicKeyBase58 is not valid base58")
    return _ed25519_from_raw(base58.b58decode(value))


def public_key_from_verification_method(vm: Mapping[str, Any]) -> PublicKey:
    """The public key of a verification method of type Multikey, JsonWebKey, JsonWebKey2020,
    Ed25519VerificationKey2020 or Ed25519VerificationKey2018.

    The method must carry exactly the key property its type defines and no private key material.
    Raises InvalidDid for anything else.
    """
    if not isinstance(vm, Mapping):
        raise InvalidDid("A verification method must be a JSON object")
    if any(name in vm for name in _PRIVATE_VM_PROPERTIES):
        raise InvalidDid("The verification method holds private key material")
    vm_type = vm.get("type")
    expected = _VM_TYPE_PROPERTY.get(vm_type) if isinstance(vm_type, str) else None
    if expected is None:
        raise InvalidDid("Unsupported verification method type")
    # Two key properties would let two verifiers pick two different keys from one method.
    if [name for name in _PUBLIC_VM_PROPERTIES if name in vm] != [expected]:
        raise InvalidDid("The verification method must carry exactly the key property of its type")
    value = vm[expected]
    if vm_type == "Ed25519VerificationKey2018":
        return _ed25519_from_base58(value)
    if expected == "publicKeyJwk":
        return public_key_from_jwk(value)
    public_key = public_key_from_multibase(value)
    if vm_type == "Ed25519VerificationKey2020" and not isinstance(public_key, Ed25519PublicKey):
        raise InvalidDid("An Ed25519VerificationKey2020 must hold an Ed25519 key")
    return public_key


def _absolute_id(reference: object, document_id: str) -> str:
    """Resolve ``#frag`` against the document's DID; absolute ids must be DID URLs with a fragment."""
    if not isinstance(reference, str):
        raise InvalidDid("A verification method id must be a string")
    absolute = document_id + reference if reference.startswith("#") else reference
    _did, fragment = split_did_url(absolute)
    if fragment is None:
        raise InvalidDid("A verification method id must have a fragment")
    return absolute


def _relationship_entries(document: Mapping[str, Any], relationship: str) -> list[Any]:
    entries = document.get(relationship, [])
    if not isinstance(entries, list):
        raise InvalidDid("A verification relationship must be a list")
    return entries


def _index_methods(document: Mapping[str, Any], document_id: str) -> dict[str, dict[str, Any]]:
    """Every method defined in the document (listed or embedded), by absolute id."""
    definitions = list(_relationship_entries(document, "verificationMethod"))
    for relationship in VERIFICATION_RELATIONSHIPS:
        definitions.extend(e for e in _relationship_entries(document, relationship) if not isinstance(e, str))
    index: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        if not isinstance(definition, Mapping):
            raise InvalidDid("A verification method must be a JSON object")
        method_id = _absolute_id(definition.get("id"), document_id)
        # DID Core 5.2: ids are unique; two definitions would make the key depend on which one a reader takes.
        if method_id in index:
            raise InvalidDid("The DID document defines a verification method id twice")
        index[method_id] = {**definition, "id": method_id}
    return index


def find_verification_method(
    document: Mapping[str, Any], method_id: str, relationship: str = "assertionMethod"
) -> dict[str, Any]:
    """The verification method ``method_id`` (absolute or ``#frag``) of a DID document, checked against a
    verification relationship. Returns a copy with an absolute ``id``.

    Raises KeyNotFound if the document does not define the method, KeyNotAuthorized if the relationship does
    not reference it (by id or embedded), InvalidDid if the document or id is malformed, and ValueError for
    an unknown relationship name (a programming error).
    """
    if relationship not in VERIFICATION_RELATIONSHIPS:
        raise ValueError(f"unknown verification relationship {relationship!r}")
    if not isinstance(document, Mapping):
        raise InvalidDid("A DID document must be a JSON object")
    document_id = document.get("id")
    if not isinstance(document_id, str) or split_did_url(document_id)[1] is not None:
        raise InvalidDid("The DID document id is not a DID")
    target = _absolute_id(method_id, document_id)
    method = _index_methods(document, document_id).get(target)
    if method is None:
        raise KeyNotFound()
    for entry in _relationship_entries(document, relationship):
        reference = entry if isinstance(entry, str) else entry.get("id")
        if _absolute_id(reference, document_id) == target:
            return method
    raise KeyNotAuthorized()
