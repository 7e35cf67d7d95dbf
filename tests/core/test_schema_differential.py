"""jsonschema-rs decides validity; the Python jsonschema validator explains failures. They must agree."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from did_service.config import Settings
from did_service.core.schema import SchemaRegistry
from tests.support import CREDENTIAL_TYPES, load_subject

REGISTRY = SchemaRegistry.from_directory(Settings().schemas_dir)

# Values chosen to sit on the edges the schemas draw: newlines before `$`, non-ASCII digits, bidi controls,
# composed and decomposed Hangul, impossible dates, big and fractional numbers.
EDGE_STRINGS = [
    "", " ", "홍", "길동\n", "\n길동", "홍", "900101-1234567", "900101-1234567\n", "９００１０１-1234567",
    "1990-02-30", "1990-02-28", "2100-01-01", "1899-12-31", "63122", "6312", "631222", "KR", "kr", "Hong",
    "Hong\u202e", "a" * 101, "did:key:z6Mk", "did:web:example.com", "did:web:example.com#frag", "sha-256",
    "0" * 64, "a" * 64, "A" * 64, "head", "spouse", "other", "Hong-Gil", "O'Neil", "Hong  Gil",
]
leaf = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_value = st.recursive(leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=6)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, prefix + (index,))


def mutate(subject, path, new_value, mode):
    subject = copy.deepcopy(subject)
    if not path:
        return new_value if mode == "replace" else subject
    parent = subject
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if mode == "replace":
        parent[last] = new_value
    elif mode == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[f"{last}_extra"] = new_value
    return subject


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_explaining_validators_agree(credential_type, data):
    entry = REGISTRY._entry(credential_type)
    subject = load_subject(credential_type)
    path = data.draw(st.sampled_from(list(paths(subject))))
    mode = data.draw(st.sampled_from(["replace", "delete", "add"]))
    candidate = mutate(subject, path, data.draw(json_value), mode)
    fast = entry.fast.is_valid(candidate)
    slow = entry.validator.is_valid(candidate)
    assert fast == slow, json.dumps({"path": path, "mode": mode, "fast": fast}, default=str)
