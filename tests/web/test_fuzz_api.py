"""Arbitrary JSON bodies never produce a 5xx, and a refused issuance writes nothing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support import issue_body
from tests.web.test_vc_api import credential_count

leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=16))
value = st.recursive(leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=12)


def mutated_issue_bodies():
    base = issue_body()
    keys = st.sampled_from(["@context", "type", "credentialSubject", "validFrom", "validUntil", "name", "issuer", "extra"])
    return st.builds(
        lambda changes, options: {"credential": {**base["credential"], **changes}, "options": options},
        st.dictionaries(keys, value, max_size=3),
        st.one_of(st.just({}), st.dictionaries(st.sampled_from(["format", "alg", "x"]), value, max_size=2)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(value, mutated_issue_bodies()))
def test_issue_never_5xx(client, auth, services, body):
    before = credential_count(services)
    response = client.post("/credentials/issue", data=json.dumps(body), content_type="application/json", headers=auth)
    assert response.status_code in (201, 400, 422), response.get_data(as_text=True)
    if response.status_code != 201:
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"]
        assert credential_count(services) == before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(value, st.dictionaries(st.just("verifiableCredential"), value, min_size=1)))
def test_verify_never_5xx(client, body):
    response = client.post("/credentials/verify", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.get_json()["verified"] is False
