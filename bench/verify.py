"""End-to-end verification of a holder-bound SD-JWT presentation under the account-opening policy (issue 6, item 8),
beside the raw verify rates of the signatures involved, measured in the same run.

    .venv/bin/python bench/verify.py [--quick] [--store sqlite|redis] [--count 2000] [--seconds 3]
                                     [--workers 2] [--clients 4] [--no-http] [--profile]

1. In process (target: >= 0.35x the raw single-signature Ed25519 verify rate of the same run).
   Baselines: `cryptography` Ed25519 and ECDSA P-256 (ES256) verify of one JWS signing input (the credential's
   issuer-signed part), and the "two signatures" rate 1/(1/ed + 1/es): a holder-bound presentation carries an
   EdDSA issuer signature and an ES256 key binding JWT.
   Measured: VerifierService.respond(request_id, form) on --count requests created and presentations built
   beforehand (neither is timed). The timed part is exactly the wallet's answer: parse the form, verify the
   SD-JWT (issuer signature, disclosures, KB-JWT signature, nonce/audience/sd_hash), the status list from a warm
   cache, DCQL, minimal disclosure, the account-opening policy, receipt signing (ES256), sealing the returned
   claims and the transaction swap (the nonce is consumed once) in the store. --store redis runs it on Redis in
   a namespace of its own (deleted afterwards).
2. Over HTTP (target: complete flows/s >= 0.20x the same server's /healthz rate, same run): a real
   `did-service serve --workers N` (gunicorn sync workers, SQLite), --clients threads with one http.client
   connection each (asked to stay open; gunicorn's sync workers close every connection after its response, so
   http.client reopens it: every request, /healthz included, pays a TCP connect). A flow is: POST /verifier/v1/requests, GET the request_uri, build the
   presentation for its nonce and client_id (client work), POST the direct_post form, GET the result.
   Reported twice: complete flows (presentation building included, as a wallet population would load the
   machine: client and server share the two cores), and flows with the presentation building excluded
   (phased: requests created and fetched, presentations built untimed, then answered and read).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402

from did_service.clock import utcnow  # noqa: E402
from did_service.config import Settings  # noqa: E402
from did_service.core import keys as keylib  # noqa: E402
from did_service.core.did import did_jwk_from_public_jwk  # noqa: E402
from did_service.core.proofs import jose, sd_jwt  # noqa: E402
from did_service.services.container import build_services  # noqa: E402
from did_service.services.tenants import authenticate_tenant, create_tenant  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = ROOT / "tests" / "fixtures" / "subjects" / "ResidentIdentityCredential.json"
DID_SERVICE = str(Path(sys.executable).with_name("did-service"))
BANK_CLAIMS = ["familyName", "givenName", "birthDate", "residentRegistrationNumber"]
REVEAL = [(name,) for name in BANK_CLAIMS]


def rate(fn: Callable[[], object], seconds: float) -> float:
    for _ in range(50):
        fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        count += 20
    return count / elapsed


def issue_body(holder_did: str) -> dict[str, Any]:
    subject = {**json.loads(SUBJECT.read_text(encoding="utf-8")), "residentRegistrationNumber": "900101-1234567",
               "id": holder_did}
    return {"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"],
                           "type": ["VerifiableCredential", "ResidentIdentityCredential"],
                           "credentialSubject": subject},
            "options": {"format": "dc+sd-jwt"}}


def sd_text(vc: Any) -> str:
    return vc["id"].split(",", 1)[1] if isinstance(vc, dict) else vc


def present(sd: str, holder: Any, request: dict[str, Any]) -> dict[str, str]:
    """The wallet's direct_post form for a request object's payload (or the same fields)."""
    presentation = sd_jwt.present(sd, reveal=REVEAL, holder_key=holder, audience=request["client_id"],
                                  nonce=request["nonce"], now=datetime.now(timezone.utc))
    qid = request["dcql_query"]["credentials"][0]["id"]
    return {"vp_token": json.dumps({qid: [presentation]}), "state": request["state"]}


# --- raw baselines ---------------------------------------------------------------------------------------------


def raw_rates(message: bytes, seconds: float) -> tuple[float, float]:
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_sig, ed_pub = ed.sign(message), ed.public_key()
    es = ec.generate_private_key(ec.SECP256R1())
    es_sig, es_pub = es.sign(message, ec.ECDSA(hashes.SHA256())), es.public_key()
    algorithm = ec.ECDSA(hashes.SHA256())
    ed_rate = rate(lambda: ed_pub.verify(ed_sig, message), seconds)
    es_rate = rate(lambda: es_pub.verify(es_sig, message, algorithm), seconds)
    return ed_rate, es_rate


def commit_floor(folder: Path, seconds: float) -> float:
    """One small durable SQLite transaction with the store's pragmas (WAL, synchronous=FULL), as bench/issue_verify.py."""
    import sqlite3

    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (v TEXT)")

    def commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES ('x')")
        conn.execute("COMMIT")

    try:
        return rate(commit, seconds)
    finally:
        conn.close()


# --- 1. in process ---------------------------------------------------------------------------------------------


def in_process(args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    environ = {"DID_SERVICE_INSTANCE_DIR": tmp, "DID_SERVICE_VERIFIER_RATE_LIMIT": "1000000"}
    namespace = None
    if args.store == "redis":
        namespace = f"did_service_bench_{uuid.uuid4().hex}"
        environ["DID_SERVICE_STORE_URL"] = args.redis_url + ("&" if "?" in args.redis_url else "?") + \
            urlencode({"namespace": namespace})
    svc = build_services(Settings.from_env(environ))
    try:
        holder = keylib.signing_key_from_private(keylib.generate_private_key("ES256"))
        issued = svc.issuance.issue(issue_body(did_jwk_from_public_jwk(holder.public_jwk)), utcnow())
        sd = sd_text(issued.verifiable_credential)
        signing_input = sd.split("~", 1)[0].rsplit(".", 1)[0].encode()
        tenant, api_key = create_tenant(svc.store, "Bench Bank", "financial-institution", utcnow())
        verifier = svc.verifier

        def prepare(count: int) -> tuple[list[str], list[dict[str, str]], float, float]:
            ids, requests = [], []
            start = time.perf_counter()
            for _ in range(count):
                created = verifier.create_request(tenant, {"policy": "account_opening"})
                request_id = created.body["id"]
                ids.append(request_id)
                requests.append(jose.parse_compact(verifier.request_object(request_id)).payload)
            create_s = time.perf_counter() - start
            start = time.perf_counter()
            forms = [present(sd, holder, r) for r in requests]
            return ids, forms, create_s, time.perf_counter() - start

        # Warm: the status list token cached, the checkpoint and key ring read, code paths hot.
        ids, forms, _, _ = prepare(50)
        for request_id, form in zip(ids, forms):
            assert verifier.respond(request_id, form) == {}
        decided = verifier.result(tenant, ids[0])
        assert decided["status"] == "decided" and decided["decision"]["disclosedClaims"], decided

        ed_rate, es_rate = raw_rates(signing_input, args.seconds)
        ids, forms, create_s, present_s = prepare(args.count)
        # For the breakdown: the presentation's verification alone (it consumes nothing, so the same
        # presentations are answered afterwards), and one durable commit of the store (SQLite: the floor under
        # the transaction swap).
        client_id = verifier.client_id(tenant.tenant_id)
        checks = [(json.loads(f["vp_token"])["ResidentIdentityCredential"][0],
                   jose.parse_compact(verifier.request_object(i)).payload["nonce"]) for i, f in zip(ids, forms)]
        start = time.perf_counter()
        for presentation, nonce in checks:
            svc.verify_presentation(presentation, challenge=nonce, domain=client_id)
        verify_only = len(checks) / (time.perf_counter() - start)
        floor = commit_floor(Path(tmp), args.seconds) if args.store == "sqlite" else float("nan")
        # Every tenant API call (create, read result) first authenticates its key and counts it in the store.
        authorization = f"Bearer {api_key}"
        auth = rate(lambda: authenticate_tenant(svc.store, authorization, utcnow(), 10**9), args.seconds)
        profiler = cProfile.Profile() if args.profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        for request_id, form in zip(ids, forms):
            verifier.respond(request_id, form)
        if profiler:
            profiler.disable()
        respond_s = time.perf_counter() - start
        assert verifier.result(tenant, ids[-1])["status"] == "decided"
        if profiler:
            print(f"cProfile of {args.count} respond() calls ({args.store}), top 25 by cumulative time:")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        return {"ed": ed_rate, "es": es_rate, "respond": args.count / respond_s,
                "create": args.count / create_s, "present": args.count / present_s,
                "verify_only": verify_only, "floor": floor, "auth": auth,
                "message": len(signing_input)}
    finally:
        svc.store.close()
        if namespace is not None:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            try:
                keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
                for i in range(0, len(keys), 1000):
                    client.delete(*keys[i:i + 1000])
            finally:
                client.close()


# --- 2. over HTTP ----------------------------------------------------------------------------------------------


class Client:
    """One connection per thread (reopened by http.client whenever the server closes it)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             expect: int = 200) -> bytes:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise AssertionError(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    def close(self) -> None:
        self.conn.close()


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROUTES = (("POST", "/verifier/v1/requests", "create request"), ("GET", "/oid4vp/requests/", "request object"),
          ("POST", "/oid4vp/responses/", "direct_post answer"), ("GET", "/verifier/v1/requests/", "read result"),
          ("GET", "/healthz", "healthz"))


def server_times(log_path: Path) -> dict[str, float]:
    """Mean server time (ms) per route from gunicorn's access log ('%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss')."""
    total: dict[str, list[float]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        match = re.search(r'"(GET|POST) (\S+)" \d+ \S+ ([0-9.]+)s$', line)
        if not match:
            continue
        method, path, seconds = match.group(1), match.group(2), float(match.group(3))
        for route_method, prefix, name in ROUTES:
            if method == route_method and (path == prefix or (prefix.endswith("/") and path.startswith(prefix))):
                total.setdefault(name, []).append(seconds)
                break
    return {name: 1000 * sum(values) / len(values) for name, values in total.items()}


def over_http(args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "DID_SERVICE_INSTANCE_DIR": str(Path(tmp) / "http-instance"),
           "DID_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{port}", "DID_SERVICE_VERIFIER_RATE_LIMIT": "1000000"}
    env.pop("DID_SERVICE_STORE_URL", None)
    log_path = Path(tmp) / "server.log"
    with open(log_path, "w") as server_log:
        process = subprocess.Popen([DID_SERVICE, "serve", "--port", str(port), "--workers", str(args.workers)],
                                   cwd=tmp, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process)

        def cli(*argv: str) -> str:
            done = subprocess.run([DID_SERVICE, *argv], env=env, cwd=tmp, capture_output=True, text=True,
                                  timeout=120, check=True)
            return done.stdout.strip().splitlines()[-1]

        api_key = cli("verifier", "create", "--name", "Bench", "--role", "financial-institution")
        token = cli("token", "create", "--role", "issuer")
        holder = keylib.signing_key_from_private(keylib.generate_private_key("ES256"))
        setup = Client(port)
        issued = json.loads(setup.call("POST", "/credentials/issue",
                                       json.dumps(issue_body(did_jwk_from_public_jwk(holder.public_jwk))).encode(),
                                       {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                       expect=201))
        setup.close()
        sd = sd_text(issued["verifiableCredential"])
        tenant = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        create_body = json.dumps({"policy": "account_opening"}).encode()
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        clients = [Client(port) for _ in range(args.clients)]
        every_client = list(clients)
        local = threading.local()
        pool = ThreadPoolExecutor(args.clients, initializer=lambda: setattr(local, "client", clients.pop()))

        def start_flow() -> tuple[str, dict[str, Any]]:
            client = local.client
            created = json.loads(client.call("POST", "/verifier/v1/requests", create_body, tenant, expect=201))
            request_uri = parse_qs(urlsplit(created["deep_link"]).query)["request_uri"][0]
            token_text = client.call("GET", urlsplit(request_uri).path).decode()
            return created["id"], jose.parse_compact(token_text).payload

        def finish_flow(request_id: str, request: dict[str, Any], form: dict[str, str]) -> None:
            client = local.client
            client.call("POST", urlsplit(request["response_uri"]).path, urlencode(form).encode(), form_headers)
            decided = json.loads(client.call("GET", f"/verifier/v1/requests/{request_id}", None, tenant))
            if decided["status"] != "decided":
                raise AssertionError(decided)

        def flow() -> float:
            request_id, request = start_flow()
            begin = time.perf_counter()
            form = present(sd, holder, request)
            spent = time.perf_counter() - begin
            finish_flow(request_id, request, form)
            return spent

        def healthz() -> None:
            local.client.call("GET", "/healthz")

        def run(fn: Callable[[], Any], seconds: float) -> tuple[int, float, list[Any]]:
            """Each of the pool's threads calls fn until the time is up; (calls, elapsed, results)."""
            deadline = time.perf_counter() + seconds

            def loop() -> tuple[int, list[Any]]:
                done, out = 0, []
                while time.perf_counter() < deadline:
                    out.append(fn())
                    done += 1
                return done, out

            start = time.perf_counter()
            parts = [f.result() for f in [pool.submit(loop) for _ in range(args.clients)]]
            return sum(p[0] for p in parts), time.perf_counter() - start, [r for p in parts for r in p[1]]

        run(healthz, 0.5)  # warm every worker and connection
        run(flow, 1.0)
        health_n, health_s, _ = run(healthz, args.seconds)
        flow_n, flow_s, spent = run(flow, args.seconds * 2)

        # Phased: the same flows with the presentations built outside the timed parts.
        count = max(args.clients * 10, int(flow_n / flow_s * args.seconds))
        started = time.perf_counter()
        opened = list(pool.map(lambda _: start_flow(), range(count)))
        phase1 = time.perf_counter() - started
        forms = [present(sd, holder, request) for _, request in opened]
        started = time.perf_counter()
        list(pool.map(lambda item: finish_flow(item[0][0], item[0][1], item[1]), zip(opened, forms)))
        phase2 = time.perf_counter() - started
        pool.shutdown()
        for client in every_client:
            client.close()
        server_ms = server_times(log_path)
        return {"healthz": health_n / health_s, "flows": flow_n / flow_s,
                "present_ms": 1000 * sum(spent) / max(1, len(spent)),
                "phased": count / (phase1 + phase2), "phased_count": count, "server_ms": server_ms}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short measurements (under a minute in all)")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite",
                        help="in-process store; redis also runs sqlite first")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--count", type=int, default=2000, help="presentations answered in process")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process respond() loop")
    args = parser.parse_args()
    if args.quick:
        args.count, args.seconds = min(args.count, 300), min(args.seconds, 1.0)

    stores = ["sqlite"] + (["redis"] if args.store == "redis" else [])
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for store in stores:
            folder = Path(tmp) / store
            folder.mkdir()
            results[store] = in_process(argparse.Namespace(**{**vars(args), "store": store}), str(folder))
        served = None if args.no_http else over_http(args, tmp)

    rows: list[tuple[str, str, str]] = []
    print(f"in process: {args.count} presentations; baselines over {args.seconds:.1f} s each, same run")
    for store, r in results.items():
        two = 1 / (1 / r["ed"] + 1 / r["es"])
        print(f"[{store}] raw cryptography verify of a {r['message']}-byte JWS signing input: "
              f"Ed25519 {r['ed']:8.0f}/s   ES256 {r['es']:8.0f}/s   two signatures {two:8.0f}/s")
        print(f"[{store}] create_request (untimed part, for scale) {r['create']:8.0f}/s   "
              f"sd_jwt.present (holder, untimed) {r['present']:8.0f}/s")
        ratio = r["respond"] / r["ed"]
        print(f"[{store}] respond(): {r['respond']:8.0f} presentations/s   {ratio:5.2f}x raw Ed25519 verify   "
              f"{r['respond'] / two:5.2f}x two-signature rate   ({1e6 / r['respond']:.0f} us each)")
        floor = f"   one durable SQLite commit {r['floor']:8.0f}/s" if r["floor"] == r["floor"] else ""
        print(f"[{store}]   breakdown: verify_presentation alone {r['verify_only']:8.0f}/s "
              f"({1e6 / r['verify_only']:.0f} us, {r['verify_only'] / r['ed']:.2f}x raw Ed25519){floor}")
        print(f"[{store}]   tenant API key check with its rate counter (each tenant call over HTTP) "
              f"{r['auth']:8.0f}/s")
        rows.append((f"in process, {store}: presentations/s vs raw Ed25519 verify", ">= 0.35x",
                     f"{r['respond']:.0f}/s = {ratio:.2f}x ({r['respond'] / two:.2f}x two sigs): "
                     f"{verdict(ratio, 0.35)}"))
    if served is not None:
        ratio = served["flows"] / served["healthz"]
        print(f"over HTTP: gunicorn {args.workers} sync workers, {args.clients} client threads, "
              f"{args.seconds:.1f} s healthz, {2 * args.seconds:.1f} s flows; sync workers close each connection")
        print(f"  /healthz                 {served['healthz']:8.0f} req/s")
        print(f"  complete flows           {served['flows']:8.0f} /s   {ratio:5.2f}x healthz   "
              f"(4 requests each; the client spent {served['present_ms']:.1f} ms per flow building the presentation)")
        phased = served["phased"] / served["healthz"]
        print(f"  flows, presentations built untimed (phased, {served['phased_count']} flows) "
              f"{served['phased']:8.0f} /s   {phased:5.2f}x healthz")
        times = served["server_ms"]
        flow_ms = sum(times.get(name, float("nan")) for _, _, name in ROUTES[:4])
        print("  server time per request (gunicorn access log, mean): "
              + ", ".join(f"{name} {ms:.2f} ms" for name, ms in times.items())
              + f"; one flow {flow_ms:.1f} ms of worker time, so {args.workers} workers could at best do "
              f"{1000 * args.workers / flow_ms:.0f} flows/s")
        rows.append(("over HTTP: complete flows/s vs /healthz req/s", ">= 0.20x",
                     f"{served['flows']:.0f}/s vs {served['healthz']:.0f}/s = {ratio:.2f}x: {verdict(ratio, 0.20)} "
                     f"({phased:.2f}x with presentations built untimed)"))
    print()
    print(f"{'target':62s} {'wanted':9s} reached")
    for name, wanted, reached in rows:
        print(f"{name:62s} {wanted:9s} {reached}")


if __name__ == "__main__":
    main()
