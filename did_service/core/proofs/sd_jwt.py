"""SD-JWT (RFC 9901) for SD-JWT VC (`typ: dc+sd-jwt`) with Key Binding: issue, present, parse, verify.

An SD-JWT is an issuer-signed JWT whose selectively disclosable claims are replaced by salted digests, followed
by the Disclosures that reveal them and, in a holder-bound presentation, a Key Binding JWT:

    <issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~[<KB-JWT>]

Signing and signature checks reuse `jose` (algorithm pinned to the key, key-carrying headers refused). What this
module adds is the digest bookkeeping, and there every rule of RFC 9901 section 7.1 is an error, never a
silent fix: a presentation whose Disclosures do not fit the signed payload exactly (unreferenced, duplicated,
referenced twice, misplaced, colliding with a clear claim) is refused whole, because dropping the odd claim
would let a verifier act on a claim set the holder did not present.

Claim paths (`Path`) follow SD-JWT VC's claims path pointers: a str selects an object member, an int an array
element, None every element of an array.

Not supported (each refused with an error rather than half-handled): digest algorithms other than sha-256,
the JSON serialization of RFC 9901 section 8, holder keys other than Ed25519/P-256 and confirmation methods
other than `cnf.jwk`, and KB-JWT audiences given as arrays. The issuer adds decoy digests to `_sd` arrays only,
not decoy array elements.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwcrypto import jwk

from did_service.core import strict_json
from did_service.core.keys import PublicKey, SigningKey, alg_for_public_key
from did_service.core.proofs.jose import (
    JoseError,
    ParsedJws,
    b64url_decode,
    b64url_encode,
    parse_compact,
    public_jwk_object,
    sign_compact,
    verify_signature,
)

Path = tuple[str | int | None, ...]

SD_JWT_VC_TYP = "dc+sd-jwt"
KB_JWT_TYP = "kb+jwt"
SD_ALG = "sha-256"  # the only digest algorithm accepted (RFC 9901 section 4.1.1 makes it the default)
# Section 9.3 recommends at least 128 random bits; 144 bits are exactly 24 base64url characters, so the salts of one
# issuance come from one random draw and one encoding, sliced.
SALT_BYTES = 18
SALT_CHARS = 24
MAX_SD_JWT_CHARS = 1024 * 1024
MAX_DISCLOSURES = 1024
MAX_DEPTH = strict_json.MAX_DEPTH  # nesting of the unpacked claims, counted across Disclosures
DEFAULT_IAT_WINDOW_S = 300

# RFC 9901 section 4.2.1: a Disclosure may never name these; they carry the digests themselves.
RESERVED_NAMES = frozenset({"_sd", "..."})
# SD-JWT VC section 3.2.2: these claims MUST NOT be selectively disclosed (the verifier needs them to decide
# what the credential is, whether it is valid now, and whom it is bound to).
# `credentialStatus` and `jti` are this service's additions: a holder who could withhold the status entries
# would hide a revocation, and the credential id is what the log and the status service know it by.
VC_CLEAR_ONLY_CLAIMS = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status",
                                  "credentialStatus", "jti"})
# What our issuer keeps in clear: the SD-JWT VC list, plus `iat` (the verifier's validity check reads it) and
# the SD-JWT's own members.
ISSUER_CLEAR_CLAIMS = VC_CLEAR_ONLY_CLAIMS | {"iat", "_sd", "_sd_alg", "..."}
# JWK members that belong to a private or symmetric key (RFC 7518 section 6): a `cnf` must never carry them.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_PUBLIC_JWK_MEMBERS = {"OKP": ("kty", "crv", "x"), "EC": ("kty", "crv", "x", "y")}
# strict_json.dumps_compact's settings, bound once: json.dumps builds a new encoder on every call, which is a
# third of the cost of a Disclosure.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class SdJwtError(JoseError):
    """An SD-JWT is malformed or breaks a rule of RFC 9901 / SD-JWT VC; ``code`` says which.

    A JoseError, so a caller that handles token errors handles these too; signature and header errors of the
    issuer-signed JWT itself keep jose's codes (invalid_signature, unsupported_alg, untrusted_key_header...).
    """

    status = 422
    code = "malformed_sd_jwt"
    title = "The SD-JWT cannot be accepted"


@dataclass(frozen=True)
class Disclosure:
    raw: str  # base64url exactly as received: the digest is computed over this text, not over a re-encoding
    digest: str
    salt: str
    name: str | None  # None for an array element Disclosure [salt, value]
    value: Any


@dataclass(frozen=True)
class SdJwt:
    issuer_jwt: ParsedJws
    disclosures: tuple[Disclosure, ...]
    kb_jwt: str | None
    text: str  # the exact string received

    @property
    def signed_part(self) -> str:
        """The issuer-signed JWT in compact form."""
        return self.issuer_jwt.token

    @property
    def presented_part(self) -> str:
        """Everything up to and including the last '~': the input of the KB-JWT's sd_hash (section 4.3.1)."""
        return self.text[: self.text.rindex("~") + 1]


# --- parsing ------------------------------------------------------------------------------------------------


def _digest(text: str) -> str:
    # Section 4.2.3: the digest is over the ASCII bytes of the base64url text, not over the decoded JSON.
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def parse(text: str) -> SdJwt:
    """Split an SD-JWT (or SD-JWT+KB) and decode its parts; checks structure only, no signature."""
    if not isinstance(text, str) or len(text) > MAX_SD_JWT_CHARS:
        raise SdJwtError("the SD-JWT is not a string of acceptable size")
    if not text.isascii():
        raise SdJwtError("the SD-JWT contains non-ASCII characters")
    parts = text.split("~")
    if len(parts) < 2:
        # A bare JWT is not an SD-JWT: without the '~' a verifier could not tell an empty disclosure set
        # from a truncated presentation.
        raise SdJwtError("the SD-JWT has no '~' separator")
    if len(parts) - 2 > MAX_DISCLOSURES:
        raise SdJwtError(f"the SD-JWT carries more than {MAX_DISCLOSURES} disclosures")
    issuer_jwt = parse_compact(parts[0])
    disclosures = tuple(_decode_disclosure(raw) for raw in parts[1:-1])
    return SdJwt(issuer_jwt=issuer_jwt, disclosures=disclosures, kb_jwt=parts[-1] or None, text=text)


def _decode_disclosure(raw: str) -> Disclosure:
    try:
        data = b64url_decode(raw)
    except JoseError as exc:
        raise SdJwtError("a disclosure is not base64url", code="invalid_disclosure") from exc
    try:
        array = strict_json.loads(data)
    except strict_json.StrictJsonError as exc:
        raise SdJwtError(f"a disclosure is not strict JSON: {exc}", code="invalid_disclosure") from exc
    if not isinstance(array, list) or len(array) not in (2, 3):
        raise SdJwtError("a disclosure is not a JSON array of 2 or 3 elements", code="invalid_disclosure")
    if not isinstance(array[0], str):
        raise SdJwtError("a disclosure's salt is not a string", code="invalid_disclosure")
    name = None
    if len(array) == 3:
        name = array[1]
        if not isinstance(name, str):
            raise SdJwtError("a disclosure's claim name is not a string", code="invalid_disclosure")
        if name in RESERVED_NAMES:
            raise SdJwtError("a disclosure names a reserved claim (_sd or ...)", code="forbidden_claim_name")
    return Disclosure(raw=raw, digest=_digest(raw), salt=array[0], name=name, value=array[-1])


# --- unpacking (section 7.1 step 3 to 5) --------------------------------------------------------------------


class _Unpacker:
    """Replaces embedded digests by their Disclosures, records where each Disclosure sits (its claim path), and
    enforces the exactly-once rules. One instance per SD-JWT."""

    def __init__(self, disclosures: tuple[Disclosure, ...], top_level_forbidden: frozenset[str]) -> None:
        self.by_digest: dict[str, Disclosure] = {}
        for disclosure in disclosures:
            if disclosure.digest in self.by_digest:
                raise SdJwtError("a disclosure is presented twice", code="duplicate_disclosure")
            self.by_digest[disclosure.digest] = disclosure
        self.seen: set[str] = set()  # every embedded digest met, decoys included (step 4)
        self.paths: dict[str, Path] = {}  # digest -> claim path of each referenced Disclosure
        self.top_level_forbidden = top_level_forbidden

    def unpack(self, payload: dict[str, Any]) -> dict[str, Any]:
        claims = self._object(payload, (), 1)
        if len(self.paths) != len(self.by_digest):
            raise SdJwtError("a disclosure is not referenced by the SD-JWT", code="unreferenced_disclosure")
        claims.pop("_sd_alg", None)
        return claims

    def _mark(self, digest: str) -> Disclosure | None:
        if digest in self.seen:
            raise SdJwtError("a digest is embedded more than once", code="duplicate_digest")
        self.seen.add(digest)
        return self.by_digest.get(digest)

    def _value(self, node: Any, path: Path, depth: int) -> Any:
        if isinstance(node, dict):
            return self._object(node, path, depth)
        if isinstance(node, list):
            return self._array(node, path, depth)
        return node

    def _object(self, node: dict[str, Any], path: Path, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise SdJwtError(f"the claims nest deeper than {MAX_DEPTH}")
        # Clear claims first, so that a Disclosure naming one of them is caught whatever the member order.
        out = {name: self._value(value, path + (name,), depth + 1) for name, value in node.items() if name != "_sd"}
        if "_sd" not in node:
            return out
        digests = node["_sd"]
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            raise SdJwtError("an _sd member is not an array of strings")
        forbidden = self.top_level_forbidden if not path else frozenset()
        for digest in digests:
            disclosure = self._mark(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder did not disclose
            if disclosure.name is None:
                raise SdJwtError("an array element disclosure is referenced from _sd", code="misplaced_disclosure")
            if disclosure.name in out or disclosure.name in forbidden:
                raise SdJwtError(
                    "a disclosure names a claim that exists in clear or must not be disclosed",
                    code="forbidden_claim_name",
                )
            claim_path = path + (disclosure.name,)
            self.paths[digest] = claim_path
            out[disclosure.name] = self._value(disclosure.value, claim_path, depth + 1)
        return out

    def _array(self, node: list[Any], path: Path, depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise SdJwtError(f"the claims nest deeper than {MAX_DEPTH}")
        out = []
        # Positions index the array as issued (undisclosed elements included), as the holder's paths do.
        for index, element in enumerate(node):
            element_path = path + (index,)
            if isinstance(element, dict) and "..." in element:
                digest = element["..."]
                if len(element) != 1 or not isinstance(digest, str):
                    raise SdJwtError("an array element digest is not a one-member {'...': digest} object")
                disclosure = self._mark(digest)
                if disclosure is None:
                    continue  # undisclosed element: removed (step 3.4)
                if disclosure.name is not None:
                    raise SdJwtError(
                        "an object property disclosure is referenced from an array element", code="misplaced_disclosure"
                    )
                self.paths[digest] = element_path
                out.append(self._value(disclosure.value, element_path, depth + 1))
            else:
                out.append(self._value(element, element_path, depth + 1))
        return out


# --- verification (sections 7.1 and 7.3) --------------------------------------------------------------------


def _payload(sd: SdJwt) -> dict[str, Any]:
    payload = sd.issuer_jwt.payload
    # Absent means sha-256 (section 4.1.1). Others are refused, not ignored: the digests could not be matched.
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise SdJwtError("the SD-JWT's digest algorithm is not sha-256", code="unsupported_sd_alg")
    return payload


def verify(
    sd: SdJwt | str,
    public_key: PublicKey,
    *,
    now: datetime,
    require_key_binding: bool,
    audience: str | None = None,
    nonce: str | None = None,
    iat_window_s: int = DEFAULT_IAT_WINDOW_S,
    expected_typ: str = SD_JWT_VC_TYP,
) -> dict[str, Any]:
    """Verify an SD-JWT (with KB-JWT when present) and return the processed payload; raise on any failure.

    ``public_key`` is the issuer key the caller resolved (never one named by the token). A KB-JWT that is
    present is always verified; nonce and audience are compared whenever expected values are given. Validity
    claims (exp, nbf, iat) of the issuer-signed JWT are returned intact for the caller to check.
    """
    if require_key_binding and (audience is None or nonce is None):
        raise ValueError("key binding without an expected audience and nonce cannot stop replay")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if isinstance(sd, str):
        sd = parse(sd)
    if sd.issuer_jwt.header.get("typ") != expected_typ:
        raise SdJwtError("the SD-JWT's typ header is not the expected one", code="invalid_typ")
    verify_signature(sd.issuer_jwt, public_key, _issuer_jwk(public_key))
    payload = _payload(sd)
    vc_profile = expected_typ == SD_JWT_VC_TYP
    forbidden = (VC_CLEAR_ONLY_CLAIMS if vc_profile else frozenset()) | {"_sd_alg"}
    claims = _Unpacker(sd.disclosures, forbidden).unpack(payload)
    if vc_profile and not isinstance(claims.get("vct"), str):
        raise SdJwtError("an SD-JWT VC must carry a vct string", code="missing_vct")
    if sd.kb_jwt is None:
        if require_key_binding:
            raise SdJwtError("the presentation has no key binding JWT", code="key_binding_required")
    else:
        _verify_key_binding(sd, claims.get("cnf"), now=now, audience=audience, nonce=nonce, window=iat_window_s)
    return claims


def _key_bytes(public_key: PublicKey) -> bytes:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


_ISSUER_JWKS: dict[bytes, jwk.JWK] = {}
_ISSUER_JWKS_MAX = 256


def _issuer_jwk(public_key: PublicKey) -> jwk.JWK:
    """jwcrypto's JWK for an issuer key, made once per key: making one costs 60-90 us, half an Ed25519
    verification, and an issuer signs many credentials with one key. Keyed by the key bytes, so a cached entry
    can only ever stand for the very key the caller passed."""
    alg_for_public_key(public_key)  # ValueError for a key type no issuer may use
    ident = _key_bytes(public_key)
    key = _ISSUER_JWKS.get(ident)
    if key is None:
        if len(_ISSUER_JWKS) >= _ISSUER_JWKS_MAX:
            _ISSUER_JWKS.clear()
        key = _ISSUER_JWKS[ident] = public_jwk_object(public_key)
    return key


def _cnf_jwk(cnf: Any) -> dict[str, Any]:
    """The holder key members of a `cnf` claim (RFC 7800 `jwk` confirmation method)."""
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise SdJwtError("the SD-JWT has no cnf.jwk holder key", code="missing_cnf")
    return cnf["jwk"]


def _holder_key(members: dict[str, Any]) -> PublicKey:
    """An Ed25519 or P-256 public key from JWK members, refusing private members and off-curve points."""
    if not isinstance(members, dict):
        raise SdJwtError("the holder key is not a JWK object", code="invalid_cnf")
    if PRIVATE_JWK_MEMBERS & members.keys():
        raise SdJwtError("the holder key carries private key material", code="invalid_cnf")
    kty, crv = members.get("kty"), members.get("crv")
    try:
        if kty == "OKP" and crv == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(_coordinate(members, "x"))
        if kty == "EC" and crv == "P-256":
            point = b"\x04" + _coordinate(members, "x") + _coordinate(members, "y")
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (JoseError, ValueError) as exc:
        raise SdJwtError("the holder key is not a valid public JWK", code="invalid_cnf") from exc
    raise SdJwtError("the holder key is not an Ed25519 or P-256 JWK", code="invalid_cnf")


def _coordinate(members: dict[str, Any], name: str) -> bytes:
    value = members.get(name)
    data = b64url_decode(value) if isinstance(value, str) else b""
    if len(data) != 32:  # Ed25519 keys and P-256 coordinates are both 32 bytes
        raise ValueError("wrong key length")
    return data


def _public_members(members: dict[str, Any]) -> dict[str, Any]:
    # Only the members that define the key (RFC 7638's set): nothing else from the wallet ends up signed.
    return {name: members[name] for name in _PUBLIC_JWK_MEMBERS[members["kty"]]}


def _verify_key_binding(
    sd: SdJwt, cnf: Any, *, now: datetime, audience: str | None, nonce: str | None, window: int
) -> None:
    members = _cnf_jwk(cnf)
    public_key = _holder_key(members)
    try:
        kb = parse_compact(sd.kb_jwt)
    except JoseError as exc:
        raise SdJwtError("the key binding JWT is malformed or uses a refused header", code="invalid_kb_jwt") from exc
    if kb.header.get("typ") != KB_JWT_TYP:
        raise SdJwtError("the key binding JWT's typ is not kb+jwt", code="invalid_kb_jwt")
    try:
        verify_signature(kb, public_key)
    except JoseError as exc:
        raise SdJwtError("the key binding JWT is not signed by the holder key", code="invalid_kb_jwt") from exc
    claims = kb.payload
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        raise SdJwtError("the key binding JWT has no numeric iat", code="invalid_kb_jwt")
    for name in ("nonce", "aud", "sd_hash"):
        if not isinstance(claims.get(name), str):
            raise SdJwtError("the key binding JWT lacks a string nonce, aud or sd_hash", code="invalid_kb_jwt")
    # Section 7.3 step 2.6: a KB-JWT is a fresh proof of possession; one from outside the window is a replay
    # or comes from a clock we cannot reason about.
    # A huge integer iat would overflow the float comparison: anything that far off is out of the window.
    if not -(2**53) < iat < 2**53 or abs(iat - now.timestamp()) > window:
        raise SdJwtError("the key binding JWT was not created within the accepted window", code="kb_iat_out_of_window")
    if nonce is not None and claims["nonce"] != nonce:
        raise SdJwtError("the key binding JWT's nonce is not the expected one", code="kb_nonce_mismatch")
    if audience is not None and claims["aud"] != audience:
        raise SdJwtError("the key binding JWT is for another audience", code="kb_audience_mismatch")
    # The sd_hash binds the KB-JWT to this exact disclosure set: adding or dropping one breaks it.
    if claims["sd_hash"] != _digest(sd.presented_part):
        raise SdJwtError("the key binding JWT's sd_hash does not match the presentation", code="sd_hash_mismatch")


# --- issuance (section 4) -----------------------------------------------------------------------------------


def _check_path(path: Any) -> Path:
    if not isinstance(path, tuple) or not path or not isinstance(path[0], str):
        raise ValueError("a claim path is a non-empty tuple starting with a claim name")
    for step in path:
        if not (step is None or isinstance(step, str) or (type(step) is int and step >= 0)):
            raise ValueError("a claim path holds names, array indexes or None")
    return path


def _copy_claims(value: Any, depth: int = 1) -> Any:
    """A copy of the caller's claims to rewrite in place, refusing claims that already look like SD-JWT
    structure (a verifier would read them as digests)."""
    if isinstance(value, dict):
        if depth > MAX_DEPTH:
            raise SdJwtError(f"the claims nest deeper than {MAX_DEPTH}")
        if "_sd" in value or "_sd_alg" in value:
            raise SdJwtError("the claims use a name reserved by SD-JWT (_sd, _sd_alg)", code="forbidden_claim_name")
        return {name: _copy_claims(child, depth + 1) for name, child in value.items()}
    if isinstance(value, list):
        if depth > MAX_DEPTH:
            raise SdJwtError(f"the claims nest deeper than {MAX_DEPTH}")
        if any(isinstance(child, dict) and "..." in child for child in value):
            raise SdJwtError("an array element uses the reserved member '...'", code="forbidden_claim_name")
        return [_copy_claims(child, depth + 1) for child in value]
    return value


def _expand(payload: dict[str, Any], disclosable: Collection[Path]) -> set[tuple[str | int, ...]]:
    """Resolve the disclosable paths against the claims into concrete paths (None -> every index)."""
    concrete: set[tuple[str | int, ...]] = set()
    for path in disclosable:
        path = _check_path(path)
        if path[0] in ISSUER_CLEAR_CLAIMS:
            raise SdJwtError("a claim that must stay in clear was marked disclosable", code="forbidden_claim_name")
        nodes: list[tuple[tuple[str | int, ...], Any]] = [((), payload)]
        for step in path:
            following = []
            for prefix, node in nodes:
                if isinstance(step, str):
                    if isinstance(node, dict) and step in node:
                        following.append((prefix + (step,), node[step]))
                elif isinstance(node, list):
                    indexes = range(len(node)) if step is None else [step] if step < len(node) else []
                    following.extend((prefix + (i,), node[i]) for i in indexes)
            nodes = following
        concrete.update(prefix for prefix, _ in nodes)
    return concrete


def _resolve(payload: Any, path: tuple[str | int, ...]) -> Any:
    node = payload
    for step in path:
        node = node[step]
    return node


# The C string escaper json uses with ensure_ascii=False: most disclosed values are strings, and the encoder's
# machinery costs ten times the escaping on values this small.
_ENCODE_STRING = json.encoder.encode_basestring


def _encode_disclosure(array: list[Any]) -> str:
    text = "[" + ",".join(_ENCODE_STRING(item) if type(item) is str else _ENCODE(item) for item in array) + "]"
    return b64url_encode(text.encode("utf-8"))


def issue(
    claims: dict[str, Any],
    *,
    key: SigningKey,
    kid: str,
    disclosable: Collection[Path],
    holder_jwk: dict[str, Any] | None = None,
    typ: str = SD_JWT_VC_TYP,
    decoys: int | None = None,
) -> str:
    """Issue ``claims`` as an SD-JWT: "<issuer-signed JWT>~<disclosure>~...~".

    Each path in ``disclosable`` that resolves in ``claims`` becomes a Disclosure; paths that do not resolve
    are skipped (a credential type lists optional claims that one subject may lack). A path inside another
    disclosable claim is disclosed inside that claim's Disclosure (recursive disclosure). ``decoys`` is the
    number of decoy digests per `_sd` array; None picks 1 to 3 at random for each. The holder key comes from
    ``holder_jwk`` or a `cnf: {jwk}` in ``claims`` (both: the same key); only its public members are signed.
    """
    if not isinstance(claims, dict):
        raise ValueError("claims must be a JSON object")
    if decoys is not None and decoys < 0:
        raise ValueError("decoys must not be negative")
    if typ == SD_JWT_VC_TYP and not isinstance(claims.get("vct"), str):
        raise SdJwtError("an SD-JWT VC must carry a vct string", code="missing_vct")
    payload = _copy_claims(claims)
    if "cnf" in payload:
        if holder_jwk is not None and payload["cnf"] != {"jwk": holder_jwk}:
            raise ValueError("claims carry a cnf for another key than holder_jwk")
        if not isinstance(payload["cnf"], dict) or payload["cnf"].keys() != {"jwk"}:
            raise SdJwtError("only a cnf with a jwk member is supported", code="invalid_cnf")
        holder_jwk = payload["cnf"]["jwk"]
    if holder_jwk is not None:
        _holder_key(holder_jwk)
        payload["cnf"] = {"jwk": _public_members(holder_jwk)}

    concrete = _expand(payload, disclosable)
    salts = b64url_encode(secrets.token_bytes(SALT_BYTES * len(concrete)))
    disclosures: list[str] = []
    # Innermost first: a claim's Disclosure must be made after the Disclosures inside it replaced their values,
    # and an object's `_sd` must be final (decoys, sorted) before the object is itself encoded.
    by_length: dict[int, list[tuple[str | int, ...]]] = {}
    for path in concrete:
        by_length.setdefault(len(path), []).append(path)
    for length in sorted(by_length, reverse=True):
        touched: dict[int, list[str]] = {}
        for path in by_length[length]:
            salt = salts[SALT_CHARS * len(disclosures) : SALT_CHARS * (len(disclosures) + 1)]
            parent, last = _resolve(payload, path[:-1]), path[-1]
            if isinstance(last, str):
                raw = _encode_disclosure([salt, last, parent.pop(last)])
                digests = parent.setdefault("_sd", [])
                touched[id(digests)] = digests
                digests.append(_digest(raw))
            else:
                raw = _encode_disclosure([salt, parent[last]])
                parent[last] = {"...": _digest(raw)}
            disclosures.append(raw)
        for digests in touched.values():
            count = 1 + secrets.randbelow(3) if decoys is None else decoys
            # Section 4.2.5: decoys are digests of random values, indistinguishable from real ones.
            digests.extend(b64url_encode(hashlib.sha256(secrets.token_bytes(32)).digest()) for _ in range(count))
            # Section 4.2.4.1: sorted, so the order of the digests does not reveal the order of the claims.
            digests.sort()
    payload["_sd_alg"] = SD_ALG
    return sign_compact(payload, key, kid, typ) + "~" + "".join(raw + "~" for raw in disclosures)


# --- presentation (section 7.2) -----------------------------------------------------------------------------


def _related(concrete: Path, pattern: Path) -> bool:
    """True if one path lies on the other (a Disclosure is needed to reveal anything at or below it, and a
    revealed claim brings every Disclosure beneath it)."""
    return all(
        step == want if want is not None else isinstance(step, int) for step, want in zip(concrete, pattern)
    )


def present(
    sd_jwt: str,
    *,
    reveal: Collection[Path],
    holder_key: SigningKey | None = None,
    audience: str | None = None,
    nonce: str | None = None,
    now: datetime | None = None,
) -> str:
    """Holder side: keep the Disclosures needed to reveal ``reveal`` (and all below them), and with a
    ``holder_key`` append a KB-JWT for ``audience`` and ``nonce`` made at ``now``.

    The issuance is checked for the section 7.1 structure rules (not its signature: the holder may not have the
    issuer key at hand). Array indexes count positions in the array as issued.
    """
    if holder_key is None and (audience is not None or nonce is not None or now is not None):
        raise ValueError("audience, nonce and now only make sense with a holder_key")
    if holder_key is not None and (audience is None or nonce is None or now is None):
        raise ValueError("key binding needs an audience, a nonce and the time")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    patterns = [_check_path(path) for path in reveal]
    sd = parse(sd_jwt)
    if sd.kb_jwt is not None:
        raise SdJwtError("the input is already a presentation with a key binding JWT")
    unpacker = _Unpacker(sd.disclosures, frozenset({"_sd_alg"}))
    claims = unpacker.unpack(_payload(sd))
    kept = [d for d in sd.disclosures if any(_related(unpacker.paths[d.digest], p) for p in patterns)]
    presented = sd.signed_part + "~" + "".join(d.raw + "~" for d in kept)
    if holder_key is None:
        return presented
    bound_key = _holder_key(_cnf_jwk(claims.get("cnf")))
    if _key_bytes(bound_key) != _key_bytes(holder_key.public_key):
        raise SdJwtError("the holder key is not the key the SD-JWT is bound to", code="holder_key_mismatch")
    kb_claims = {"iat": int(now.timestamp()), "aud": audience, "nonce": nonce, "sd_hash": _digest(presented)}
    return presented + sign_compact(kb_claims, holder_key, holder_key.kid, KB_JWT_TYP)


def digest_of_issuer_jwt(sd_jwt_text: str) -> str:
    """SHA-256 (hex) of the issuer-signed JWT: the same for the issuance and every presentation of it, so it is
    what the transparency log anchors."""
    signed = sd_jwt_text.split("~", 1)[0]
    if not signed.isascii():
        raise SdJwtError("the SD-JWT contains non-ASCII characters")
    return hashlib.sha256(signed.encode("ascii")).hexdigest()
