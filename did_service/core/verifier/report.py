"""The verification report: every check with its outcome; verified only when all required checks passed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class CheckStatus(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    COULD_NOT_RUN = "could_not_run"


@dataclass(frozen=True)
class Check:
    id: str
    status: CheckStatus
    code: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def passed(self, check_id: str) -> None:
        self.checks.append(Check(check_id, CheckStatus.PASSED))

    def failed(self, check_id: str, code: str, message: str) -> None:
        self.checks.append(Check(check_id, CheckStatus.FAILED, code, message))

    def could_not_run(self, check_id: str, code: str, message: str) -> None:
        self.checks.append(Check(check_id, CheckStatus.COULD_NOT_RUN, code, message))

    def warn(self, code: str, message: str) -> None:
        self.warnings.append({"code": code, "message": message})

    def status_of(self, check_id: str) -> CheckStatus | None:
        for check in self.checks:
            if check.id == check_id:
                return check.status
        return None

    @property
    def verified(self) -> bool:
        # An empty report proves nothing; a check that could not run is not a pass.
        return bool(self.checks) and all(c.status is CheckStatus.PASSED for c in self.checks)

    @property
    def errors(self) -> list[dict[str, str]]:
        return [
            {"code": c.code or "check_failed", "check": c.id, "message": c.message or ""}
            for c in self.checks
            if c.status is not CheckStatus.PASSED
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "checks": [c.to_dict() for c in self.checks],
            "warnings": list(self.warnings),
            "errors": self.errors,
        }
