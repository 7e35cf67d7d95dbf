"""Decision receipts: a compact JWS (``typ: decision-receipt+jwt``) a relying party keeps for inspection.

A receipt says what the verifier decided and on what grounds, and nothing about the person: the request id
(``jti``), the tenant (``sub``), the policy, every check as ``{id, status, code?}`` (never its message), the
*names* of the disclosed claims, the decision, the time (``iat``) and the log checkpoint the verification used
(``{origin, size, root_hash}``, root hash in lowercase hex, or null). Claim values never enter it: the receipt is
built from a ``Decision`` without reading ``returned_claims``.

Signing goes through ``jose.sign_compact`` (the algorithm is the key's own). Verification pins the algorithm to
the given public key, requires the receipt ``typ`` and then reads the payload strictly: every member present,
no unknown member, each of its own type. A receipt that says "approved" while listing a check that did not pass
is refused as well, so a receipt's decision is always the one its checks imply (``Decision.approved``).

Codes: ``invalid_receipt_type`` (wrong or missing ``typ``), ``invalid_receipt`` (payload shape),
``invalid_receipt_issuer`` (``iss`` is not the expected one), plus ``jose``'s own (``malformed_credential``,
``unsupported_alg``, ``alg_key_mismatch``, ``invalid_signature``...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from did_service.core.keys import PublicKey, SigningKey
from did_service.core.policy.decision import Decision
from did_service.core.proofs import jose
from did_service.core.proofs.jose import JoseError
from did_service.core.tlog.checkpoint import MAX_TREE_SIZE, Checkpoint

__all__ = [
    "RECEIPT_TYP",
    "DecisionReceipt",
    "receipt_from_decision",
    "sign_receipt",
    "verify_receipt_jws",
]

RECEIPT_TYP = "decision-receipt+jwt"
DECISIONS = frozenset({"approved", "rejected"})
CHECK_STATUSES = frozenset({"passed", "failed", "could_not_run"})
MAX_TEXT = 256  # ids, names and codes; none of them is free text
MAX_ITEMS = 256  # checks and claim names per receipt

_REQUIRED = frozenset({"jti", "iat", "sub", "policy", "decision", "checks", "disclosed_claims", "checkpoint"})
_OPTIONAL = frozenset({"iss"})
_CHECK_REQUIRED = frozenset({"id", "status"})
_CHECK_MEMBERS = _CHECK_REQUIRED | {"code"}
_CHECKPOINT_MEMBERS = frozenset({"origin", "size", "root_hash"})
_ROOT_HEX = re.compile(r"[0-9a-f]{64}")


def _invalid(detail: str) -> JoseError:
    # Details name the rule, never a value: a payload that breaks the shape may carry anything.
    return JoseError(f"the decision receipt is not acceptable: {detail}", code="invalid_receipt")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _invalid(f"{what} must be a string of 1 to {MAX_TEXT} characters")
    return value


def _check(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _invalid("each check is an object")
    keys = set(value.keys())
    if not _CHECK_REQUIRED <= keys or not keys <= _CHECK_MEMBERS:
        raise _invalid("each check has exactly id, status and an optional code")
    status = value["status"]
    if not isinstance(status, str) or status not in CHECK_STATUSES:
        raise _invalid("a check status is passed, failed or could_not_run")
    out = {"id": _text(value["id"], "a check id"), "status": status}
    if "code" in value:
        out["code"] = _text(value["code"], "a check code")
    return out


def _checkpoint(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value.keys()) != _CHECKPOINT_MEMBERS:
        raise _invalid("the checkpoint is null or has exactly origin, size and root_hash")
    size = value["size"]
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise _invalid("the checkpoint size is a non-negative integer")
    root = value["root_hash"]
    if not isinstance(root, str) or not _ROOT_HEX.fullmatch(root):
        raise _invalid("the checkpoint root_hash is 64 lowercase hex digits")
    return {"origin": _text(value["origin"], "the checkpoint origin"), "size": size, "root_hash": root}


@dataclass(frozen=True)
class DecisionReceipt:
    """What a receipt states. Built by ``receipt_from_decision`` or read back by ``verify_receipt_jws``.

    ``issued_at`` is kept in UTC to the second, as JWT ``iat`` carries it, so a receipt survives a round trip
    unchanged. ``decision`` must be the one the checks imply: approved iff there is a check and all passed.
    """

    request_id: str
    tenant_id: str
    policy: str
    decision: str
    checks: tuple[dict[str, str], ...]
    disclosed_claims: tuple[str, ...]
    issued_at: datetime
    checkpoint: dict[str, Any] | None

    def __post_init__(self) -> None:
        _text(self.request_id, "the request id")
        _text(self.tenant_id, "the tenant id")
        _text(self.policy, "the policy")
        if not isinstance(self.decision, str) or self.decision not in DECISIONS:
            raise _invalid("the decision is approved or rejected")
        if not isinstance(self.checks, (tuple, list)) or len(self.checks) > MAX_ITEMS:
            raise _invalid(f"the checks are a list of at most {MAX_ITEMS}")
        checks = tuple(_check(c) for c in self.checks)
        implied = "approved" if checks and all(c["status"] == "passed" for c in checks) else "rejected"
        if self.decision != implied:
            raise _invalid("the decision does not follow from the checks")
        if not isinstance(self.disclosed_claims, (tuple, list)) or len(self.disclosed_claims) > MAX_ITEMS:
            raise _invalid(f"the disclosed claims are a list of at most {MAX_ITEMS} names")
        names = tuple(_text(n, "a disclosed claim name") for n in self.disclosed_claims)
        if not isinstance(self.issued_at, datetime) or self.issued_at.utcoffset() is None:
            raise _invalid("the issue time is a timezone-aware datetime")
        object.__setattr__(self, "checks", checks)
        object.__setattr__(self, "disclosed_claims", names)
        object.__setattr__(self, "issued_at", self.issued_at.astimezone(timezone.utc).replace(microsecond=0))
        object.__setattr__(self, "checkpoint", _checkpoint(self.checkpoint))

    @property
    def approved(self) -> bool:
        return self.decision == "approved"

    def claims(self, issuer: str | None = None) -> dict[str, Any]:
        """The JWT claims set; ``iss`` only when an issuer is given."""
        out: dict[str, Any] = {}
        if issuer is not None:
            out["iss"] = _text(issuer, "the issuer")
        out.update(
            {
                "jti": self.request_id,
                "iat": int(self.issued_at.timestamp()),
                "sub": self.tenant_id,
                "policy": self.policy,
                "decision": self.decision,
                "checks": [dict(c) for c in self.checks],
                "disclosed_claims": list(self.disclosed_claims),
                "checkpoint": dict(self.checkpoint) if self.checkpoint is not None else None,
            }
        )
        return out


def receipt_from_decision(
    decision: Decision,
    *,
    request_id: str,
    tenant_id: str,
    issued_at: datetime,
    checkpoint: Checkpoint | None,
) -> DecisionReceipt:
    """The receipt for ``decision``: check outcomes and claim names only (``returned_claims`` is never read)."""
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError("checkpoint must be a Checkpoint or None")
    return DecisionReceipt(
        request_id=request_id,
        tenant_id=tenant_id,
        policy=decision.policy,
        decision="approved" if decision.approved else "rejected",
        checks=tuple(c.to_dict() for c in decision.checks),  # id, status, code: Check.to_dict leaves out messages
        disclosed_claims=tuple(decision.disclosed_claims),
        issued_at=issued_at,
        checkpoint=None
        if checkpoint is None
        else {"origin": checkpoint.origin, "size": checkpoint.size, "root_hash": checkpoint.root_hash.hex()},
    )


def sign_receipt(receipt: DecisionReceipt, key: SigningKey, kid: str, *, issuer: str | None = None) -> str:
    """A compact JWS over the receipt, header ``{alg, kid, typ: decision-receipt+jwt}``, alg the key's own."""
    return jose.sign_compact(receipt.claims(issuer), key, kid, RECEIPT_TYP)


def verify_receipt_jws(token: str, public_key: PublicKey, *, issuer: str | None = None) -> DecisionReceipt:
    """The receipt ``token`` states; JoseError unless it is a well-formed receipt signed by ``public_key``.

    With ``issuer``, the receipt must carry exactly that ``iss``; without it, an ``iss`` member is allowed.
    """
    parsed = jose.parse_compact(token)
    if parsed.header.get("typ") != RECEIPT_TYP:
        raise JoseError(f"the token is not a decision receipt (typ {RECEIPT_TYP})", code="invalid_receipt_type")
    jose.verify_signature(parsed, public_key)
    payload = parsed.payload
    keys = set(payload.keys())
    if not _REQUIRED <= keys:
        raise _invalid("a required member is missing")
    if not keys <= _REQUIRED | _OPTIONAL:
        raise _invalid("an unknown member is present")
    if "iss" in payload:
        _text(payload["iss"], "the issuer")
    if issuer is not None and payload.get("iss") != issuer:
        raise JoseError("the receipt was not issued by the expected issuer", code="invalid_receipt_issuer")
    iat = payload["iat"]
    if not isinstance(iat, int) or isinstance(iat, bool) or iat < 0:
        raise _invalid("iat is a non-negative integer NumericDate")
    try:
        issued_at = datetime.fromtimestamp(iat, timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise _invalid("iat is out of range") from exc
    for member in ("checks", "disclosed_claims"):
        if not isinstance(payload[member], list):
            raise _invalid(f"{member} is a list")
    return DecisionReceipt(
        request_id=payload["jti"],
        tenant_id=payload["sub"],
        policy=payload["policy"],
        decision=payload["decision"],
        checks=tuple(payload["checks"]),
        disclosed_claims=tuple(payload["disclosed_claims"]),
        issued_at=issued_at,
        checkpoint=payload["checkpoint"],
    )
