"""Status changes through the service, on SQLite and Redis: a hundred concurrent revocations on one list."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from did_service.core import status_list, tlog
from did_service.core.proofs.jose import parse_compact
from did_service.core.verifier.verify import verify_credential
from did_service.errors import Conflict, NotFound
from did_service.services.container import build_services
from tests.support import issue_body, make_settings


@pytest.fixture
def svc(tmp_path, store):
    return build_services(make_settings(tmp_path / "instance"), store=store)


def test_a_hundred_concurrent_revocations_on_one_list(svc):
    issued = svc.issuance.issue_many([issue_body()] * 100, svc.clock())
    lists = {item.record.extra["status"][0]["list_id"] for item in issued}
    assert len(lists) == 1
    (list_id,) = lists
    size_before = svc.store.log_size()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda item: svc.status.update(item.record.credential_id, ["revoked"]), issued))
    assert all(r[0]["changed"] for r in results)
    record = svc.store.get_status_list(list_id)
    assert sum(bin(b).count("1") for b in record.bits) == 100
    assert record.version == 100
    new = svc.store.read_leaves(size_before, svc.store.log_size())
    entries = [tlog.decode_entry(leaf.entry) for leaf in new]
    assert len(entries) == 100 and {e.kind for e in entries} == {"status"} and {e.value for e in entries} == {1}
    # The re-signed list verifies, and says exactly those hundred are revoked.
    token = svc.status.published(list_id).token
    report = verify_credential(token, resolve=svc.resolver, registry=svc.registry, trusted_issuers=(), now=svc.clock())
    assert report.verified, report.to_dict()
    indexes = {item.record.extra["status"][0]["index"] for item in issued}
    bits = status_list.check_list_credential(parse_compact(token).payload, expected_issuer=svc.issuer_did,
                                             purpose="revocation", list_url=svc.status.list_url(list_id))
    assert {i for i in range(len(bits) * 8) if status_list.get_bit(bits, i)} == indexes
    for item in issued[:5]:
        assert not svc.verify_credential(item.secured).verified


def test_status_rules(svc):
    item = svc.issuance.issue(issue_body(), svc.clock())
    cid = item.record.credential_id
    assert svc.status.update(cid, ["suspended"])[0]["changed"]
    assert not svc.status.update(cid, ["suspended"])[0]["changed"]
    assert svc.status.update(cid, ["active"])[0]["changed"]
    assert svc.verify_credential(item.secured).verified
    assert svc.status.update(cid, ["revoked"])[0]["changed"]
    with pytest.raises(Conflict):
        svc.status.update(cid, ["active"])
    with pytest.raises(NotFound):
        svc.status.update("urn:uuid:unknown", ["revoked"])
    report = svc.verify_credential(item.secured)
    assert {c.id: c.code for c in report.checks}["status"] == "revoked"
