"""The verifier's status check against lists that lie, break or cannot be fetched: never a pass."""

from __future__ import annotations

import base64
import zlib
from datetime import timedelta

import pytest

from did_service.core import did as dids
from did_service.core import status_list
from did_service.core.credential import jwt_claims
from did_service.core.did_document import jwk_method_id
from did_service.core.keys import generate_private_key, signing_key_from_private
from did_service.core.proofs.jose import sign_compact
from did_service.core.verifier.verify import verify_credential
from tests.core.test_verify import ED, ISSUER, NOW, REGISTRY, RESOLVE, credential

LIST_URL = "https://issuer.example/status/abc"
SIZE = status_list.MIN_ENTRIES


def list_token(bits: bytes, *, purpose="revocation", key=ED, issuer=ISSUER, url=LIST_URL, encoded: str | None = None) -> str:
    vc = status_list.list_credential(url, issuer, purpose, bits, valid_from=NOW - timedelta(hours=1), valid_until=NOW + timedelta(days=1))
    if encoded is not None:
        vc["credentialSubject"]["encodedList"] = encoded
    kid = jwk_method_id(ISSUER, key) if issuer == ISSUER else issuer + "#" + issuer.split(":")[2]
    return sign_compact(jwt_claims(vc, NOW), key, kid, "vc+jwt")


def credential_token(index: int, purpose="revocation", url=LIST_URL) -> str:
    vc = credential(credentialStatus=[status_list.status_entry(url, purpose, index)])
    return sign_compact(jwt_claims(vc, NOW), ED, jwk_method_id(ISSUER, ED), "vc+jwt")


def run(token: str, fetch, resolve=RESOLVE):
    report = verify_credential(token, resolve=resolve, registry=REGISTRY, trusted_issuers={ISSUER}, now=NOW, status_lists=fetch)
    status = next(c for c in report.checks if c.id == "status")
    return report, status


def bits_with(*indexes: int, size: int = SIZE) -> bytes:
    bits = bytearray(size // 8)
    for i in indexes:
        status_list.set_bit(bits, i, 1)
    return bytes(bits)


def test_clear_bit_passes_and_set_bit_fails():
    report, status = run(credential_token(77), lambda url: list_token(bits_with(5)))
    assert report.verified and status.status.value == "passed"
    report, status = run(credential_token(77), lambda url: list_token(bits_with(77)))
    assert not report.verified and (status.status.value, status.code) == ("failed", "revoked")
    report, status = run(credential_token(77, "suspension"), lambda url: list_token(bits_with(77), purpose="suspension"))
    assert (status.status.value, status.code) == ("failed", "suspended")


def test_list_signed_by_someone_else_fails():
    other = signing_key_from_private(generate_private_key("EdDSA"))
    other_did = dids.did_key_from_public_key(other.public_key)
    _, status = run(credential_token(1), lambda url: list_token(bits_with(), key=other, issuer=other_did))
    assert (status.status.value, status.code) == ("failed", "status_verification_error")


def test_list_with_a_forged_signature_fails():
    token = list_token(bits_with())
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{'A' * len(signature)}"
    _, status = run(credential_token(1), lambda url: forged)
    assert (status.status.value, status.code) == ("failed", "status_verification_error")


def test_purpose_mismatch_fails():
    _, status = run(credential_token(1), lambda url: list_token(bits_with(), purpose="suspension"))
    assert (status.status.value, status.code) == ("failed", "status_verification_error")


def test_list_served_at_another_url_fails():
    _, status = run(credential_token(1), lambda url: list_token(bits_with(), url="https://issuer.example/status/other"))
    assert status.status.value == "failed"


def test_short_list_fails():
    short = status_list.encode_bits(bytes(1024))
    _, status = run(credential_token(1), lambda url: list_token(bits_with(), encoded=short))
    assert (status.status.value, status.code) == ("failed", "status_list_length_error")


def test_gzip_bomb_fails_in_bounded_time():
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64)) + compressor.flush()  # 64 MiB of zeros


    encoded = "u" + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode()
    _, status = run(credential_token(1), lambda url: list_token(bits_with(), encoded=encoded))
    assert status.status.value == "failed" and status.code == "status_list_too_large"


def test_index_out_of_range_fails():
    _, status = run(credential_token(SIZE + 5), lambda url: list_token(bits_with()))
    assert (status.status.value, status.code) == ("failed", "range_error")


def test_unreachable_list_could_not_run_and_is_not_verified():
    def unreachable(url):
        raise status_list.StatusListError("connection refused", code="status_retrieval_error")

    report, status = run(credential_token(1), unreachable)
    assert not report.verified and (status.status.value, status.code) == ("could_not_run", "status_retrieval_error")


@pytest.mark.parametrize("entry", [None, {}, {"type": "BitstringStatusListEntry"}, [{"type": "StatusList2021Entry"}], "x"])
def test_malformed_entries_fail(entry):
    vc = credential(credentialStatus=entry)
    token = sign_compact(jwt_claims(vc, NOW), ED, jwk_method_id(ISSUER, ED), "vc+jwt")
    report, status = run(token, lambda url: list_token(bits_with()))
    assert not report.verified and status.status.value == "failed"


def test_every_entry_is_checked():
    vc = credential(credentialStatus=[status_list.status_entry(LIST_URL, "revocation", 3),
                                      status_list.status_entry(LIST_URL + "s", "suspension", 9)])
    token = sign_compact(jwt_claims(vc, NOW), ED, jwk_method_id(ISSUER, ED), "vc+jwt")
    lists = {LIST_URL: list_token(bits_with()), LIST_URL + "s": list_token(bits_with(9), purpose="suspension", url=LIST_URL + "s")}
    report, status = run(token, lists.__getitem__)
    assert (status.status.value, status.code) == ("failed", "suspended")
