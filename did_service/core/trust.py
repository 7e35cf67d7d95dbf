"""The trust registry: which issuers a verifier trusts for which credential types.

Anyone can sign a well-formed ResidentIdentityCredential with a did:key; only the trust decision makes it worth
anything. Trust is per type: the agency trusted for residence certificates is not thereby trusted for diplomas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from did_service.core import did as dids
from did_service.errors import ResolutionError, Unprocessable


@dataclass(frozen=True)
class TrustRegistry:
    by_type: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> TrustRegistry:
        """From (issuer, credential type) pairs."""
        by_type: dict[str, set[str]] = {}
        for issuer, credential_type in pairs:
            by_type.setdefault(credential_type, set()).add(issuer)
        return cls({name: frozenset(issuers) for name, issuers in by_type.items()})

    def trusts(self, issuer: str | None, credential_type: str) -> bool:
        return issuer is not None and issuer in self.by_type.get(credential_type, ())


def check_trusted_issuer(issuer: object) -> str:
    """A trust entry names a DID exactly (no fragment, query or path): the issuer ids credentials carry."""
    if not isinstance(issuer, str) or len(issuer) > 2048 or not issuer.startswith("did:"):
        raise Unprocessable("the issuer must be a DID", code="invalid_issuer")
    try:
        did, fragment = dids.split_did_url(issuer)
    except ResolutionError as exc:
        raise Unprocessable("the issuer is not a valid DID", code="invalid_issuer") from exc
    if fragment is not None or did != issuer:
        raise Unprocessable("the issuer must be a DID, not a DID URL", code="invalid_issuer")
    return issuer
