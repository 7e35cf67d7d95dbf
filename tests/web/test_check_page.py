"""The public certificate check page: paste or upload, a verdict with every check, clear errors, nothing kept."""

from __future__ import annotations

import hashlib
import io
import logging
import re

from tests.support import issue_body, load_subject

DOCUMENT = "공증 위임장 원본".encode()


def token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/check").get_data(as_text=True)).group(1)


def issue(client, auth, credential_type, subject=None, **options):
    response = client.post("/credentials/issue", json=issue_body(credential_type, subject, **options), headers=auth)
    assert response.status_code == 201
    return response.get_data(as_text=True)  # the issue response, as a holder would save it


def test_a_pasted_diploma_is_genuine_and_every_check_is_listed(client, auth):
    saved = issue(client, auth, "DiplomaCredential")
    page = client.post("/check", data={"csrf_token": token(client), "credential": saved}).get_data(as_text=True)
    assert "진본이며 유효합니다" in page
    for check in ("signature", "status", "anchored", "credential_type"):
        assert f"<code>{check}</code>" in page
    graduate = load_subject("DiplomaCredential")["graduate"]
    assert graduate["givenName"] not in page  # the verdict, not the person's claims


def test_an_uploaded_notarized_document_is_compared_with_its_digest(client, auth):
    subject = load_subject("NotarizedDocumentCredential")
    subject["document"] = {**subject["document"], "digestSha256": hashlib.sha256(DOCUMENT).hexdigest()}
    saved = issue(client, auth, "NotarizedDocumentCredential", subject, format="eddsa-rdfc-2022").encode()
    good = client.post("/check", data={"csrf_token": token(client), "file": (io.BytesIO(saved), "vc.json"),
                                       "document": (io.BytesIO(DOCUMENT), "doc.pdf")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "진본이며 유효합니다" in good and "document_digest" in good
    bad = client.post("/check", data={"csrf_token": token(client), "file": (io.BytesIO(saved), "vc.json"),
                                      "document": (io.BytesIO(DOCUMENT + b"!"), "doc.pdf")},
                      content_type="multipart/form-data").get_data(as_text=True)
    assert "인정할 수 없습니다" in bad and "document_digest_mismatch" in bad


def test_bad_input_gets_a_clear_message_in_the_users_language(client, caplog):
    caplog.set_level(logging.DEBUG)
    cases = [({"credential": ""}, "붙여 넣거나"), ({"credential": "{not json"}, "읽을 수 있는 증명서가 아닙니다"),
             ({"file": (io.BytesIO(b"x" * (256 * 1024 + 1)), "big.json")}, "너무 큽니다"),
             ({"file": (io.BytesIO(b"\xff\xfe\x00"), "odd.bin")}, "읽을 수 있는 증명서가 아닙니다")]
    for data, message in cases:
        response = client.post("/check", data={"csrf_token": token(client), **data}, content_type="multipart/form-data")
        assert response.status_code == 400 and message in response.get_data(as_text=True), data
    english = client.post("/check", data={"csrf_token": token(client), "credential": ""},
                          headers={"Accept-Language": "en"})
    assert "Paste a credential or choose its file." in english.get_data(as_text=True)
    nonsense = client.post("/check", data={"csrf_token": token(client), "credential": "홍길동 900101-1234567"})
    assert nonsense.status_code == 200 and "인정할 수 없습니다" in nonsense.get_data(as_text=True)
    assert "900101-1234567" not in caplog.text and "홍길동" not in caplog.text


def test_a_post_without_its_token_is_refused(client):
    assert client.post("/check", data={"credential": "x"}).status_code == 400
