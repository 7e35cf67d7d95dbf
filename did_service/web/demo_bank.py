"""A small demo bank at /demo/bank that opens accounts remotely through the verifier, as a bank's back end would.

The bank is an ordinary verifier tenant ("Jeju Demo Bank", role ``financial-institution``). Its pages do what a
bank's back end does over HTTP, through the same service calls the /verifier/v1 endpoints make: the stored API key
is authenticated with ``authenticate_tenant`` on every call (so the key checks and the per-key rate limit apply
exactly as for a Bearer request), then ``verifier.create_request``, ``verifier.result`` and
``verifier.add_evidence`` run with the tenant that key belongs to.

Where the API key lives, so that every gunicorn worker (and every restart) acts as the same bank: the tenant is
registered once, on first use, and its key is written to ``<instance>/demo_bank.key`` *sealed* (AES-256-GCM under
a key derived by HKDF from the instance's key-encryption key, bound to the tenant id), never in clear and never in
the store (which keeps only the key's hash, as for any tenant). The file is mode 0600. It is written to a
temporary file opened with O_EXCL, fsynced, then hard-linked into place: the link either makes a complete file
appear or fails because one exists. When two workers race on the first use, the loser revokes the key it just
made and reads the winner's file; its extra tenant is left without a usable key. Each process keeps the opened
key in memory after the first read.

A key file the store no longer accepts (the store was replaced, the key revoked) or that the KEK cannot open is
not replaced on its own, which could split the workers between two banks: the demo answers 503 and logs that the
operator should delete the file (a new tenant is then registered on the next use).

Nothing typed into the application form (names, birth date) is logged, nor any returned claim.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
import stat
import threading
import unicodedata
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from did_service.core.oid4vp.request import deep_link
from did_service.core.residents import mask_rrn
from did_service.core.sealed import SealError, derive_key, open_sealed, seal
from did_service.errors import BadRequest, DidServiceError, NotFound, Unauthorized, Unprocessable
from did_service.services.keyring import load_kek
from did_service.services.tenants import authenticate_tenant, create_tenant, revoke_api_key
from did_service.services.verifier import ACCOUNT_OPENING, NotYourRequest, RequestNotFound, TransactionExpired
from did_service.storage.base import TenantRecord
from did_service.web.accounts import current_account, presession_cookie_name
from did_service.web.extensions import services

log = logging.getLogger(__name__)
bp = Blueprint("demo_bank", __name__)

BANK_NAME = "Jeju Demo Bank"
BANK_ROLE = "financial-institution"
KEY_FILE = "demo_bank.key"
_SEAL_PURPOSE = "demo bank api key"
EVIDENCE_SOURCE = "demo-video-desk"
NAME_MAX = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
KST = timezone(timedelta(hours=9))
_lock = threading.Lock()


class DemoBankUnavailable(DidServiceError):
    code = "demo_bank_unavailable"
    status = 503
    title = "The demo bank is not available"


# --- the bank's API key ----------------------------------------------------------------------------------------

def key_path() -> Path:
    return Path(services().settings.instance_dir) / KEY_FILE


def _seal_key() -> bytes:
    return derive_key(load_kek(services().settings, create=False), _SEAL_PURPOSE)


def _read_key_file(path: Path) -> str:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("the demo bank key file is readable by other users; chmod 600 it")
    try:
        stored = json.loads(path.read_text(encoding="ascii"))
        return open_sealed(_seal_key(), stored["tenant_id"], base64.b64decode(stored["sealed_key"], validate=True))
    except (ValueError, KeyError, TypeError, SealError) as exc:
        log.error("the demo bank key file %s cannot be opened (%s); delete it to register the bank again",
                  path, type(exc).__name__)
        raise DemoBankUnavailable("the demo bank's key file cannot be opened") from exc


def _register(path: Path) -> str:
    """Register the bank and write its sealed key; if another worker wrote the file first, use that one."""
    svc = services()
    tenant, key = create_tenant(svc.store, BANK_NAME, BANK_ROLE, svc.clock())
    content = json.dumps({"tenant_id": tenant.tenant_id,
                          "sealed_key": base64.b64encode(seal(_seal_key(), tenant.tenant_id, key)).decode("ascii")})
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(content + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic and never overwrites: a complete file or FileExistsError
        except FileExistsError:
            revoke_api_key(svc.store, key, svc.clock())
            log.info("the demo bank was registered by another worker first; using its key")
            return _read_key_file(path)
    finally:
        temporary.unlink(missing_ok=True)
    log.info("the demo bank was registered as verifier tenant %s", tenant.tenant_id)
    return key


def bank_key() -> str:
    cache = current_app.extensions.setdefault("demo_bank", {})
    if "key" not in cache:
        with _lock:
            if "key" not in cache:
                path = key_path()
                cache["key"] = _read_key_file(path) if path.exists() else _register(path)
    return cache["key"]


def bank() -> TenantRecord:
    """The bank's tenant, found by authenticating its key as the API does (key checks and rate limit)."""
    svc = services()
    try:
        tenant, _ = authenticate_tenant(svc.store, f"Bearer {bank_key()}", svc.clock(), svc.settings.verifier_rate_limit)
    except Unauthorized as exc:
        log.error("the demo bank's stored key is refused (%s); delete %s to register the bank again",
                  exc.code, key_path())
        raise DemoBankUnavailable("the demo bank's key is refused") from exc
    return tenant


# --- forms -------------------------------------------------------------------------------------------------------

def csrf_ok() -> bool:
    """The same check as the resident forms: the session's token when logged in, else the pre-session's."""
    sessions = services().sessions
    token = request.form.get("csrf_token")
    account = current_account()
    if account is not None and sessions.check_csrf(account.session.session_id, token):
        return True
    return sessions.check_presession_csrf(request.cookies.get(presession_cookie_name()), token)


def csrf_refused(retry_url: str):
    return render_template("portal/form_error.html", retry_url=retry_url), 400


def _field(name: str) -> str:
    value = request.form.get(name, "")
    return value if isinstance(value, str) else ""


def _name(value: str) -> str | None:
    value = unicodedata.normalize("NFC", value.strip())
    if not value or len(value) > NAME_MAX or _CONTROL.search(value):
        return None
    return value


def _birth_date(value: str) -> str | None:
    value = value.strip()
    if not _DATE.fullmatch(value):
        return None
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return None
    if born.year < 1900 or born > services().clock().date():
        return None
    return value


# --- pages -------------------------------------------------------------------------------------------------------

@bp.route("/demo/bank", methods=["GET", "POST"])
def application():
    blank = {"family_name": "", "given_name": "", "birth_date": ""}
    if request.method == "GET":
        return render_template("demo/bank.html", form=blank, errors=[])
    if not csrf_ok():
        return csrf_refused(url_for(".application"))
    typed = {name: _field(name) for name in blank}
    shown = {name: value if len(value) <= NAME_MAX else "" for name, value in typed.items()}
    family, given, born = _name(typed["family_name"]), _name(typed["given_name"]), _birth_date(typed["birth_date"])
    errors = [error for error, ok in (("family_name", family), ("given_name", given), ("birth_date", born)) if not ok]
    if errors:
        return render_template("demo/bank.html", form=shown, errors=errors)
    tenant = bank()
    body = {"policy": ACCOUNT_OPENING, "application": {"familyName": family, "givenName": given, "birthDate": born}}
    try:
        created = services().verifier.create_request(tenant, body)
    except (BadRequest, Unprocessable) as exc:  # the verifier's own check of the application (never with the values)
        log.info("the demo bank's request was refused (%s)", exc.code)
        return render_template("demo/bank.html", form=shown, errors=["application"])
    log.info("the demo bank created an account-opening request")
    return redirect(url_for(".request_status", request_id=created.body["id"]), code=303)


def _result(tenant: TenantRecord, request_id: str) -> dict[str, Any]:
    try:
        return services().verifier.result(tenant, request_id)
    except (RequestNotFound, NotYourRequest) as exc:  # for this bank, another bank's request does not exist
        raise NotFound("no such request at this bank") from exc


@bp.get("/demo/bank/requests/<request_id>")
def request_status(request_id: str):
    svc = services()
    tenant = bank()
    result = _result(tenant, request_id)
    link = deep_link(svc.verifier.client_id(tenant.tenant_id),
                     f"{svc.settings.public_url}/oid4vp/requests/{result['id']}")
    decision = result.get("decision")
    claims = _shown_claims(decision["returnedClaims"]) if decision else []
    return render_template(
        "demo/status.html", result=result, decision=decision, claims=claims,
        qr_png_url=url_for("verifier_api.request_qr", request_id=result["id"]), deep_link=link,
        wallet_url="/wallet/present?" + urlencode({"request": link}),
        video_recorded=any(e["method"] == "video_call" and e["succeeded"] for e in result["evidence"]),
        evidence_error=request.args.get("evidence_error") == "1", expires_text=_korea_time(result["expires_at"]),
    )


@bp.post("/demo/bank/requests/<request_id>/video-call")
def video_call(request_id: str):
    """Report a successful video call check (the demo's second method); the verifier decides again."""
    status_url = url_for(".request_status", request_id=request_id)
    if not csrf_ok():
        return csrf_refused(status_url)
    tenant = bank()
    _result(tenant, request_id)  # 404 for an unknown request before anything else
    evidence = {"method": "video_call", "source": EVIDENCE_SOURCE, "succeeded": True,
                "performedAt": services().clock().astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
    try:
        services().verifier.add_evidence(tenant, request_id, evidence)
    except (BadRequest, Unprocessable, TransactionExpired) as exc:
        log.info("the demo bank's evidence was refused (%s)", exc.code)
        return redirect(url_for(".request_status", request_id=request_id, evidence_error=1), code=303)
    log.info("the demo bank recorded a video call check")
    return redirect(status_url, code=303)


def _korea_time(iso: str) -> str:
    """An RFC 3339 instant as the bank's customers read it: Korea time, to the second."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(KST)
    return moment.strftime("%Y-%m-%d %H:%M:%S KST")


def _shown_claims(claims: dict[str, Any]) -> list[tuple[str, str]]:
    """(claim name, text) in a fixed order; the RRN masked even though this bank may read it."""
    order = ["familyName", "givenName", "birthDate", "residentRegistrationNumber"]
    out = []
    for name in sorted(claims, key=lambda n: (order.index(n) if n in order else len(order), n)):
        value = claims[name]
        if name == "residentRegistrationNumber":
            try:
                text = mask_rrn(value) if isinstance(value, str) else "******"
            except ValueError:
                text = "******"
        else:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append((name, text))
    return out
