from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from did_service.core import strict_json
from did_service.core.strict_json import StrictJsonError


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"a": {"b": 1, "b": 1}}',
        "NaN",
        '{"a": Infinity}',
        '{"a": -Infinity}',
        "[" * 65 + "]" * 65,
        '{"a":' * 65 + "1" + "}" * 65,
        "[" * 100000,
        '"\\udc00"',
        '{"\\ud800": 1}',
        "1" * 5000,
        "{",
        "",
        b"\xc3\x28",
    ],
)
def test_refused(text):
    with pytest.raises(StrictJsonError) as info:
        strict_json.loads(text)
    # The message names the rule, never the input.
    assert "udc00" not in str(info.value) and "1111" not in str(info.value)


def test_depth_limit_is_inclusive():
    assert strict_json.loads("[" * 64 + "]" * 64)
    assert strict_json.loads('{"a":' * 63 + "[]" + "}" * 63)


def test_accepts_surrogate_pairs_and_unicode():
    assert strict_json.loads('"\\ud83d\\ude00 한글"') == "😀 한글"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_round_trip(value):
    assert strict_json.loads(strict_json.dumps_compact(value)) == value


@pytest.mark.parametrize(
    "text,rule",
    [('{"a": 1, "a": 2}', "duplicate object key"), ("NaN", "NaN is not JSON"), ("1" * 5000, "number too large"),
     ("[" * 65 + "]" * 65, "nesting deeper than 64"), ('"\\ud800"', "lone surrogate")],
)
def test_message_names_the_rule(text, rule):
    with pytest.raises(StrictJsonError, match=rule):
        strict_json.loads(text)
