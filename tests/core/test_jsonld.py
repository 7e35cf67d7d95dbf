"""Tests for did_service.core.jsonld: the frozen context loader, strictness (nothing dropped, nothing undefined,
nothing relative), the did_service context against the credential schemas, byte equality of the canonical form
with plain pyld (and pyoxigraph when installed), and the cost limits."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld as pyld_jsonld

from did_service.core import jsonld
from did_service.core.jsonld import ContextLoader, JsonLdError, Limits, Processor
from did_service.errors import ConfigurationError, DidServiceError
from tests.support import CREDENTIAL_TYPES, VECTORS_DIR, load_subject

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS_DIR = ROOT / "did_service" / "contexts"
SCHEMAS_DIR = ROOT / "schemas" / "credentials"
EDDSA = VECTORS_DIR / "w3c-vc-di-eddsa" / "TestVectors"
ECDSA = VECTORS_DIR / "w3c-vc-di-ecdsa" / "TestVectors"

V2 = "https://www.w3.org/ns/credentials/v2"
DS = "https://schemas.did-service.example/contexts/credentials/v1"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
VOCAB = "https://schemas.did-service.example/vocab#"
# Subject properties the VCDM 2.0 context already defines (protected); the did_service context reuses them.
VCDM_TERMS = {"name": "https://schema.org/name", "mediaType": "https://schema.org/encodingFormat"}
SECRET = "홍길동-비밀"  # a value that must never appear in an error detail


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def credential(credential_type: str = "ResidentIdentityCredential", subject: dict | None = None) -> dict[str, Any]:
    return {
        "@context": [V2, DS],
        "id": "urn:uuid:3f1c6a52-5c1e-4d55-9a43-2b4b8f0e6f01",
        "type": ["VerifiableCredential", credential_type],
        "issuer": "did:web:issuer.example",
        "validFrom": "2024-05-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", **(subject if subject is not None else load_subject(credential_type))},
        "credentialStatus": [{
            "id": "https://issuer.example/status/1#94567",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "94567",
            "statusListCredential": "https://issuer.example/status/1",
        }],
    }


def error_of(document: Any, processor: Processor | None = None) -> JsonLdError:
    with pytest.raises(JsonLdError) as caught:
        (processor or jsonld.default_processor()).canonicalize(document)
    return caught.value


# --- the loader ---------------------------------------------------------------------------------------------


def test_bundled_loader_serves_every_manifest_context_as_published():
    manifest = _load(CONTEXTS_DIR / "manifest.json")
    loader = jsonld.bundled_loader()
    assert loader.urls == frozenset(manifest["contexts"]) and DS in loader.urls
    for url, filename in manifest["contexts"].items():
        data = (CONTEXTS_DIR / filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest["details"][url]["sha256"]
        assert manifest["details"][url]["file"] == filename
        assert loader.document(url) == json.loads(data)
        assert loader(url)["document"] == json.loads(data) and loader(url)["documentUrl"] == url


def test_loader_hands_out_copies():
    loader = jsonld.bundled_loader()
    loader.document(DS)["@context"]["familyName"] = "https://attacker.example/x"
    assert loader.document(DS)["@context"]["familyName"] == VOCAB + "familyName"


@pytest.mark.parametrize("url", [
    "https://w3id.org/citizenship/v4rc1",            # real, but not bundled
    "http://www.w3.org/ns/credentials/v2",           # bundled URL, other scheme
    V2 + "/",                                        # trailing slash
    V2 + "#",                                        # fragment
    "https://WWW.W3.ORG/ns/credentials/v2",          # case
    "//www.w3.org/ns/credentials/v2",                # network-path reference
    "credentials-v2.jsonld",                         # relative: would resolve to a bundled file name
    "file:///etc/passwd",
    "file://" + str(CONTEXTS_DIR / "credentials-v2.jsonld"),
])
def test_every_other_context_url_is_refused(url):
    with pytest.raises(JsonLdError) as caught:
        jsonld.bundled_loader()(url)
    assert caught.value.code == "unsupported_context"
    document = {**credential(), "@context": [V2, DS, url]}
    assert error_of(document).code == "unsupported_context"


@pytest.mark.parametrize("where", ["top", "subject", "list"])
@pytest.mark.parametrize("inline", [{"nickname": "https://example.org/nickname"}, None, {"@vocab": "https://example.org/"}, 5])
def test_inline_and_null_contexts_are_refused(where, inline):
    """An inline context could redefine any term, so only bundled context URLs are accepted anywhere."""
    document = credential()
    if where == "top":
        document["@context"] = inline
    elif where == "subject":
        document["credentialSubject"]["@context"] = inline
    else:
        document["@context"] = [V2, DS, inline]
    assert error_of(document).code == "unsupported_context"


def test_nothing_is_fetched_even_for_remote_contexts(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    for url in ("https://w3id.org/citizenship/v4rc1", "https://example.com/context.jsonld"):
        assert error_of({**credential(), "@context": [V2, url]}).code == "unsupported_context"
    # The vectors that need an unbundled context fail the same way, without a fetch.
    employ = _load(EDDSA / "employmentAuth.json")
    assert error_of(employ).code == "unsupported_context"
    assert jsonld.canonicalize(credential())  # bundled contexts keep working offline


def _copy_contexts(tmp_path: Path) -> Path:
    target = tmp_path / "contexts"
    shutil.copytree(CONTEXTS_DIR, target)
    return target


def test_loader_checks_each_file_against_its_manifest_digest(tmp_path):
    directory = _copy_contexts(tmp_path)
    assert ContextLoader.from_manifest(directory).urls == jsonld.bundled_loader().urls
    path = directory / "did-service-v1.jsonld"
    path.write_text(path.read_text(encoding="utf-8").replace(VOCAB + "familyName", "https://evil.example/x"),
                    encoding="utf-8")
    with pytest.raises(ConfigurationError):
        ContextLoader.from_manifest(directory)


@pytest.mark.parametrize("damage", ["missing_file", "details_file", "no_details", "bad_manifest"])
def test_a_damaged_manifest_is_a_configuration_error(tmp_path, damage):
    directory = _copy_contexts(tmp_path)
    manifest = _load(directory / "manifest.json")
    if damage == "missing_file":
        (directory / "multikey-v1.jsonld").unlink()
    elif damage == "details_file":
        manifest["details"][DS]["file"] = "credentials-v2.jsonld"
    elif damage == "no_details":
        del manifest["details"][DS]
    if damage == "bad_manifest":
        (directory / "manifest.json").write_text("{", encoding="utf-8")
    else:
        (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ConfigurationError):
        ContextLoader.from_manifest(directory)


# --- strictness ---------------------------------------------------------------------------------------------


def _set(path: str | tuple[str, ...], value: Any):
    def mutate(document: dict) -> None:
        *parents, last = path.split(".") if isinstance(path, str) else path
        node = document
        for name in parents:
            node = node[int(name)] if name.isdigit() else node[name]
        node[last] = value
    return mutate


@pytest.mark.parametrize("mutate,code,named", [
    # Undefined terms, at every depth.
    (_set("nickname", SECRET), "undefined_term", "nickname"),
    (_set("credentialSubject.nickname", SECRET), "undefined_term", "credentialSubject.nickname"),
    (_set("credentialSubject.address.floor", SECRET), "undefined_term", "credentialSubject.address.floor"),
    (_set("credentialSubject.photoDigest.algorithm", SECRET), "undefined_term", "credentialSubject.photoDigest.algorithm"),
    (_set("credentialStatus.0.note", SECRET), "undefined_term", "credentialStatus.note"),
    # Defined somewhere else only: a nested-object term at the subject, a credential term inside the subject.
    (_set("credentialSubject.value", SECRET), "undefined_term", "credentialSubject.value"),
    (_set("credentialSubject.issuer", "did:web:x"), "undefined_term", "credentialSubject.issuer"),
    # Undefined types.
    (_set("type", ["VerifiableCredential", "PassportCredential"]), "undefined_term", "PassportCredential"),
    (_set("credentialSubject.type", "Person"), "undefined_term", "Person"),
    # Catch-alls and things RDF cannot hold.
    (_set(("credentialSubject", "https://www.w3.org/ns/credentials/issuer-dependent#nickname"), SECRET),
     "undefined_term", "nickname"),
    (_set("credentialSubject.@nickname", SECRET), "undefined_term", "not a term"),
    (_set("credentialSubject._:nickname", SECRET), "undefined_term", "_:nickname"),
    # Relative or malformed references.
    (_set("id", "credentials/1"), "invalid_jsonld", "top level"),
    (_set("issuer", "//evil.example/issuer"), "invalid_jsonld", "issuer"),
    (_set("credentialSubject.id", "did:example:with space"), "invalid_jsonld", "credentialSubject"),
    (_set("credentialStatus.0.statusListCredential", "status/1"), "invalid_jsonld", "statusListCredential"),
    # Data the RDF conversion would drop.
    (_set("credentialSubject.familyName", {"@value": SECRET, "@language": "ko", "@direction": "rtl"}),
     "invalid_jsonld", "@direction"),
    (_set("credentialSubject.familyName", {"@value": SECRET, "@index": "k"}), "undefined_term", "@index"),
    (_set("@included", [SECRET]), "undefined_term", "@included"),
    # The same RDF written with IRIs or keywords as keys, so that JSON readers miss credentialStatus or validUntil.
    (_set(("https://www.w3.org/2018/credentials#credentialStatus",), {"id": "https://x.example/s#1"}),
     "undefined_term", "not a term"),
    (_set("@id", "urn:uuid:0d6f1d1c-6f1b-4b6e-9d55-0a1b2c3d4e5f"), "undefined_term", "@id"),
    (_set("cred:validUntil", "2030-01-01T00:00:00Z"), "undefined_term", "not a term"),
    (_set("type", ["VerifiableCredential", "@nickname"]), "invalid_jsonld", "keyword"),
    # Values that would canonicalize differently elsewhere.
    (_set("credentialSubject.familyName", SECRET + "\x0c"), "invalid_jsonld", "control character"),
    (_set("credentialSubject.sex", 2**53 + 1), "invalid_jsonld", "2^53"),
    (_set("credentialSubject.sex", float("inf")), "invalid_jsonld", "not finite"),
    # Invalid JSON-LD (pyld's error code is passed on, its message is not).
    (_set("@context", [V2, "https://www.w3.org/2018/credentials/v1"]), "invalid_jsonld", "protected term redefinition"),
])
def test_strictness(mutate, code, named):
    document = credential()
    mutate(document)
    error = error_of(document)
    assert (error.code, error.status) == (code, 422)
    assert named in error.detail
    assert SECRET not in error.detail and "with space" not in error.detail and "evil" not in error.detail


def test_an_undefined_term_in_the_proof_is_refused():
    """The proof is its own graph, with the DataIntegrityProof type-scoped context; it is checked like the rest.
    (Not with the examples context: its @vocab would define any term.)"""
    vector_proof = _load(EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json")["proof"]
    signed = {**credential(), "proof": dict(vector_proof)}
    jsonld.canonicalize(signed)
    signed["proof"]["note"] = SECRET
    error = error_of(signed)
    assert error.code == "undefined_term" and "proof.note" in error.detail
    signed["proof"].pop("note")
    signed["proof"]["proofPurpose"] = "bragging"  # not a term of the proof purpose context: a relative IRI
    assert error_of(signed).code == "invalid_jsonld"


def test_the_issuer_dependent_vocabulary_counts_as_undefined():
    """A context with the VCDM 2.0 catch-all @vocab makes every term "resolve"; they are still undefined."""
    undefined_terms = "https://example.org/undefined-terms/v2"
    documents = {url: jsonld.bundled_loader().document(url) for url in jsonld.bundled_context_urls()}
    documents[undefined_terms] = {"@context": {"@vocab": jsonld.ISSUER_DEPENDENT_VOCAB}}
    processor = Processor(ContextLoader(documents))
    document = {**credential(), "@context": [V2, DS, undefined_terms]}
    processor.canonicalize(document)  # every term of the credential is defined elsewhere
    document["credentialSubject"]["nickname"] = SECRET
    error = error_of(document, processor)
    assert error.code == "undefined_term" and "nickname" in error.detail and "issuer-dependent" in error.detail
    assert error_of({**document, "type": ["VerifiableCredential", "Passport"]}, processor).code == "undefined_term"


@pytest.mark.parametrize("document", [
    [credential()],
    "https://example.com/credential.jsonld",
    {"@context": [V2], "@value": "x"},
    {"@context": [V2], "@graph": ["free-floating"]},
    {"@context": [V2], "@graph": [{"@value": "x"}]},
    {"@context": [V2], "@graph": [{"@list": [1]}]},
    {"@context": [V2], "id": "did:example:nothing-else"},
])
def test_documents_that_say_nothing_signable_are_refused(document):
    # @graph is refused as a key before anything else; the others as saying nothing signable.
    assert error_of(document).code in ("invalid_jsonld", "undefined_term")


def test_accepted_json_ld_features_keep_all_data():
    """@json literals, arrays of objects, nested objects and embedded credentials all reach the canonical form."""
    schema_credential = {
        "@context": [V2], "type": ["VerifiableCredential", "JsonSchemaCredential"], "issuer": "did:web:x",
        "credentialSubject": {"id": "https://issuer.example/schemas/1", "type": "JsonSchema",
                              "jsonSchema": {"type": "object", "x-note": SECRET, "@context": "ignored: a JSON literal"}},
    }
    with pytest.raises(JsonLdError):  # an "@context" key is refused even inside a JSON literal: the scan is blind to @json
        jsonld.canonicalize(schema_credential)
    schema_credential["credentialSubject"]["jsonSchema"].pop("@context")
    nquads = jsonld.canonicalize(schema_credential)
    assert SECRET in nquads and "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON" in nquads

    residence = credential("ResidenceCertificateCredential")
    nquads = jsonld.canonicalize(residence)
    for member in residence["credentialSubject"]["household"]:
        assert f'<{VOCAB}relation> "{member["relation"]}"' in nquads and member["name"] in nquads
    assert f'<{VOCAB}postalCode> "63122"' in nquads

    presentation = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": "did:example:holder",
                    "verifiableCredential": [_load(EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json")]}
    nquads = jsonld.canonicalize(presentation)
    assert "The School of Examples" in nquads
    assert any(line.count("_:") == 2 and "proofValue" in line for line in nquads.splitlines())  # proof in its own graph


def test_errors_are_service_errors():
    error = error_of({**credential(), "nickname": "x"})
    assert isinstance(error, DidServiceError) and error.status == 422


# --- the did_service context against the credential schemas -------------------------------------------------

DS_CONTEXT = _load(CONTEXTS_DIR / "did-service-v1.jsonld")["@context"]


def _schema(name: str) -> dict[str, Any]:
    return _load(SCHEMAS_DIR / name)


def _resolve(ref: str, current: str) -> tuple[dict[str, Any], str]:
    filename, _, pointer = ref.partition("#")
    filename = filename or current
    node: Any = _schema(filename)
    for part in pointer.strip("/").split("/"):
        node = node[part]
    return node, filename


def schema_paths(node: dict[str, Any], filename: str, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every property path of a schema, following $ref into defs.schema.json and local $defs."""
    if "$ref" in node:
        target, target_file = _resolve(node["$ref"], filename)
        yield from schema_paths(target, target_file, path)
    for name, sub in node.get("properties", {}).items():
        yield (*path, name)
        yield from schema_paths(sub, filename, (*path, name))
    if "items" in node:
        yield from schema_paths(node["items"], filename, path)


def schema_sample(node: dict[str, Any], filename: str) -> Any:
    """An instance with every property the schema allows (values need not validate; only the terms matter)."""
    if "$ref" in node:
        return schema_sample(*_resolve(node["$ref"], filename))
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        return {name: "did:example:sample" if name == "id" else schema_sample(sub, filename)
                for name, sub in node["properties"].items()}
    if kind == "array":
        return [schema_sample(node["items"], filename)]
    if kind == "integer":
        return 1
    return "sample"


def _type_schema(credential_type: str) -> tuple[dict[str, Any], str]:
    filename = f"{credential_type}.schema.json"
    return _schema(filename), filename


def _scoped_terms(path: tuple[str, ...]) -> set[str]:
    """The did_service terms in scope at the end of ``path``: top-level terms plus the scoped contexts of the
    properties on the way (property-scoped contexts propagate)."""
    terms = set(DS_CONTEXT)
    scope = dict(DS_CONTEXT)
    for name in path[:-1]:
        definition = scope.get(name)
        if isinstance(definition, dict) and "@context" in definition:
            scope.update(definition["@context"])
            terms |= set(definition["@context"])
    return terms


def test_the_context_is_protected_and_uses_its_own_vocabulary():
    assert DS_CONTEXT["@protected"] is True and DS_CONTEXT["id"] == "@id" and DS_CONTEXT["type"] == "@type"
    stack = [DS_CONTEXT]
    while stack:
        scope = stack.pop()
        assert scope["@protected"] is True
        for term, definition in scope.items():
            if term in ("@protected", "id", "type"):
                continue
            iri = definition["@id"] if isinstance(definition, dict) else definition
            assert iri == VOCAB + term, term  # one IRI per name: no term means two things
            if isinstance(definition, dict):
                assert set(definition) <= {"@id", "@context"}  # plain strings: no datatype coercion to break round trips
                if "@context" in definition:
                    stack.append(definition["@context"])
    assert {t for t in DS_CONTEXT if t.endswith("Credential")} == set(CREDENTIAL_TYPES)


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
def test_every_schema_property_is_defined_by_the_context(credential_type):
    for path in schema_paths(*_type_schema(credential_type)):
        name = path[-1]
        assert name == "id" or name in VCDM_TERMS or name in _scoped_terms(path), ".".join(path)


def test_every_context_term_is_used_by_a_schema():
    used = {path[-1] for t in CREDENTIAL_TYPES for path in schema_paths(*_type_schema(t))}
    defined = set()
    stack = [DS_CONTEXT]
    while stack:
        scope = stack.pop()
        for term, definition in scope.items():
            defined.add(term)
            if isinstance(definition, dict) and "@context" in definition:
                stack.append(definition["@context"])
    assert defined - used - {"@protected", "id", "type"} == set(CREDENTIAL_TYPES)


def _iri_at(expanded_node: dict[str, Any], path: tuple[str, ...]) -> bool:
    node = expanded_node
    for name in path:
        if name == "id":
            return "@id" in node
        key = VCDM_TERMS.get(name, VOCAB + name)
        if key not in node:
            return False
        node = node[key][0]
    return True


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
def test_a_subject_with_every_schema_property_expands_strictly(credential_type):
    schema, filename = _type_schema(credential_type)
    subject = schema_sample(schema, filename)
    subject["id"] = "did:example:holder"
    expanded = jsonld.expand(credential(credential_type, subject))
    (node,) = expanded
    assert node["@type"] == ["https://www.w3.org/2018/credentials#VerifiableCredential", VOCAB + credential_type]
    subject_node = node["https://www.w3.org/2018/credentials#credentialSubject"][0]
    for path in schema_paths(schema, filename):
        assert _iri_at(subject_node, path), ".".join(path)


def _leaf_paths(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaf_paths(item, path)
    else:
        yield path


@pytest.mark.parametrize("credential_type", CREDENTIAL_TYPES)
def test_subject_fixtures_expand_strictly(credential_type):
    (node,) = jsonld.expand(credential(credential_type))
    subject_node = node["https://www.w3.org/2018/credentials#credentialSubject"][0]
    for path in _leaf_paths(load_subject(credential_type)):
        assert _iri_at(subject_node, path), ".".join(path)


# --- canonical form: plain pyld and pyoxigraph agree byte for byte ------------------------------------------


def plain_pyld(document: Any) -> str:
    """pyld as documented, no memo and a fresh per-call cache, with the same bundled files."""
    def loader(url: str, options: Any = None) -> dict[str, Any]:
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": jsonld.bundled_loader().document(url)}

    return pyld_jsonld.normalize(copy.deepcopy(document),
                                 {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader})


def _inline_context(context: Any) -> Any:
    # Inlining the exact bundled JSON is what loading it does; nested URLs (security/v2 -> v1) too.
    if isinstance(context, str):
        return _inline_context(jsonld.bundled_loader().document(context)["@context"])
    if isinstance(context, list):
        flat: list[Any] = []
        for item in context:
            inlined = _inline_context(item)
            flat.extend(inlined if isinstance(inlined, list) else [inlined])
        return flat
    if isinstance(context, dict):
        return {key: _inline_context(value) if isinstance(value, (dict, list)) or key == "@context" else value
                for key, value in context.items()}
    return context


def _inline_document(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _inline_context(item) if key == "@context" else _inline_document(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_inline_document(item) for item in value]
    return value


def oxigraph(document: Any) -> str:
    import pyoxigraph as ox  # a test dependency: the independent RDFC-1.0 implementation compared against

    dataset = ox.Dataset(ox.parse(json.dumps(_inline_document(document)), format=ox.RdfFormat.JSON_LD))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return "".join(sorted(f"{quad} .\n" for quad in dataset))


def _presentation() -> dict[str, Any]:
    return {"@context": [V2], "type": ["VerifiablePresentation"], "holder": "did:example:holder",
            "verifiableCredential": [_load(EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json"), credential()]}


def _proof_config(path: Path) -> dict[str, Any]:
    return _load(path)  # the vectors' proof configurations carry the document's @context


CORPUS = {
    "eddsa unsigned": lambda: _load(EDDSA / "unsigned.json"),
    "eddsa proof config": lambda: _proof_config(EDDSA / "eddsa-rdfc-2022" / "proofConfigDataInt.json"),
    "eddsa signed": lambda: _load(EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json"),
    "ecdsa proof config": lambda: _proof_config(ECDSA / "ecdsa-rdfc-2019-p256" / "proofConfigECDSAP256.json"),
    "ecdsa signed": lambda: _load(ECDSA / "ecdsa-rdfc-2019-p256" / "signedECDSAP256.json"),
    "presentation": _presentation,
    **{t: (lambda t=t: credential(t)) for t in CREDENTIAL_TYPES},
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_canonical_form_equals_plain_pyld(name):
    document = CORPUS[name]()
    assert jsonld.canonicalize(document) == plain_pyld(document)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_canonical_form_equals_pyoxigraph(name):
    document = CORPUS[name]()
    assert jsonld.canonicalize(document) == oxigraph(document)


def test_canonical_vectors_are_reproduced():
    assert jsonld.canonicalize(_load(EDDSA / "unsigned.json")) == (
        EDDSA / "eddsa-rdfc-2022" / "canonDocDataInt.txt").read_text(encoding="utf-8")
    assert jsonld.canonicalize(_load(ECDSA / "ecdsa-rdfc-2019-p256" / "proofConfigECDSAP256.json")) == (
        ECDSA / "ecdsa-rdfc-2019-p256" / "proofCanonECDSAP256.txt").read_text(encoding="utf-8")


# Keys under the examples context's @vocab are all defined, so random documents exercise the canonical form,
# not the strictness. Terms the VCDM context defines (with coercions) are left out of the random names.
_V2_TERMS = set(jsonld.bundled_loader().document(V2)["@context"])
_names = st.from_regex(r"[a-z][A-Za-z0-9]{0,9}", fullmatch=True).filter(lambda name: name not in _V2_TERMS)
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07"
                              "\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"),
                max_size=12)
_scalars = st.one_of(
    _text,
    st.integers(-(2**53), 2**53),
    st.booleans(),
    st.none(),
    # Short binary fractions: the shortest form (oxigraph) and the JSON-LD 16-digit form (pyld) agree on them.
    st.integers(-(10**6), 10**6).map(lambda i: i / 8),
    st.builds(lambda v, lang: {"@value": v, "@language": lang}, _text, st.sampled_from(["ko", "en-US", "EN"])),
)
_values = st.recursive(
    _scalars, lambda children: st.lists(children, max_size=3) | st.dictionaries(_names, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(subject=st.dictionaries(_names, _values, max_size=5),
       subject_id=st.sampled_from([None, "did:example:holder", "urn:uuid:0d6f1d1c-6f1b-4b6e-9d55-0a1b2c3d4e5f"]))
def test_generated_documents_canonicalize_like_plain_pyld_and_pyoxigraph(subject, subject_id):
    if subject_id:
        subject = {**subject, "id": subject_id}
    document = {"@context": [V2, EXAMPLES], "type": ["VerifiableCredential", "ExampleCredential"],
                "issuer": "did:example:issuer", "credentialSubject": subject}
    ours = jsonld.canonicalize(document)
    assert ours == plain_pyld(document)
    assert ours == oxigraph(document)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), credential_type=st.sampled_from(CREDENTIAL_TYPES))
def test_generated_values_in_our_credentials_canonicalize_like_plain_pyld(data, credential_type):
    def vary(value: Any) -> Any:
        if isinstance(value, dict):  # ids stay: they must be absolute IRIs
            return {key: item if key == "id" else vary(item) for key, item in value.items()}
        if isinstance(value, list):
            return [vary(item) for item in value]
        if isinstance(value, str):
            return data.draw(_text)
        return data.draw(st.integers(-(2**53), 2**53))

    document = credential(credential_type, vary(load_subject(credential_type)))
    assert jsonld.canonicalize(document) == plain_pyld(document)


def test_memoized_context_processing_does_not_depend_on_history():
    """The same documents through two fresh processors in opposite orders, with context lists that share and
    reorder bundled contexts, give the same canonical forms as plain pyld."""
    base = credential()
    variants = [
        base,
        {**base, "@context": [V2, DS, EXAMPLES]},
        {**base, "@context": [V2, EXAMPLES, DS]},
        {**base, "@context": [V2, EXAMPLES], "credentialSubject": {"id": "did:example:1", "anything": "goes"}},
        _load(EDDSA / "eddsa-rdfc-2022" / "signedDataInt.json"),
        _presentation(),
        credential("DiplomaCredential"),
    ]
    expected = [plain_pyld(v) for v in variants]
    forward = Processor(jsonld.bundled_loader())
    backward = Processor(jsonld.bundled_loader())
    assert [forward.canonicalize(v) for v in variants] == expected
    assert [backward.canonicalize(v) for v in reversed(variants)] == list(reversed(expected))
    assert [forward.canonicalize(v) for v in variants] == expected  # warm, again
    # The undefined term is still found once every context is cached.
    assert error_of({**base, "@context": [V2, DS], "nickname": "x"}, forward).code == "undefined_term"


def test_concurrent_canonicalization_matches_sequential():
    documents = [credential(t) for t in CREDENTIAL_TYPES] + [_presentation(), _load(EDDSA / "unsigned.json")]
    expected = [jsonld.canonicalize(d) for d in documents]
    processor = Processor(jsonld.bundled_loader())
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(processor.canonicalize, documents * 20))
    assert results == expected * 20


# --- cost limits --------------------------------------------------------------------------------------------

P = "https://example.org/p"  # an absolute IRI property: defined, so the documents below pass strictness


def _graph(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    # Terms only (the examples context's @vocab defines `knows`): keys that are IRIs or keywords are refused.
    return {"@context": [V2, EXAMPLES], "type": ["VerifiableCredential"], "issuer": "did:example:i",
            "credentialSubject": {"id": "did:example:s", "knows": nodes}}


def _clique(size: int) -> dict[str, Any]:
    """Blank nodes that all look alike: RDFC-1.0's worst case (every permutation is a candidate path)."""
    return _graph([{"id": f"_:n{i}", "knows": [{"id": f"_:n{j}"} for j in range(size) if j != i]}
                   for i in range(size)])


def _ring(size: int) -> dict[str, Any]:
    return _graph([{"id": f"_:n{i}", "knows": {"id": f"_:n{(i + 1) % size}"}} for i in range(size)])


def test_a_long_array_cannot_hold_a_worker():
    """pyld's node map merges values with a linear search; the deadline covers it, not only RDFC-1.0 itself."""
    import time

    document = _graph([{"id": "did:example:s", "knows": list(range(9_000))}])
    start = time.monotonic()
    assert error_of(document).code == "canonicalization_limit"
    assert time.monotonic() - start < 10  # ~47 s before the deadline covered the node map


def test_a_poison_graph_is_refused():
    assert error_of(_clique(10)).code == "canonicalization_limit"


def test_look_alike_blank_nodes_within_the_budget_are_canonicalized():
    for document in (_ring(16), _clique(4)):
        assert jsonld.canonicalize(document) == plain_pyld(document)


def test_the_deadline_stops_canonicalization():
    processor = Processor(jsonld.bundled_loader(), Limits(max_seconds=-1.0))  # a deadline already passed
    assert error_of(_ring(8), processor).code == "canonicalization_limit"
    # The deadline covers the whole job (node map included), not only the N-degree hashing.
    assert error_of(credential(), processor).code == "canonicalization_limit"
    assert Processor(jsonld.bundled_loader()).canonicalize(credential())


def test_too_many_blank_nodes_are_refused():
    members = [{"name": f"구성원{i}", "relation": "child"} for i in range(jsonld.DEFAULT_LIMITS.max_blank_nodes)]
    subject = {**load_subject("ResidenceCertificateCredential"), "household": members}
    error = error_of(credential("ResidenceCertificateCredential", subject))
    assert error.code == "canonicalization_limit" and "blank nodes" in error.detail


@pytest.mark.parametrize("limits,document", [
    (Limits(max_depth=3), credential()),          # document 1, subject 2, address 3, its strings 4
    (Limits(max_values=30), credential()),
    (Limits(max_text_chars=200), credential()),
])
def test_input_size_limits(limits, document):
    assert error_of(document, Processor(jsonld.bundled_loader(), limits)).code == "canonicalization_limit"


def test_deep_nesting_is_refused_before_expansion():
    nested: dict[str, Any] = {"note": "bottom"}
    for _ in range(40):
        nested = {"inner": nested}
    document = {"@context": [V2, EXAMPLES], "type": ["VerifiableCredential"], "issuer": "did:example:i",
                "credentialSubject": nested}
    assert error_of(document).code == "canonicalization_limit"


def test_permutations_are_charged_to_the_budget():
    """Each permutation RDFC-1.0 tries copies the path issuer once; a copy costs a step, so a permutation loop
    that never recurses is bounded too."""
    from pyld.identifier_issuer import IdentifierIssuer

    canonicalizer = jsonld._BoundedCanonicalizer(max_steps=3, deadline=float("inf"))
    issuer = jsonld._MeteredIssuer(IdentifierIssuer("_:b"), canonicalizer._spend)
    issuer.get_id("_:x")
    for _ in range(3):
        copied = copy.deepcopy(issuer)
        assert copied.existing == {"_:x": "_:b0"} and copied is not issuer
    with pytest.raises(JsonLdError) as caught:
        copy.deepcopy(issuer)
    assert caught.value.code == "canonicalization_limit"


def test_warm_processing_does_not_process_contexts_again(monkeypatch):
    processor = Processor(jsonld.bundled_loader())
    expected = processor.canonicalize(credential())
    calls: list[str] = []
    original = pyld_jsonld.JsonLdProcessor._create_term_definition

    def counting(self, active_ctx, local_ctx, term, *args, **kwargs):
        calls.append(term)
        return original(self, active_ctx, local_ctx, term, *args, **kwargs)

    monkeypatch.setattr(pyld_jsonld.JsonLdProcessor, "_create_term_definition", counting)
    assert processor.canonicalize(credential()) == expected
    assert calls == []
    Processor(jsonld.bundled_loader()).canonicalize(credential())  # a cold processor does define terms
    assert calls


_HOSTILE_KEYS = st.sampled_from([
    "@id", "@type", "@value", "@language", "@direction", "@list", "@set", "@graph", "@included", "@reverse", "@index",
    "@nest", "@json", "@none", "@vocab", "@base", "@context", "id", "type", "credentialSubject", "proof", "issuer",
    "validFrom", "familyName", "address", "household", "name", "verifiableCredential", "proofPurpose", "cryptosuite",
    "jsonSchema", "cnf", "_sd", "statusMessage", "nickname", "_:b0", "https://example.org/p", "did:example:1",
])
_HOSTILE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "@id", "@json", "_:b0", "did:example:1", "https://example.org/a", "relative",
                     "VerifiableCredential", "DataIntegrityProof", "JsonSchema", "en", "ltr", V2, DS,
                     "assertionMethod"]),
)
_HOSTILE = st.recursive(_HOSTILE_SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(_HOSTILE_KEYS, c, max_size=4),
                        max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_HOSTILE_KEYS, _HOSTILE, max_size=6))
def test_hostile_documents_give_a_json_ld_error_or_a_canonical_form(body):
    """Whatever a client sends, the outcome is a canonical form or a JsonLdError (a 422), never a crash."""
    document = {"@context": [V2, DS], **{k: v for k, v in body.items() if k != "@context"}}
    try:
        nquads = jsonld.canonicalize(document)
    except JsonLdError as exc:
        assert exc.code in ("unsupported_context", "undefined_term", "invalid_jsonld", "canonicalization_limit")
    else:
        assert nquads == plain_pyld(document)


@pytest.mark.parametrize("body", [{"type": []}, {"type": [["VerifiableCredential"]]}, {"id": ["did:example:1"]}])
def test_non_string_ids_and_types_are_json_ld_errors(body):
    """Found by the hostile-document property test: such values reach IRI expansion and must not crash it."""
    document = {"@context": [V2, DS], **body}
    try:
        nquads = jsonld.canonicalize(document)
    except JsonLdError as exc:
        assert exc.code in ("unsupported_context", "undefined_term", "invalid_jsonld", "canonicalization_limit")
    else:
        assert nquads == plain_pyld(document)
