"""Mutated SD-JWTs, Data Integrity documents and presentations never produce a 5xx or a false `verified`."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from did_service.clock import utcnow
from did_service.core.proofs import data_integrity, sd_jwt
from did_service.services import tokens
from did_service.services.container import build_services
from did_service.web import create_app
from tests.support import issue_body, load_subject, make_settings
from tests.web.test_formats import VERIFIER, Holder, compact

CHALLENGE = "fuzz-nonce"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    services = build_services(make_settings(tmp_path_factory.mktemp("fuzz") / "instance"))
    client = create_app(services=services).test_client()
    token, _ = tokens.create_token(services.store, "issuer", utcnow())
    holder = Holder()
    subject = {**load_subject(), "id": holder.did, "residentRegistrationNumber": "900101-1234567"}

    def issued(fmt: str):
        response = client.post("/credentials/issue", json=issue_body(subject=subject if fmt == "dc+sd-jwt" else {
            **load_subject(), "id": holder.did}, format=fmt), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["verifiableCredential"]

    sd = compact(issued("dc+sd-jwt"))
    presentation = sd_jwt.present(sd, reveal=[("familyName",), ("birthDate",)], holder_key=holder.key,
                                  audience=VERIFIER, nonce=CHALLENGE, now=utcnow())
    di = issued("eddsa-rdfc-2022")
    vp = data_integrity.add_proof(
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"],
         "holder": holder.did, "verifiableCredential": [di]},
        holder.key.private_key, holder.method, cryptosuite="eddsa-rdfc-2022", proof_purpose="authentication",
        challenge=CHALLENGE, domain=VERIFIER)
    options = {"challenge": CHALLENGE, "domain": VERIFIER}
    # The unmutated inputs verify, so a mutation that is refused is refused because of the mutation.
    for value in (presentation, vp):
        body = {"verifiablePresentation": value, "options": options}
        assert client.post("/presentations/verify", json=body).get_json()["verified"] is True
    assert client.post("/credentials/verify", json={"verifiableCredential": di}).get_json()["verified"] is True
    yield {"client": client, "presentation": presentation, "di": di, "vp": vp}
    services.store.close()


def _post(client, path: str, body: dict) -> dict:
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400, 422), response.get_data(as_text=True)
    return response.get_json()


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_mutated_sd_jwt_presentations(world, data):
    text = world["presentation"]
    position = data.draw(st.integers(0, len(text) - 1))
    edit = data.draw(st.sampled_from(["replace", "delete", "duplicate_part", "drop_part", "swap_parts"]))
    parts = text.split("~")
    if edit == "replace":
        mutated = text[:position] + data.draw(st.sampled_from("A_-~.=x0")) + text[position + 1:]
    elif edit == "delete":
        mutated = text[:position] + text[position + 1:]
    else:
        i = data.draw(st.integers(0, len(parts) - 1))
        j = data.draw(st.integers(0, len(parts) - 1))
        if edit == "duplicate_part":
            parts.insert(i, parts[j])
        elif edit == "drop_part":
            del parts[i]
        else:
            parts[i], parts[j] = parts[j], parts[i]
        mutated = "~".join(parts)
    result = _post(world["client"], "/presentations/verify", {
        "verifiablePresentation": mutated, "options": {"challenge": CHALLENGE, "domain": VERIFIER}})
    if mutated != text and result.get("verified"):
        # Only a change that leaves the signed content, the disclosed set and the binding intact may verify
        # (e.g. reordering two disclosures, which the KB-JWT's sd_hash covers, must not).
        pytest.fail(f"a mutated presentation verified: {edit}")


_paths = st.lists(st.sampled_from(["proof", "credentialSubject", "@context", "type", "issuer", "validFrom",
                                   "cryptosuite", "proofValue", "verificationMethod", "proofPurpose", "created",
                                   "familyName", "address", "id", "verifiableCredential", "challenge", "domain",
                                   "holder"]), min_size=1, max_size=3)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**60, 2**60), st.text(max_size=12),
              st.sampled_from(["did:key:z6Mk", "https://example.org/x", "_:b0", "@id", "eddsa-rdfc-2022", "z1"])),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["id", "type", "@id", "x", "proof"]), c,
                                                        max_size=3),
    max_leaves=8)


def _set_path(document, path, value):
    node = document
    for name in path[:-1]:
        child = node.get(name) if isinstance(node, dict) else None
        if isinstance(child, list) and child:
            child = child[0]
        if not isinstance(child, dict):
            return
        node = child
    if isinstance(node, dict):
        node[path[-1]] = value


@FUZZ
@given(path=_paths, value=_values, target=st.sampled_from(["di", "vp"]))
def test_mutated_data_integrity_documents(world, path, value, target):
    document = copy.deepcopy(world[target])
    _set_path(document, path, value)
    if target == "di":
        result = _post(world["client"], "/credentials/verify", {"verifiableCredential": document})
    else:
        result = _post(world["client"], "/presentations/verify", {
            "verifiablePresentation": document, "options": {"challenge": CHALLENGE, "domain": VERIFIER}})
    if document != world[target]:
        assert not result.get("verified"), (path, value)
