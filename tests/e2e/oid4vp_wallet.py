"""A minimal OpenID4VP 1.0 wallet for the end-to-end tests, written from the specifications alone.

It knows nothing of did_service: it reads the deep link, fetches and checks the signed Request Object
(JAR, RFC 9101; client identifier prefix `decentralized_identifier`, OpenID4VP 1.0 section 5.9.3), resolves the
verifier's did:web, selects the SD-JWT VC disclosures the DCQL query asks for, signs a Key Binding JWT
(RFC 9901 section 4.3) and answers with `direct_post` (OpenID4VP 1.0 section 8.2).

Only joserfc (JOSE), `cryptography` (through joserfc) and the standard library are used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from joserfc import jws
from joserfc.jwk import ECKey

CLIENT_ID_PREFIX = "decentralized_identifier:"
REQUEST_OBJECT_MEDIA_TYPE = "application/oauth-authz-req+jwt"
SD_JWT_VC_MEDIA_PREFIX = "data:application/dc+sd-jwt,"


class WalletRefused(AssertionError):
    """The wallet found the request untrustworthy or malformed and would not answer it."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    request = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return HttpAnswer(response.status, response.headers.get("Content-Type", ""), response.read())
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, exc.headers.get("Content-Type", ""), exc.read())


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (unverified) header and payload of a compact JWS."""
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def did_web_url(did: str) -> str:
    """did:web resolution (W3C did:web method, section 3.2.1): ':' becomes '/', each part percent-decoded (the
    port arrives as %3A), then /did.json, or /.well-known/did.json without a path.

    The scheme is http here only because the test server listens in plain HTTP on 127.0.0.1; the method, and
    every real wallet, requires https.
    """
    if not did.startswith("did:web:"):
        raise WalletRefused(f"not a did:web: {did}")
    parts = [unquote(part) for part in did[len("did:web:"):].split(":")]
    host, path = parts[0], parts[1:]
    scheme = "http" if host.startswith("127.0.0.1:") or host.startswith("localhost:") else "https"
    return f"{scheme}://{host}/" + ("/".join(path) + "/did.json" if path else ".well-known/did.json")


@dataclass(frozen=True)
class AuthorizationRequest:
    raw: str  # the compact JWS as fetched
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def client_id(self) -> str:
        return self.claims["client_id"]

    @property
    def nonce(self) -> str:
        return self.claims["nonce"]

    @property
    def state(self) -> str:
        return self.claims["state"]

    @property
    def response_uri(self) -> str:
        return self.claims["response_uri"]

    @property
    def dcql_query(self) -> dict[str, Any]:
        return self.claims["dcql_query"]

    @property
    def credential_query(self) -> dict[str, Any]:
        return self.dcql_query["credentials"][0]

    @property
    def requested_claim_names(self) -> list[str]:
        return [claim["path"][0] for claim in self.credential_query.get("claims", [])]


class Wallet:
    """One holder with one P-256 key and the SD-JWT VCs issued to it."""

    def __init__(self, *, expected_host: str) -> None:
        self.key = ECKey.generate_key("P-256", private=True)
        self.expected_host = expected_host  # host:port the verifier's did:web must live on
        self.credentials: list[str] = []

    @property
    def public_jwk(self) -> dict[str, str]:
        jwk = self.key.as_dict(private=False)
        return {name: jwk[name] for name in ("kty", "crv", "x", "y")}

    @property
    def did(self) -> str:
        """did:jwk: the base64url of the public JWK's JSON."""
        return "did:jwk:" + b64url_encode(json.dumps(self.public_jwk, separators=(",", ":")).encode())

    def hold(self, enveloped: dict[str, Any]) -> str:
        """Keep an issued SD-JWT VC (an EnvelopedVerifiableCredential with a data: URL)."""
        assert enveloped["type"] == "EnvelopedVerifiableCredential", enveloped
        assert enveloped["id"].startswith(SD_JWT_VC_MEDIA_PREFIX), enveloped["id"][:40]
        sd_jwt = enveloped["id"][len(SD_JWT_VC_MEDIA_PREFIX):]
        self.credentials.append(sd_jwt)
        return sd_jwt

    # --- the request -------------------------------------------------------------------------------------

    def open_link(self, link: str) -> AuthorizationRequest:
        """Read a deep link (openid4vp://?client_id=..&request_uri=..), fetch and check the Request Object."""
        parts = urlsplit(link)
        if parts.scheme != "openid4vp":
            raise WalletRefused(f"not an OpenID4VP link: {link}")
        query = parse_qs(parts.query, strict_parsing=True)
        if set(query) - {"client_id", "request_uri", "request_uri_method"} or any(len(v) != 1 for v in query.values()):
            raise WalletRefused(f"unexpected deep link parameters: {sorted(query)}")
        client_id, request_uri = query["client_id"][0], query["request_uri"][0]

        fetched = http("GET", request_uri, headers={"Accept": REQUEST_OBJECT_MEDIA_TYPE})
        if fetched.status != 200:
            raise WalletRefused(f"request_uri answered {fetched.status}")
        if fetched.content_type.split(";")[0].strip() != REQUEST_OBJECT_MEDIA_TYPE:
            raise WalletRefused(f"request_uri answered {fetched.content_type}")
        token = fetched.body.decode("ascii").strip()
        header, unverified = compact_parts(token)
        if header.get("typ") != "oauth-authz-req+jwt":
            raise WalletRefused(f"request object typ is {header.get('typ')}")
        if header.get("alg") != "ES256":
            raise WalletRefused(f"request object alg is {header.get('alg')}")
        # RFC 9101 section 5: the client_id outside the request object must equal the one inside.
        if unverified.get("client_id") != client_id:
            raise WalletRefused("client_id of the link and of the request object differ")
        if not client_id.startswith(CLIENT_ID_PREFIX):
            raise WalletRefused(f"unsupported client identifier prefix: {client_id}")
        did = client_id[len(CLIENT_ID_PREFIX):]
        prefix = f"did:web:{self.expected_host.replace(':', '%3A')}:verifiers:"
        if not did.startswith(prefix) or ":" in did[len(prefix):] or not did[len(prefix):]:
            raise WalletRefused(f"unexpected verifier DID: {did}")

        # Section 5.9.3: the request must be signed with a key of the DID; the kid is a DID URL naming it.
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid.startswith(did + "#"):
            raise WalletRefused(f"kid {kid!r} is not a verification method of {did}")
        resolved = http("GET", did_web_url(did), headers={"Accept": "application/did+json, application/json"})
        if resolved.status != 200:
            raise WalletRefused(f"resolving {did} answered {resolved.status}")
        document = resolved.json()
        if document.get("id") != did:
            raise WalletRefused(f"the DID document is for {document.get('id')}, not {did}")
        methods = [m for m in document.get("verificationMethod", []) if _absolute(m.get("id", ""), did) == kid]
        if len(methods) != 1 or "publicKeyJwk" not in methods[0]:
            raise WalletRefused(f"the DID document has no single verification method {kid}")
        references = document.get("assertionMethod", []) + document.get("authentication", [])
        allowed = [_absolute(ref, did) for ref in references if isinstance(ref, str)]
        if allowed and kid not in allowed:
            raise WalletRefused(f"{kid} is not an authentication or assertion method of {did}")
        key = ECKey.import_key(methods[0]["publicKeyJwk"])
        verified = jws.deserialize_compact(token, key, algorithms=["ES256"])  # raises on a bad signature
        claims = json.loads(verified.payload)

        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise WalletRefused("the request object has expired")
        if claims.get("response_type") != "vp_token":
            raise WalletRefused(f"response_type {claims.get('response_type')}")
        if claims.get("response_mode") != "direct_post":
            raise WalletRefused(f"response_mode {claims.get('response_mode')}")
        if claims.get("client_id") != client_id:
            raise WalletRefused("client_id changed under the signature")
        for name in ("nonce", "state", "response_uri"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise WalletRefused(f"the request object has no {name}")
        if "redirect_uri" in claims:
            raise WalletRefused("direct_post requests carry response_uri, never redirect_uri")
        query_ = claims.get("dcql_query")
        if not isinstance(query_, dict) or not query_.get("credentials"):
            raise WalletRefused("the request object has no DCQL query")
        return AuthorizationRequest(token, header, claims)

    # --- the presentation --------------------------------------------------------------------------------

    def select(self, request: AuthorizationRequest) -> str:
        """The held SD-JWT VC whose vct the query accepts (DCQL meta.vct_values)."""
        query = request.credential_query
        if query.get("format") != "dc+sd-jwt":
            raise WalletRefused(f"unsupported format {query.get('format')}")
        wanted = query.get("meta", {}).get("vct_values", [])
        for sd_jwt in self.credentials:
            _, payload = compact_parts(sd_jwt.split("~", 1)[0])
            if payload.get("vct") in wanted:
                return sd_jwt
        raise WalletRefused(f"no credential of vct {wanted}")

    def present(self, request: AuthorizationRequest, sd_jwt: str | None = None, *,
                reveal: list[str] | None = None, nonce: str | None = None, audience: str | None = None) -> str:
        """<issuer-jwt>~<disclosure>~...~<kb-jwt>, revealing exactly the requested top-level claims."""
        sd_jwt = sd_jwt or self.select(request)
        names = set(reveal if reveal is not None else request.requested_claim_names)
        issuer_jwt, *disclosures = sd_jwt.split("~")
        kept = []
        for disclosure in disclosures:
            if not disclosure:
                continue  # the trailing "~" of an SD-JWT without KB-JWT
            decoded = json.loads(b64url_decode(disclosure))
            if len(decoded) == 3 and decoded[1] in names:  # [salt, name, value]; array elements have no name
                kept.append(disclosure)
        presentation = issuer_jwt + "~" + "".join(d + "~" for d in kept)
        kb_claims = {
            "iat": int(time.time()),
            "aud": audience or request.client_id,
            "nonce": nonce or request.nonce,
            "sd_hash": b64url_encode(hashlib.sha256(presentation.encode("ascii")).digest()),
        }
        kb_jwt = jws.serialize_compact({"alg": "ES256", "typ": "kb+jwt"},
                                       json.dumps(kb_claims, separators=(",", ":")).encode(), self.key)
        return presentation + kb_jwt

    def vp_token(self, request: AuthorizationRequest, presentation: str) -> str:
        return json.dumps({request.credential_query["id"]: [presentation]})

    def post_response(self, response_uri: str, *, vp_token: str, state: str) -> HttpAnswer:
        """direct_post: application/x-www-form-urlencoded with vp_token and state."""
        body = urlencode({"vp_token": vp_token, "state": state}).encode("ascii")
        return http("POST", response_uri, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})

    def answer(self, request: AuthorizationRequest, **present_options: Any) -> tuple[HttpAnswer, str]:
        """Present and post; returns the verifier's answer and the vp_token sent (to replay it)."""
        token = self.vp_token(request, self.present(request, **present_options))
        return self.post_response(request.response_uri, vp_token=token, state=request.state), token


def _absolute(reference: str, did: str) -> str:
    return did + reference if reference.startswith("#") else reference
