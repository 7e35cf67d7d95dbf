"""Decision receipts: signed, strict on read, verifiable by an independent JOSE library, and free of claim values."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from joserfc import jws as rfc_jws
from joserfc.jwk import ECKey, OKPKey

from did_service.core.keys import generate_private_key, signing_key_from_private
from did_service.core.policy.decision import Check, CheckStatus, Decision
from did_service.core.proofs import jose
from did_service.core.proofs.jose import JoseError
from did_service.core.receipt_jws import (
    RECEIPT_TYP,
    DecisionReceipt,
    receipt_from_decision,
    sign_receipt,
    verify_receipt_jws,
)
from did_service.core.tlog.checkpoint import Checkpoint

NOW = datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
CHECKPOINT = Checkpoint("log.example.go.kr/did-service", 42, bytes(range(32)))
NAME, BIRTH_DATE, RRN = "홍길동", "1990-01-02", "900102-1234567"


@pytest.fixture(params=["EdDSA", "ES256"])
def key(request):
    return signing_key_from_private(generate_private_key(request.param))


def _decision(*statuses: CheckStatus) -> Decision:
    checks = [Check("credential", CheckStatus.PASSED)]
    checks += [Check(f"check_{i}", s, None if s is CheckStatus.PASSED else "not_adult", f"{NAME} is {BIRTH_DATE}")
               for i, s in enumerate(statuses)]
    return Decision(
        policy="account-opening",
        checks=tuple(checks),
        disclosed_claims=("name", "birthDate", "residentRegistrationNumber", "address"),
        returned_claims={"name": NAME, "birthDate": BIRTH_DATE, "residentRegistrationNumber": RRN},
        dropped_claims=("address",),
        methods=("did_presentation", "video_call"),
    )


def _receipt(decision: Decision | None = None, checkpoint: Checkpoint | None = CHECKPOINT) -> DecisionReceipt:
    return receipt_from_decision(
        decision or _decision(CheckStatus.PASSED),
        request_id="req-7f3a", tenant_id="tenant-bank-1", issued_at=NOW, checkpoint=checkpoint,
    )


def _payload(token: str) -> dict:
    return json.loads(jose.b64url_decode(token.split(".")[1]))


def _header(token: str) -> dict:
    return json.loads(jose.b64url_decode(token.split(".")[0]))


def test_round_trip(key) -> None:
    receipt = _receipt()
    token = sign_receipt(receipt, key, key.kid)
    assert _header(token) == {"alg": key.alg, "kid": key.kid, "typ": RECEIPT_TYP}
    back = verify_receipt_jws(token, key.public_key)
    assert back == receipt
    assert back.issued_at == datetime(2026, 11, 25, 0, 30, 15, tzinfo=timezone.utc)
    assert back.checkpoint == {"origin": CHECKPOINT.origin, "size": 42, "root_hash": bytes(range(32)).hex()}
    assert back.request_id == "req-7f3a" and back.tenant_id == "tenant-bank-1"


def test_payload_members(key) -> None:
    token = sign_receipt(_receipt(), key, key.kid)
    payload = _payload(token)
    assert set(payload) == {"jti", "iat", "sub", "policy", "decision", "checks", "disclosed_claims", "checkpoint"}
    assert payload["jti"] == "req-7f3a" and payload["sub"] == "tenant-bank-1"
    assert payload["iat"] == int(NOW.timestamp())
    assert payload["checks"][0] == {"id": "credential", "status": "passed"}
    with_iss = sign_receipt(_receipt(), key, key.kid, issuer="did:web:verifier.example")
    assert _payload(with_iss)["iss"] == "did:web:verifier.example"
    assert verify_receipt_jws(with_iss, key.public_key, issuer="did:web:verifier.example") == _receipt()
    with pytest.raises(JoseError) as exc:
        verify_receipt_jws(with_iss, key.public_key, issuer="did:web:other.example")
    assert exc.value.code == "invalid_receipt_issuer"
    with pytest.raises(JoseError) as exc:
        verify_receipt_jws(token, key.public_key, issuer="did:web:verifier.example")
    assert exc.value.code == "invalid_receipt_issuer"


def test_no_claim_values_in_the_receipt(key) -> None:
    decision = _decision(CheckStatus.PASSED, CheckStatus.FAILED)
    token = sign_receipt(_receipt(decision), key, key.kid)
    text = jose.b64url_decode(token.split(".")[1]).decode("utf-8")
    for value in (NAME, BIRTH_DATE, RRN, "900102", json.dumps(NAME)[1:-1]):
        assert value not in text
        assert value not in token
    payload = _payload(token)
    assert payload["disclosed_claims"] == ["name", "birthDate", "residentRegistrationNumber", "address"]
    assert all(set(c) <= {"id", "status", "code"} for c in payload["checks"])  # check messages stay out


@pytest.mark.parametrize(
    "statuses", [(CheckStatus.PASSED,), (CheckStatus.FAILED,), (CheckStatus.COULD_NOT_RUN,), (CheckStatus.PASSED, CheckStatus.FAILED)]
)
def test_receipt_decision_equals_decision_approved(key, statuses) -> None:
    decision = _decision(*statuses)
    back = verify_receipt_jws(sign_receipt(_receipt(decision), key, key.kid), key.public_key)
    assert back.approved is decision.approved
    assert back.decision == ("approved" if decision.approved else "rejected")
    assert [c["status"] for c in back.checks] == [c.status.value for c in decision.checks]


def test_empty_decision_is_rejected_and_no_checkpoint_is_null(key) -> None:
    receipt = _receipt(Decision(policy="certificate", checks=()), checkpoint=None)
    assert receipt.decision == "rejected"
    token = sign_receipt(receipt, key, key.kid)
    assert _payload(token)["checkpoint"] is None
    assert verify_receipt_jws(token, key.public_key) == receipt


def test_tampered_payload_or_signature_fails(key) -> None:
    token = sign_receipt(_receipt(_decision(CheckStatus.FAILED)), key, key.kid)
    header, payload, signature = token.split(".")
    forged = _payload(token)
    forged["decision"] = "approved"
    forged["checks"] = [{"id": c["id"], "status": "passed"} for c in forged["checks"]]
    forged_payload = jose.b64url_encode(json.dumps(forged, separators=(",", ":")).encode())
    for bad in (
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{jose.b64url_encode(bytes(len(jose.b64url_decode(signature))))}",
    ):
        with pytest.raises(JoseError) as exc:
            verify_receipt_jws(bad, key.public_key)
        assert exc.value.code == "invalid_signature"


def test_wrong_key_fails(key) -> None:
    token = sign_receipt(_receipt(), key, key.kid)
    other = signing_key_from_private(generate_private_key(key.alg))
    with pytest.raises(JoseError) as exc:
        verify_receipt_jws(token, other.public_key)
    assert exc.value.code == "invalid_signature"
    other_type = signing_key_from_private(generate_private_key("ES256" if key.alg == "EdDSA" else "EdDSA"))
    with pytest.raises(JoseError) as exc:
        verify_receipt_jws(token, other_type.public_key)
    assert exc.value.code == "alg_key_mismatch"


@pytest.mark.parametrize("typ", ["JWT", "vc+jwt", "application/decision-receipt+jwt", ""])
def test_wrong_typ_fails(key, typ) -> None:
    token = jose.sign_compact(_receipt().claims(), key, key.kid, typ)
    with pytest.raises(JoseError) as exc:
        verify_receipt_jws(token, key.public_key)
    assert exc.value.code == "invalid_receipt_type"


def _mutations():
    def drop(name):
        return lambda p: p.pop(name)

    def put(name, value):
        return lambda p: p.__setitem__(name, value)

    yield from ((f"missing {n}", drop(n)) for n in ("jti", "iat", "sub", "policy", "decision", "checks",
                                                     "disclosed_claims", "checkpoint"))
    yield "unknown member", put("name", NAME)
    yield "iat as string", put("iat", "1764030615")
    yield "iat as bool", put("iat", True)
    yield "iat negative", put("iat", -1)
    yield "iat float", put("iat", 1.5)
    yield "empty jti", put("jti", "")
    yield "sub not string", put("sub", 7)
    yield "decision unknown", put("decision", "maybe")
    yield "decision list", put("decision", ["approved"])
    yield "approved with failed check", put("checks", [{"id": "a", "status": "failed", "code": "x"}])
    yield "checks not list", put("checks", {"id": "a", "status": "passed"})
    yield "check with message", put("checks", [{"id": "a", "status": "passed", "message": NAME}])
    yield "check without status", put("checks", [{"id": "a"}])
    yield "check status unknown", put("checks", [{"id": "a", "status": "ok"}])
    yield "check not object", put("checks", ["a"])
    yield "claim name not string", put("disclosed_claims", [1])
    yield "claim values object", put("disclosed_claims", {"name": NAME})
    yield "checkpoint extra", put("checkpoint", {"origin": "o", "size": 1, "root_hash": "00" * 32, "x": 1})
    yield "checkpoint root upper hex", put("checkpoint", {"origin": "o", "size": 1, "root_hash": "AB" * 32})
    yield "checkpoint root short", put("checkpoint", {"origin": "o", "size": 1, "root_hash": "00" * 31})
    yield "checkpoint size bool", put("checkpoint", {"origin": "o", "size": True, "root_hash": "00" * 32})
    yield "checkpoint size negative", put("checkpoint", {"origin": "o", "size": -1, "root_hash": "00" * 32})
    yield "checkpoint as string", put("checkpoint", "o 1 00")


@pytest.mark.parametrize("mutate", [m for _, m in _mutations()], ids=[n for n, _ in _mutations()])
def test_strict_payload_shape(key, mutate) -> None:
    payload = _receipt().claims()
    mutate(payload)
    token = jose.sign_compact(payload, key, key.kid, RECEIPT_TYP)
    with pytest.raises(JoseError) as exc:
        verify_receipt_jws(token, key.public_key)
    assert exc.value.code == "invalid_receipt"
    assert NAME not in exc.value.detail


def test_independent_library_verifies_with_public_jwk_only(key) -> None:
    token = sign_receipt(_receipt(), key, key.kid)
    public = {k: v for k, v in key.public_jwk.items() if k != "kid"}
    assert "d" not in public
    key_type = OKPKey if key.alg == "EdDSA" else ECKey
    obj = rfc_jws.deserialize_compact(token, key_type.import_key(public), algorithms=[key.alg])
    assert obj.protected["typ"] == RECEIPT_TYP
    assert json.loads(obj.payload) == _receipt().claims()
    sig = token.rsplit(".", 1)[1]
    flipped = token[: -len(sig)] + ("A" if sig[0] != "A" else "B") + sig[1:]
    with pytest.raises(Exception):
        rfc_jws.deserialize_compact(flipped, key_type.import_key(public), algorithms=[key.alg])


def test_receipt_refuses_naive_time_and_inconsistent_decision() -> None:
    with pytest.raises(JoseError):
        receipt_from_decision(_decision(), request_id="r", tenant_id="t", issued_at=NOW.replace(tzinfo=None),
                              checkpoint=None)
    with pytest.raises(JoseError):
        DecisionReceipt(request_id="r", tenant_id="t", policy="p", decision="approved",
                        checks=({"id": "a", "status": "failed"},), disclosed_claims=(), issued_at=NOW, checkpoint=None)
    with pytest.raises(TypeError):
        receipt_from_decision(_decision(), request_id="r", tenant_id="t", issued_at=NOW,
                              checkpoint={"origin": "o", "size": 1, "root_hash": "00" * 32})  # type: ignore[arg-type]
