"""Verifier policies: what a relying party's decision requires beyond a verified presentation.

Pure domain code: each policy takes the verifier's outcome, the disclosed claims and the relying party's own
inputs, and returns a ``Decision`` listing every check.
"""

from did_service.core.policy.account_opening import AccountOpeningPolicy, evaluate
from did_service.core.policy.certificate import evaluate_certificate
from did_service.core.policy.decision import Decision, EvidenceItem, InvalidPolicyInput

__all__ = ["AccountOpeningPolicy", "Decision", "EvidenceItem", "InvalidPolicyInput", "evaluate",
           "evaluate_certificate"]
