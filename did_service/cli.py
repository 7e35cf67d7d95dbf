"""The `did-service` command. Every command reads the same DID_SERVICE_* settings as the server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from did_service import __version__
from did_service.clock import utcnow
from did_service.config import Settings
from did_service.core import strict_json
from did_service.core.credential import CONTEXTS, FORMATS
from did_service.core.residents import COLUMNS as RESIDENT_COLUMNS
from did_service.errors import ConfigurationError, DidServiceError
from did_service.services import tenants, tokens
from did_service.services.container import Services, build_services

EXIT_OK, EXIT_NOT_VERIFIED, EXIT_ERROR = 0, 1, 2


def _services(settings: Settings, *, create: bool = False) -> Services:
    """Services for a command; only `init` and `serve` may create the instance, its KEK and keys."""
    if create:
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
        return build_services(settings, create_keys=True, create_kek=True)
    if not settings.kek_b64 and not settings.kek_file.exists():
        raise ConfigurationError(f"no instance at {settings.instance_dir}: run `did-service init` first")
    return build_services(settings, create_keys=False)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    svc = _services(settings, create=True)
    print(f"instance: {settings.instance_dir}")
    print(f"store: {_redacted(settings.store_url)}")
    print(f"issuer DID: {svc.issuer_did}")
    for key in svc.keyring.keys:
        print(f"key: {key.alg} {svc.issuer_did}#{key.kid}")
    return EXIT_OK


def _redacted(url: str) -> str:
    # Store URLs may carry a Redis password.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if settings.production:
        problems = settings.production_problems()
        if problems:
            for problem in problems:
                print(f"refusing to serve in production: {problem}", file=sys.stderr)
            return EXIT_ERROR
    # Create the KEK and keys once, in the master, before workers fork (production: `init` made the KEK).
    _services(settings, create=not settings.production).store.close()
    from did_service.web.server import run

    run(settings, host=args.host, port=args.port, workers=args.workers)
    return EXIT_OK


MAX_BATCH = 10_000


def cmd_issue(args: argparse.Namespace, settings: Settings) -> int:
    subjects = _read_json(args.subject)
    # A JSON array issues a batch in one durable write: all of them or none.
    batch = subjects if isinstance(subjects, list) else [subjects]
    if not batch or len(batch) > MAX_BATCH or not all(isinstance(s, dict) for s in batch):
        raise DidServiceError(
            f"the subject file must hold a JSON object or an array of 1 to {MAX_BATCH} objects", code="invalid_subject"
        )
    bodies = [_issue_body(args, subject) for subject in batch]
    svc = _services(settings)
    issued = svc.issuance.issue_many(bodies, svc.clock())
    for item in issued:
        # One secured credential per line: a compact form as it is, a Data Integrity document as one-line JSON.
        print(item.secured if isinstance(item.secured, str) else strict_json.dumps_compact(item.secured))
    print(f"issued {len(issued)} credential(s)", file=sys.stderr)
    return EXIT_OK


def _issue_body(args: argparse.Namespace, subject: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "credential": {
            "@context": list(CONTEXTS),
            "type": ["VerifiableCredential", args.type],
            "credentialSubject": subject,
        },
        "options": {"format": args.format},
    }
    if args.valid_until:
        body["credential"]["validUntil"] = args.valid_until
    if args.alg:
        body["options"]["alg"] = args.alg
    return body


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    text = _read_text(args.file).strip()
    value: Any = text
    if text.startswith("{"):
        value = strict_json.loads(text)
        if isinstance(value, dict) and "verifiableCredential" in value:
            value = value["verifiableCredential"]
    report = _services(settings).verify_credential(value)
    _print_json(report.to_dict())
    return EXIT_OK if report.verified else EXIT_NOT_VERIFIED


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    token, record = tokens.create_token(_services(settings).store, args.role, utcnow())
    print(token)
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    tokens.revoke_token(_services(settings).store, args.token, utcnow())
    print(f"revoked {tokens.token_id_of(args.token)}", file=sys.stderr)
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    for record in _services(settings).store.list_tokens():
        state = f"revoked {record.revoked_at.isoformat()}" if record.revoked_at else "active"
        print(f"{record.token_id}\t{record.role}\t{record.created_at.isoformat()}\t{state}")
    return EXIT_OK


def cmd_did_show(args: argparse.Namespace, settings: Settings) -> int:
    _print_json(_services(settings).did_document)
    return EXIT_OK


def cmd_log_audit(args: argparse.Namespace, settings: Settings) -> int:
    from did_service.core.tlog.audit import audit
    from did_service.services.log_sources import HttpLogSource, StoreLogSource
    from did_service.storage import open_store

    if args.url:
        base = args.url.rstrip("/")
        source = HttpLogSource(base if base.endswith("/log/v1") else base + "/log/v1")
    else:
        source = StoreLogSource(open_store(args.store))
    state = Path(args.state) if args.state else None
    since = state.read_text(encoding="utf-8") if state and state.exists() else None
    result = audit(source, args.vkey.strip(), since=since)
    _print_json({"ok": result.ok, "checkpoints": result.checkpoints, "entries": result.entries,
                 "first_bad_index": result.first_bad_index, "problem": result.problem})
    if result.ok and state and result.latest_checkpoint:
        state.write_text(result.latest_checkpoint, encoding="utf-8")
    return EXIT_OK if result.ok else EXIT_NOT_VERIFIED


def cmd_log_key(args: argparse.Namespace, settings: Settings) -> int:
    print(_services(settings).log.identity.vkey)
    return EXIT_OK


def cmd_log_receipt(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch (from this instance's log, or another's with --url) and verify the receipt of the credential in FILE."""
    from did_service.core.tlog.receipt import verify_receipt
    from did_service.core.verifier.secured import read_secured

    text = _read_text(args.file).strip()
    value = strict_json.loads(text) if text.startswith("{") else text
    if isinstance(value, dict) and "verifiableCredential" in value:
        value = value["verifiableCredential"]
    digest = read_secured(value).digest
    if args.url:
        # A third party: the receipt comes from the issuer's log API, the key it must verify under is pinned.
        from did_service.core.tlog.receipt import Receipt
        from did_service.services.log_sources import HttpLogSource

        if not args.vkey:
            raise ConfigurationError("--url needs --vkey: the log key is never taken from the log itself")
        base = args.url.rstrip("/")
        source = HttpLogSource(base if base.endswith("/log/v1") else base + "/log/v1")
        receipt = Receipt.from_json(source.json(f"receipt/{digest}"))
        vkey, origin = args.vkey.strip(), None
    else:
        svc = _services(settings)
        receipt = svc.log.receipt(digest)
        vkey, origin = svc.log.identity.vkey, svc.log.identity.origin
    entry, checkpoint = verify_receipt(receipt, vkey, origin=origin)
    if entry.credential_digest != digest:
        print("error: anchor_mismatch: the receipt is for another credential", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    _print_json({"verified": True, "credential_digest": digest, "tree_size": checkpoint.size, **receipt.to_json()})
    return EXIT_OK


def _status_command(status: str):
    def command(args: argparse.Namespace, settings: Settings) -> int:
        svc = _services(settings)
        _print_json({"credentialId": args.credential_id, "results": svc.status.update(args.credential_id, [status])})
        return EXIT_OK

    return command


def cmd_log_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    print(_services(settings).log.checkpoint().note, end="")
    return EXIT_OK


def cmd_log_resume(args: argparse.Namespace, settings: Settings) -> int:
    reason = _services(settings).log.resume()  # re-checks every published entry first; stays halted if one fails
    print(f"resumed (was halted: {reason})" if reason else "the log was not halted", file=sys.stderr)
    return EXIT_OK


def cmd_key_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from did_service.services.keyring import VERIFIER_ALG, load_kek, rotate_key

    svc = _services(settings)
    if args.verifier:
        # Request objects and decision receipts: the verifier signs with ES256 only.
        did = svc.verifier.did
        key, _ = rotate_key(svc.store, load_kek(settings, create=False), did, VERIFIER_ALG, utcnow(), "verifier")
    else:
        if args.alg is None:
            raise DidServiceError("--alg is required for an issuer key", code="missing_alg")
        did = svc.issuer_did
        key, _ = rotate_key(svc.store, load_kek(settings, create=False), did, args.alg, utcnow())
    print(f"{did}#{key.kid}")
    print("restart `did-service serve` so it signs with the new key", file=sys.stderr)
    return EXIT_OK


def cmd_key_list(args: argparse.Namespace, settings: Settings) -> int:
    for record in _services(settings).store.list_keys():
        print(f"{record.kid}\t{record.purpose}\t{record.alg}\t{record.status}\tadded@{record.log_index}"
              + (f"\tretired@{record.retired_log_index}" if record.retired_log_index is not None else ""))
    return EXIT_OK


def cmd_trust_add(args: argparse.Namespace, settings: Settings) -> int:
    svc = _services(settings)
    added = svc.trust.add(args.issuer, args.type, utcnow())
    print(("trusted" if added else "already trusted") + f": {args.issuer} for {args.type}", file=sys.stderr)
    return EXIT_OK


def cmd_trust_remove(args: argparse.Namespace, settings: Settings) -> int:
    if not _services(settings).trust.remove(args.issuer, args.type):
        print(f"error: trust_entry_not_found: {args.issuer} is not trusted for {args.type} (built-in entries "
              "cannot be removed)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def cmd_trust_list(args: argparse.Namespace, settings: Settings) -> int:
    _print_json(_services(settings).trust.entries())
    return EXIT_OK


def cmd_verifier_create(args: argparse.Namespace, settings: Settings) -> int:
    record, key = tenants.create_tenant(_services(settings).store, args.name, args.role, utcnow())
    print(record.tenant_id)
    print(key)  # alone on the last line, for scripts
    return EXIT_OK


def cmd_verifier_key_create(args: argparse.Namespace, settings: Settings) -> int:
    _, key = tenants.create_api_key(_services(settings).store, args.tenant, utcnow())
    print(key)
    return EXIT_OK


def cmd_verifier_key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    tenants.revoke_api_key(_services(settings).store, args.key, utcnow())
    print(f"revoked {tenants.key_id_of(args.key)}", file=sys.stderr)
    return EXIT_OK


def cmd_verifier_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _services(settings).store
    _print_json([
        {"tenant_id": t.tenant_id, "name": t.name, "role": t.role, "created_at": t.created_at.isoformat(),
         "api_keys": [{"key_id": k.key_id, "created_at": k.created_at.isoformat(),
                       "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                      for k in store.list_api_keys(t.tenant_id)]}
        for t in store.list_tenants()
    ])
    return EXIT_OK


def cmd_verifier_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """Delete decision records past their retention and sealed personal data past its time (for cron)."""
    purged, dropped = _services(settings).verifier.sweep()
    print(json.dumps({"purged_records": purged, "dropped_sealed": dropped}))
    return EXIT_OK


def cmd_residents_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import the registry CSV; write each new resident's login ID, masked RRN and one-time enrollment code to a
    0600 file for the letters (the codes are shown nowhere else, and only their hashes are stored)."""
    import csv
    import os

    svc = _services(settings)
    fd = os.open(args.codes, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        imported = svc.residents.import_registry(_read_text(args.file))
    except BaseException:
        os.close(fd)
        os.unlink(args.codes)
        raise
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["login_id", "masked_rrn", "enrollment_code", "expires_at"])
        for item in imported:
            writer.writerow([item.resident_id, item.masked_rrn, item.enrollment_code, item.code_expires_at.isoformat()])
    print(f"imported {len(imported)} residents; enrollment letters in {args.codes}", file=sys.stderr)
    return EXIT_OK


def cmd_residents_code(args: argparse.Namespace, settings: Settings) -> int:
    """A new one-time enrollment code for a resident whose letter was lost (the old codes stay valid until they
    expire or one is used)."""
    code, expires = _services(settings).residents.new_enrollment_code(args.login_id)
    print(f"{code}\t{expires.isoformat()}")
    return EXIT_OK


def cmd_residents_disable(args: argparse.Namespace, settings: Settings) -> int:
    ended = _services(settings).residents.disable(args.login_id)
    print(f"disabled; {ended} session(s) ended", file=sys.stderr)
    return EXIT_OK


def cmd_wallet_key(args: argparse.Namespace, settings: Settings) -> int:
    """A holder key for trying presentations: the private JWK goes to a 0600 file, the did:key to stdout."""
    import os

    from did_service.core import did as dids
    from did_service.core.keys import generate_private_key, signing_key_from_private

    key = signing_key_from_private(generate_private_key(args.alg))
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(key.jwk.export_private(as_dict=True)) + "\n")
    print(dids.did_key_from_public_key(key.public_key))
    return EXIT_OK


def cmd_wallet_present(args: argparse.Namespace, settings: Settings) -> int:
    """Present an SD-JWT credential: keep the named claims' disclosures and sign a Key Binding JWT."""
    from jwcrypto import jwk

    from did_service.clock import utcnow
    from did_service.core.keys import signing_key_from_private
    from did_service.core.proofs import sd_jwt

    text = _sd_jwt_text(args.credential)
    holder_key = signing_key_from_private(jwk.JWK.from_json(_read_text(args.key)).get_op_key("sign"))
    reveal = [
        tuple(None if part == "*" else int(part) if part.isdigit() else part for part in name.split("/"))
        for name in args.reveal.split(",") if name
    ]
    print(sd_jwt.present(text, reveal=reveal, holder_key=holder_key, audience=args.audience, nonce=args.nonce,
                         now=utcnow()))
    return EXIT_OK


def cmd_wallet_respond(args: argparse.Namespace, settings: Settings) -> int:
    """Answer an OpenID4VP request link (what the bank's QR code holds) with an SD-JWT credential."""
    from jwcrypto import jwk

    from did_service import wallet_client
    from did_service.clock import utcnow
    from did_service.core.keys import signing_key_from_private

    request = wallet_client.read_request(args.request)
    print(f"{request.client_name or request.client_id} asks for: {', '.join(request.claims) or 'no claims'}",
          file=sys.stderr)
    holder_key = signing_key_from_private(jwk.JWK.from_json(_read_text(args.key)).get_op_key("sign"))
    status, answer = wallet_client.respond(request, _sd_jwt_text(args.credential), holder_key, utcnow())
    print(json.dumps({"status": status, "answer": answer}, ensure_ascii=False))
    return EXIT_OK if status == 200 else EXIT_NOT_VERIFIED


def _sd_jwt_text(name: str) -> str:
    text = _read_text(name).strip()
    if text.startswith("{"):
        value = strict_json.loads(text)
        value = value.get("verifiableCredential", value) if isinstance(value, dict) else value
        ident = value.get("id") if isinstance(value, dict) else None
        if not isinstance(ident, str) or not ident.startswith("data:application/dc+sd-jwt,"):
            raise DidServiceError("the file holds no dc+sd-jwt credential", code="unsupported_format")
        text = ident.split(",", 1)[1]
    return text


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_text(encoding="utf-8")


def _read_json(name: str) -> Any:
    try:
        return strict_json.loads(_read_text(name))
    except strict_json.StrictJsonError as exc:
        raise DidServiceError(f"{name}: not acceptable JSON: {exc}", code="invalid_json") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="did-service",
        description="Issue and verify W3C Verifiable Credentials. Settings come from DID_SERVICE_* variables.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create the instance folder, key-encryption key and issuer keys")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="serve the HTTP API with gunicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=2, help="sync worker processes (default 2)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("issue", help="issue credentials; prints each secured credential on its own line")
    p.add_argument("--type", required=True, help="credential type, e.g. ResidentIdentityCredential")
    p.add_argument(
        "--subject", required=True,
        help="JSON file with the credentialSubject, or an array of them for a batch issued all-or-nothing ('-' for stdin)",
    )
    p.add_argument("--format", default="vc+jwt", choices=list(FORMATS),
                   help="vc+jwt (default), dc+sd-jwt (holder key from a did:key/did:jwk subject id), eddsa-rdfc-2022, "
                        "ecdsa-rdfc-2019")
    p.add_argument("--alg", choices=["EdDSA", "ES256"], help="signing algorithm (default DID_SERVICE_DEFAULT_ALG)")
    p.add_argument("--valid-until", help="XML Schema dateTimeStamp, e.g. 2031-01-01T00:00:00Z")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("verify", help="verify a credential; exit 0 only when verified; report JSON on stdout")
    p.add_argument("file", help="file with a compact JWT, an enveloped credential or a verify request ('-' for stdin)")
    p.set_defaults(func=cmd_verify)

    token = sub.add_parser("token", help="manage API bearer tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="create a token; prints only the token")
    p.add_argument("--role", required=True, choices=list(tokens.ROLES))
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("revoke", help="revoke a token, given the token or its id")
    p.add_argument("token")
    p.set_defaults(func=cmd_token_revoke)
    p = token.add_parser("list", help="list token ids, roles and states")
    p.set_defaults(func=cmd_token_list)

    for name, status, text in (("revoke", "revoked", "revoke a credential (permanent)"),
                               ("suspend", "suspended", "suspend a credential"),
                               ("unsuspend", "active", "lift a credential's suspension")):
        p = sub.add_parser(name, help=text)
        p.add_argument("credential_id")
        p.set_defaults(func=_status_command(status))

    logs = sub.add_parser("log", help="the transparency log").add_subparsers(dest="log_command", required=True)
    p = logs.add_parser("audit", help="recompute the whole log, check every checkpoint; exit 1 at the first bad index")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a did_service base URL (or its /log/v1)")
    source.add_argument("--store", help="a store URL (sqlite:///... or redis://...)")
    p.add_argument("--vkey", required=True,
                   help="the log's verifier key, pinned once out of band (never taken from the log being audited)")
    p.add_argument("--state", help="a file remembering the last audited checkpoint: the log must still contain it")
    p.set_defaults(func=cmd_log_audit)
    p = logs.add_parser("key", help="print this instance's log verifier key (C2SP vkey), for auditors to pin")
    p.set_defaults(func=cmd_log_key)
    p = logs.add_parser("receipt", help="fetch and verify the log receipt of a credential (FILE or '-')")
    p.add_argument("file")
    p.add_argument("--url", help="fetch the receipt from this did_service (default: this instance's own store)")
    p.add_argument("--vkey", help="with --url: the log verifier key to verify the receipt under (pinned)")
    p.set_defaults(func=cmd_log_receipt)
    p = logs.add_parser("checkpoint", help="publish what was appended and print the latest signed checkpoint")
    p.set_defaults(func=cmd_log_checkpoint)
    p = logs.add_parser("resume", help="clear a halt after investigating why the log failed verification")
    p.set_defaults(func=cmd_log_resume)

    keys = sub.add_parser("key", help="issuer keys").add_subparsers(dest="key_command", required=True)
    p = keys.add_parser("rotate", help="add a new issuer key for ALG (or a new verifier key) and retire the active "
                                       "one (it stays published)")
    p.add_argument("--alg", choices=["EdDSA", "ES256"])
    p.add_argument("--verifier", action="store_true",
                   help="rotate the verifier's key (request objects, decision receipts) instead of an issuer key")
    p.set_defaults(func=cmd_key_rotate)
    p = keys.add_parser("list", help="list keys, their purpose, state and log positions")
    p.set_defaults(func=cmd_key_list)

    trust = sub.add_parser("trust", help="the verifier's trust registry: which issuers for which types").add_subparsers(
        dest="trust_command", required=True)
    for name, func, text in (("add", cmd_trust_add, "trust an issuer DID for a credential type"),
                             ("remove", cmd_trust_remove, "stop trusting an issuer DID for a credential type")):
        p = trust.add_parser(name, help=text)
        p.add_argument("--issuer", required=True, help="the issuer's DID, e.g. did:web:gov.example")
        p.add_argument("--type", required=True, help="a registered credential type, e.g. DiplomaCredential")
        p.set_defaults(func=func)
    p = trust.add_parser("list", help="every entry as JSON (this service's own issuer is built in)")
    p.set_defaults(func=cmd_trust_list)

    verifier = sub.add_parser("verifier", help="verifier tenants (banks, relying parties) and their API keys")
    verifier_sub = verifier.add_subparsers(dest="verifier_command", required=True)
    p = verifier_sub.add_parser("create", help="register a tenant; prints its id, then its first API key alone on the "
                                "last line")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=list(tenants.ROLES))
    p.set_defaults(func=cmd_verifier_create)
    p = verifier_sub.add_parser("list", help="tenants and their key ids as JSON (no keys, no hashes)")
    p.set_defaults(func=cmd_verifier_list)
    verifier_key = verifier_sub.add_parser("key", help="a tenant's API keys").add_subparsers(
        dest="verifier_key_command", required=True)
    p = verifier_key.add_parser("create", help="a new API key for a tenant; prints only the key")
    p.add_argument("--tenant", required=True, metavar="ID")
    p.set_defaults(func=cmd_verifier_key_create)
    p = verifier_key.add_parser("revoke", help="revoke an API key, given its id or the key")
    p.add_argument("key", metavar="KEY_ID")
    p.set_defaults(func=cmd_verifier_key_revoke)
    p = verifier_sub.add_parser("sweep", help="delete decision records past retention and sealed data past its time")
    p.set_defaults(func=cmd_verifier_sweep)

    residents = sub.add_parser("residents", help="the resident registry").add_subparsers(
        dest="residents_command", required=True)
    p = residents.add_parser("import", help="import a registry CSV (all or nothing); enrollment codes go to --codes")
    p.add_argument("file", help="UTF-8 CSV with the columns " + ", ".join(RESIDENT_COLUMNS))
    p.add_argument("--codes", required=True, help="new file (mode 0600) for the letters: login ID, masked RRN, code")
    p.set_defaults(func=cmd_residents_import)
    p = residents.add_parser("code", help="a new one-time enrollment code for a lost letter; prints code and expiry")
    p.add_argument("login_id")
    p.set_defaults(func=cmd_residents_code)
    p = residents.add_parser("disable", help="disable a resident: no login or collecting, every session ends")
    p.add_argument("login_id")
    p.set_defaults(func=cmd_residents_disable)

    wallet = sub.add_parser("wallet", help="a minimal holder, to try presentations").add_subparsers(
        dest="wallet_command", required=True)
    p = wallet.add_parser("key", help="create a holder key (private JWK in --out, mode 0600); prints its did:key")
    p.add_argument("--alg", choices=["EdDSA", "ES256"], default="EdDSA")
    p.add_argument("--out", required=True, help="file for the private JWK (must not exist)")
    p.set_defaults(func=cmd_wallet_key)
    p = wallet.add_parser("present", help="print an SD-JWT presentation with a Key Binding JWT")
    p.add_argument("--credential", required=True, help="the issue response, an enveloped credential or the SD-JWT")
    p.add_argument("--key", required=True, help="the holder's private JWK file (from `wallet key`)")
    p.add_argument("--reveal", required=True,
                   help="claims to disclose, comma-separated; nested with '/', every array element with '*' "
                        "(e.g. familyName,givenName,birthDate or household/*)")
    p.add_argument("--audience", required=True, help="the verifier (KB-JWT aud), e.g. https://bank.example")
    p.add_argument("--nonce", required=True, help="the verifier's nonce for this presentation")
    p.set_defaults(func=cmd_wallet_present)
    p = wallet.add_parser("respond", help="answer an OpenID4VP request link (the bank's QR code) with a credential")
    p.add_argument("--request", required=True, help="the openid4vp://?client_id=...&request_uri=... link")
    p.add_argument("--credential", required=True, help="the issue response, an enveloped credential or the SD-JWT")
    p.add_argument("--key", required=True, help="the holder's private JWK file (from `wallet key`)")
    p.set_defaults(func=cmd_wallet_respond)

    did = sub.add_parser("did", help="the issuer's DID").add_subparsers(dest="did_command", required=True)
    p = did.add_parser("show", help="print the issuer's DID document")
    p.set_defaults(func=cmd_did_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.func(args, settings)
    except DidServiceError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return EXIT_ERROR
    except strict_json.StrictJsonError as exc:
        print(f"error: invalid_json: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_ERROR
