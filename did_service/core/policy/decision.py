"""What a policy decides, and the evidence a relying party reports: shared by every policy.

A decision lists every check it made (reusing the verifier's ``Check``: passed, failed or could_not_run with a
stable code) and is approved only when there is at least one check and every check passed. ``approved`` is
computed from the checks, never passed in, so no caller can build an approved decision with a failing check.

Decisions carry claim *names* for the record (what was disclosed, what was dropped) and claim *values* only in
``returned_claims``, the part the tenant may see. Check messages name claims, never their values, so a decision
can be logged or stored without personal data once ``returned_claims`` is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

from did_service.core.verifier.report import Check, CheckStatus
from did_service.errors import BadRequest

__all__ = ["Check", "CheckStatus", "Decision", "EvidenceItem", "InvalidPolicyInput"]


class InvalidPolicyInput(BadRequest):
    """Input a policy cannot evaluate (a malformed evidence item or application); the caller can fix it."""

    code = "invalid_policy_input"
    title = "The policy input is not acceptable"


@dataclass(frozen=True)
class EvidenceItem:
    """One verification method the relying party performed itself (video call, micro-transfer...).

    ``method`` is a name from the policy's configured method list; ``source`` says who performed it (the bank,
    a vendor); ``succeeded`` is the method's own result. The item carries no personal data.
    """

    method: str
    performed_at: datetime
    source: str
    succeeded: bool

    def __post_init__(self) -> None:
        # Evidence arrives from a bank's back end; a loose type here (a "false" string is truthy) would
        # quietly turn a failed method into a counted one.
        if not isinstance(self.method, str) or not self.method or len(self.method) > 64:
            raise InvalidPolicyInput("an evidence method must be a name of 1 to 64 characters",
                                     code="invalid_evidence")
        if not isinstance(self.performed_at, datetime) or self.performed_at.utcoffset() is None:
            raise InvalidPolicyInput("an evidence time must be a timezone-aware datetime", code="invalid_evidence")
        if not isinstance(self.source, str) or not self.source or len(self.source) > 200:
            raise InvalidPolicyInput("an evidence source must be a name of 1 to 200 characters",
                                     code="invalid_evidence")
        if not isinstance(self.succeeded, bool):
            raise InvalidPolicyInput("an evidence result must be a boolean", code="invalid_evidence")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "performedAt": self.performed_at.isoformat(),
            "source": self.source,
            "succeeded": self.succeeded,
        }


@dataclass(frozen=True)
class Decision:
    policy: str
    checks: tuple[Check, ...]
    disclosed_claims: tuple[str, ...] = ()  # names only: what the holder disclosed
    returned_claims: Mapping[str, Any] = field(default_factory=dict)  # values the tenant may see
    dropped_claims: tuple[str, ...] = ()  # names of disclosed claims the policy did not ask for
    methods: tuple[str, ...] = ()  # verification methods that counted (account opening)
    approved: bool = field(init=False)

    def __post_init__(self) -> None:
        checks = tuple(self.checks)
        if not all(isinstance(c, Check) for c in checks):
            raise TypeError("a decision's checks must be Check instances")
        object.__setattr__(self, "checks", checks)
        # A read-only copy: the decision is a record, and the tenant's view must not change after the fact.
        object.__setattr__(self, "returned_claims", MappingProxyType(dict(self.returned_claims)))
        # An empty decision proves nothing; a check that could not run is not a pass.
        object.__setattr__(
            self, "approved", bool(checks) and all(c.status is CheckStatus.PASSED for c in checks)
        )

    @property
    def reasons(self) -> tuple[str, ...]:
        """The codes of the checks that did not pass, in check order, each once."""
        return tuple(dict.fromkeys(c.code or "check_failed" for c in self.checks if c.status is not CheckStatus.PASSED))

    def check(self, check_id: str) -> Check | None:
        for item in self.checks:
            if item.id == check_id:
                return item
        return None

    def to_dict(self) -> dict[str, Any]:
        checks = []
        for item in self.checks:
            out = item.to_dict()
            if item.message:
                out["message"] = item.message
            checks.append(out)
        return {
            "approved": self.approved,
            "policy": self.policy,
            "checks": checks,
            "reasons": list(self.reasons),
            "disclosedClaims": list(self.disclosed_claims),
            "droppedClaims": list(self.dropped_claims),
            "methods": list(self.methods),
            "returnedClaims": dict(self.returned_claims),
        }


def passed(check_id: str) -> Check:
    return Check(check_id, CheckStatus.PASSED)


def failed(check_id: str, code: str, message: str) -> Check:
    return Check(check_id, CheckStatus.FAILED, code, message)


def could_not_run(check_id: str, code: str, message: str) -> Check:
    return Check(check_id, CheckStatus.COULD_NOT_RUN, code, message)
