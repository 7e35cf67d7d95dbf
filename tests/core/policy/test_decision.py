"""Decision: approved is derived from the checks, never set; a check that could not run is never a pass."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from did_service.core.policy.decision import Check, CheckStatus, Decision

checks = st.builds(
    Check,
    id=st.sampled_from(["credential", "adult", "verification_methods"]),
    status=st.sampled_from(list(CheckStatus)),
    code=st.sampled_from([None, "not_adult", "insufficient_methods"]),
)


@given(st.lists(checks, max_size=8))
def test_approved_iff_all_checks_passed(items: list[Check]) -> None:
    decision = Decision(policy="p", checks=tuple(items))
    assert decision.approved == (bool(items) and all(c.status is CheckStatus.PASSED for c in items))
    assert decision.to_dict()["approved"] is decision.approved
    assert set(decision.reasons) == {c.code or "check_failed" for c in items if c.status is not CheckStatus.PASSED}
    assert len(decision.reasons) == len(set(decision.reasons))  # each code once


def test_empty_decision_is_not_approved() -> None:
    assert not Decision(policy="p", checks=()).approved


def test_approved_cannot_be_passed_in_or_changed() -> None:
    with pytest.raises(TypeError):
        Decision(policy="p", checks=(), approved=True)  # type: ignore[call-arg]
    decision = Decision(policy="p", checks=(Check("a", CheckStatus.FAILED, "x"),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.approved = True  # type: ignore[misc]


def test_could_not_run_is_not_a_pass() -> None:
    decision = Decision(policy="p", checks=(Check("a", CheckStatus.PASSED),
                                            Check("b", CheckStatus.COULD_NOT_RUN, "store_unavailable")))
    assert not decision.approved
    assert decision.reasons == ("store_unavailable",)
