"""Issue and verify rates per securing format, single process, beside raw jwcrypto EdDSA in the same run.

    .venv/bin/python bench/formats.py [--seconds 3]

Two levels, both single-threaded:

* proof: the securing step alone on a built ResidentIdentityCredential (Data Integrity: canonicalize document
  and proof options + sign; SD-JWT: split 9 disclosures + decoys + sign; verify: the reverse, key given). This is
  what the issue's targets compare with: didkit's Ed25519Signature2020 (~245/s per core here), and raw
  jwcrypto JWSCore EdDSA sign/verify of the same credential as a JWT.
* service: the whole issuance (schema, status allocation, sign, durable SQLite log append, one credential per
  transaction) and the whole verification (key resolution, every check incl. status and anchored receipt).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jwcrypto import jws  # noqa: E402

from did_service.clock import to_xsd_datetime, utcnow  # noqa: E402
from did_service.config import Settings  # noqa: E402
from did_service.core import strict_json  # noqa: E402
from did_service.core.credential import CONTEXTS, sd_jwt_vc_claims  # noqa: E402
from did_service.core.did_document import jwk_method_id  # noqa: E402
from did_service.core.proofs import data_integrity, sd_jwt  # noqa: E402
from did_service.services.container import build_services  # noqa: E402

SUBJECT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "subjects" / "ResidentIdentityCredential.json"
FORMATS = ("vc+jwt", "dc+sd-jwt", "eddsa-rdfc-2022", "ecdsa-rdfc-2019")


def rate(fn: Callable[[], object], seconds: float) -> float:
    for _ in range(20):
        fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            fn()
        count += 10
    return count / elapsed


def didkit_rates(seconds: float) -> tuple[float, float] | None:
    """didkit (SpruceID, Rust) Ed25519Signature2020 issue and verify, if installed (`pip install didkit==0.3.3`).

    didkit 0.3.3 knows no VC 2.0 context, so it signs the VCDM 1.1 permanent resident card of the W3C CCG
    citizenship vocabulary (bundled in didkit): a subject of nine claims, like the ResidentIdentityCredential
    measured against it (which has an address object and a photo digest more).
    """
    try:
        import asyncio

        import didkit
    except ImportError:
        return None

    async def measure() -> tuple[float, float]:
        key = didkit.generate_ed25519_key()
        did = didkit.key_to_did("key", key)
        method = await didkit.key_to_verification_method("key", key)
        credential = {
            "@context": ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/citizenship/v1"],
            "type": ["VerifiableCredential", "PermanentResidentCard"], "issuer": did,
            "issuanceDate": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": did, "type": ["PermanentResident", "Person"], "givenName": "GILDONG",
                                  "familyName": "HONG", "gender": "Male", "birthDate": "1990-01-01T00:00:00Z",
                                  "birthCountry": "Republic of Korea", "residentSince": "2015-01-01",
                                  "lprCategory": "C09", "lprNumber": "999-999-999"},
        }
        options = json.dumps({"proofPurpose": "assertionMethod", "verificationMethod": method,
                              "type": "Ed25519Signature2020"})
        text = json.dumps(credential)
        signed = await didkit.issue_credential(text, options, key)
        assert json.loads(await didkit.verify_credential(signed, '{"proofPurpose":"assertionMethod"}'))["errors"] == []
        results = []
        for call in (lambda: didkit.issue_credential(text, options, key),
                     lambda: didkit.verify_credential(signed, '{"proofPurpose":"assertionMethod"}')):
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                await call()
                count += 1
            results.append(count / elapsed)
        return results[0], results[1]

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    seconds = args.seconds
    subject = json.loads(SUBJECT.read_text(encoding="utf-8"))

    with tempfile.TemporaryDirectory() as tmp:
        svc = build_services(Settings.from_env({"DID_SERVICE_INSTANCE_DIR": tmp}))
        now = utcnow()
        ed_key = svc.keyring.for_alg("EdDSA")
        p256_key = svc.keyring.for_alg("ES256")
        body = {"credential": {"@context": list(CONTEXTS), "type": ["VerifiableCredential", "ResidentIdentityCredential"],
                               "credentialSubject": subject}}
        sample = svc.issuance.issue({**body, "options": {"format": "vc+jwt"}}, now)
        credential = sample.credential

        # Raw baselines: jwcrypto JWSCore EdDSA over the credential's JWT payload.
        payload = strict_json.dumps_compact(credential).encode()
        header = json.dumps({"alg": "EdDSA", "typ": "vc+jwt"})
        signed = jws.JWSCore("EdDSA", ed_key.jwk, header, payload, None).sign()
        public = ed_key.jwk
        raw_sign = rate(lambda: jws.JWSCore("EdDSA", ed_key.jwk, header, payload, None).sign(), seconds)
        raw_verify = rate(
            lambda: jws.JWSCore("EdDSA", public, header, payload, ["EdDSA"]).verify(
                jws.base64url_decode(signed["signature"])), seconds)
        print(f"raw jwcrypto JWSCore EdDSA: sign {raw_sign:8.0f}/s   verify {raw_verify:8.0f}/s")
        print()

        measured = didkit_rates(seconds)
        baseline = measured[0] if measured else 245.0
        if measured:
            print(f"didkit 0.3.3 Ed25519Signature2020: issue {measured[0]:7.0f}/s   verify {measured[1]:7.0f}/s")
        else:
            print("didkit not installed: comparing with the issue's figure of ~245/s")
        print()
        print("proof level (securing step only)")
        method_ed, method_p256 = jwk_method_id(svc.issuer_did, ed_key), jwk_method_id(svc.issuer_did, p256_key)
        created = to_xsd_datetime(now)
        for suite, key, method in (("eddsa-rdfc-2022", ed_key, method_ed), ("ecdsa-rdfc-2019", p256_key, method_p256)):
            document = data_integrity.add_proof(credential, key.private_key, method, cryptosuite=suite, created=created)
            _, proof = data_integrity.read_proof(document)
            issue_rate = rate(lambda: data_integrity.add_proof(
                credential, key.private_key, method, cryptosuite=suite, created=created), seconds)
            verify_rate = rate(lambda: data_integrity.verify_proof(
                document, data_integrity.read_proof(document)[1], key.public_key, expected_purpose="assertionMethod"),
                seconds)
            verify_base = measured[1] if measured else 245.0
            print(f"  {suite:16s} issue {issue_rate:7.0f}/s ({issue_rate / baseline:4.2f}x didkit)"
                  f"   verify {verify_rate:7.0f}/s ({verify_rate / verify_base:4.2f}x didkit)")
        disclosable = svc.registry.get("ResidentIdentityCredential").disclosable
        claims = sd_jwt_vc_claims(credential, "https://issuer.example/vct/ResidentIdentityCredential", None, now)
        text = sd_jwt.issue(claims, key=ed_key, kid=method_ed, disclosable=disclosable)
        sd_issue = rate(lambda: sd_jwt.issue(claims, key=ed_key, kid=method_ed, disclosable=disclosable), seconds)
        sd_verify = rate(lambda: sd_jwt.verify(sd_jwt.parse(text), ed_key.public_key, now=now,
                                               require_key_binding=False), seconds)
        print(f"  {'dc+sd-jwt EdDSA':16s} issue {sd_issue:7.0f}/s ({sd_issue / raw_sign:4.2f}x raw sign)"
              f"   verify {sd_verify:7.0f}/s ({sd_verify / raw_verify:4.2f}x raw verify)")
        print()

        print("service level (whole issuance with durable log append; whole verification with every check)")
        for fmt in FORMATS:
            request = {**body, "options": {"format": fmt}}
            issued = [svc.issuance.issue(request, utcnow()) for _ in range(50)]
            values = iter([item.verifiable_credential for item in issued] * 1000)
            issue_rate = rate(lambda: svc.issuance.issue(request, utcnow()), seconds)
            verify_rate = rate(lambda: svc.verify_credential(next(values)), seconds)
            assert svc.verify_credential(issued[0].verifiable_credential).verified
            print(f"  {fmt:16s} issue {issue_rate:7.0f}/s   verify {verify_rate:7.0f}/s")
        svc.store.close()


if __name__ == "__main__":
    main()
