"""JSON-LD canonicalization engines and Data Integrity rates, single process, in one run.

    .venv/bin/python bench/jsonld.py [--seconds 1]

Per document (the W3C vector credential, a ResidentIdentityCredential from tests/fixtures, and its proof
configuration), milliseconds per RDFC-1.0 canonicalization with:

* pyld cold: pyld.jsonld.normalize with an offline loader, as documented (contexts re-processed every call);
* pyld warm: the same with ``tag: static`` in the loader's answers, so pyld's own cache keeps resolved contexts;
* did_service: core/jsonld.py (strict checks included, context processing memoized);
* pyoxigraph: the bundled contexts inlined into the document, JSON-LD parser + RDFC-1.0 (no strict checks;
  skipped when pyoxigraph is not installed).

Then add_proof and read_proof + verify_proof rates for eddsa-rdfc-2022 and ecdsa-rdfc-2019, beside the raw
Ed25519 / P-256 sign and verify rates of the same run.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402
from pyld import jsonld as pyld_jsonld  # noqa: E402

from did_service.core import jsonld  # noqa: E402
from did_service.core.proofs import data_integrity  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VECTOR = ROOT / "tests" / "vectors" / "w3c-vc-di-eddsa" / "TestVectors" / "unsigned.json"
SUBJECT = ROOT / "tests" / "fixtures" / "subjects" / "ResidentIdentityCredential.json"
V2 = "https://www.w3.org/ns/credentials/v2"
DS = "https://schemas.did-service.example/contexts/credentials/v1"
METHOD = "did:web:issuer.example#key-1"
CREATED = "2024-05-01T00:00:00Z"


def resident_identity() -> dict[str, Any]:
    return {
        "@context": [V2, DS],
        "id": "urn:uuid:3f1c6a52-5c1e-4d55-9a43-2b4b8f0e6f01",
        "type": ["VerifiableCredential", "ResidentIdentityCredential"],
        "issuer": "did:web:issuer.example",
        "validFrom": "2024-05-01T00:00:00Z",
        "validUntil": "2029-05-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", **json.loads(SUBJECT.read_text(encoding="utf-8"))},
        "credentialStatus": [{
            "id": "https://issuer.example/status/1#94567", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": "94567",
            "statusListCredential": "https://issuer.example/status/1",
        }],
    }


def proof_config(document: dict[str, Any]) -> dict[str, Any]:
    return {"@context": document["@context"], "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
            "created": CREATED, "verificationMethod": METHOD, "proofPurpose": "assertionMethod"}


def pyld_loader(tagged: bool) -> Callable[..., dict[str, Any]]:
    bundled = jsonld.bundled_loader()

    def load(url: str, options: Any = None) -> dict[str, Any]:
        answer = {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                  "document": bundled.document(url)}
        if tagged:
            answer["tag"] = "static"
        return answer

    return load


def pyld_normalize(loader: Callable[..., dict[str, Any]]) -> Callable[[dict[str, Any]], str]:
    def run(document: dict[str, Any]) -> str:
        return pyld_jsonld.normalize(copy.deepcopy(document), {"algorithm": "URDNA2015",
                                                               "format": "application/n-quads",
                                                               "documentLoader": loader})
    return run


def oxigraph_canonicalize() -> Callable[[dict[str, Any]], str] | None:
    try:
        import pyoxigraph as ox
    except ImportError:
        return None
    bundled = jsonld.bundled_loader()

    def inline_context(context: Any) -> Any:
        if isinstance(context, str):
            return inline_context(bundled.document(context)["@context"])
        if isinstance(context, list):
            flat: list[Any] = []
            for item in context:
                inlined = inline_context(item)
                flat.extend(inlined if isinstance(inlined, list) else [inlined])
            return flat
        if isinstance(context, dict):
            return {k: inline_context(v) if isinstance(v, (dict, list)) or k == "@context" else v
                    for k, v in context.items()}
        return context

    def inline(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: inline_context(v) if k == "@context" else inline(v) for k, v in value.items()}
        if isinstance(value, list):
            return [inline(v) for v in value]
        return value

    def run(document: dict[str, Any]) -> str:
        dataset = ox.Dataset(ox.parse(json.dumps(inline(document)), format=ox.RdfFormat.JSON_LD))
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        return "".join(sorted(f"{quad} .\n" for quad in dataset))

    return run


def rate(action: Callable[[], Any], seconds: float) -> float:
    action()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        action()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    vector = json.loads(VECTOR.read_text(encoding="utf-8"))
    credential = resident_identity()
    documents = {"vector unsigned.json": vector, "ResidentIdentity": credential,
                 "proof configuration": proof_config(credential)}
    engines: dict[str, Callable[[dict[str, Any]], str] | None] = {
        "pyld cold": pyld_normalize(pyld_loader(tagged=False)),
        "pyld warm": pyld_normalize(pyld_loader(tagged=True)),
        "did_service": jsonld.canonicalize,
        "pyoxigraph": oxigraph_canonicalize(),
    }

    print("ms per RDFC-1.0 canonicalization (lower is better)")
    print(f"  {'document':22s}" + "".join(f"{name:>14s}" for name in engines))
    for label, document in documents.items():
        expected = jsonld.canonicalize(document)
        cells = []
        for name, engine in engines.items():
            if engine is None:
                cells.append(f"{'n/a':>14s}")
                continue
            same = engine(document) == expected
            cells.append(f"{1000 / rate(lambda: engine(document), seconds):12.3f}{'  ' if same else ' ≠'}")
        print(f"  {label:22s}" + "".join(cells))
    print("  (≠: output differs from did_service's)")
    print()

    message = b"x" * 64
    ed_key, p256_key = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    ed_sig, p256_sig = ed_key.sign(message), p256_key.sign(message, ec.ECDSA(hashes.SHA256()))
    raw = {
        "eddsa-rdfc-2022": (rate(lambda: ed_key.sign(message), seconds),
                            rate(lambda: ed_key.public_key().verify(ed_sig, message), seconds)),
        "ecdsa-rdfc-2019": (rate(lambda: p256_key.sign(message, ec.ECDSA(hashes.SHA256())), seconds),
                            rate(lambda: p256_key.public_key().verify(p256_sig, message, ec.ECDSA(hashes.SHA256())),
                                 seconds)),
    }
    print("Data Integrity proofs per second (add_proof; read_proof + verify_proof)")
    for label, document in (("vector unsigned.json", vector), ("ResidentIdentity", credential)):
        for suite, key in (("eddsa-rdfc-2022", ed_key), ("ecdsa-rdfc-2019", p256_key)):
            signed = data_integrity.add_proof(document, key, METHOD, cryptosuite=suite, created=CREATED)
            add = rate(lambda: data_integrity.add_proof(document, key, METHOD, cryptosuite=suite, created=CREATED),
                       seconds)
            verify = rate(lambda: data_integrity.verify_proof(
                signed, data_integrity.read_proof(signed)[1], key.public_key(), expected_purpose="assertionMethod"),
                seconds)
            raw_sign, raw_verify = raw[suite]
            print(f"  {label:22s} {suite:16s} add {add:7.0f}/s ({add / raw_sign:5.3f}x raw sign)"
                  f"   verify {verify:7.0f}/s ({verify / raw_verify:5.3f}x raw verify)")


if __name__ == "__main__":
    main()
