"""Credential-type schemas and the SchemaRegistry that loads and applies them."""

from __future__ import annotations

import copy
import json
import socket
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import referencing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing.jsonschema import DRAFT202012

from did_service.core.schema import (
    MAX_REPORTED_ERRORS,
    SCHEMA_ID_PREFIX,
    CredentialType,
    SchemaRegistry,
)
from did_service.errors import (
    ConfigurationError,
    SchemaViolation,
    UnknownCredentialType,
    Unprocessable,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
CREDENTIAL_SCHEMAS = SCHEMAS / "credentials"
SUBJECTS = REPO / "tests" / "fixtures" / "subjects"
TYPES = [
    "DiplomaCredential",
    "NotarizedDocumentCredential",
    "ResidenceCertificateCredential",
    "ResidentIdentityCredential",
]
RIC = "ResidentIdentityCredential"
RCC = "ResidenceCertificateCredential"
NDC = "NotarizedDocumentCredential"
DIP = "DiplomaCredential"


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.from_directory(SCHEMAS)


def subject(type_name: str) -> dict[str, Any]:
    return json.loads((SUBJECTS / f"{type_name}.json").read_text(encoding="utf-8"))


def violation(registry: SchemaRegistry, type_name: str, value: object) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as info:
        registry.validate_subject(type_name, value)
    return info.value


def pairs(exc: SchemaViolation) -> set[tuple[str, str]]:
    return {(e["path"], e["keyword"]) for e in exc.errors}


def reference_validator(type_name: str) -> Draft202012Validator:
    """Plain jsonschema over the raw files: the registry's inlining and pattern handling must agree with it."""
    resources = [
        (SCHEMA_ID_PREFIX + f.name, DRAFT202012.create_resource(json.loads(f.read_text(encoding="utf-8"))))
        for f in CREDENTIAL_SCHEMAS.glob("*.schema.json")
    ]
    reg = referencing.Registry().with_resources(resources)
    schema = json.loads((CREDENTIAL_SCHEMAS / f"{type_name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=reg, format_checker=Draft202012Validator.FORMAT_CHECKER)


# --- valid subjects -----------------------------------------------------------------------------------------


def test_registered_types(registry: SchemaRegistry) -> None:
    assert registry.names() == TYPES  # defs.schema.json is shared definitions, not a type


@pytest.mark.parametrize("type_name", TYPES)
def test_fixture_subject_is_valid(registry: SchemaRegistry, type_name: str) -> None:
    registry.validate_subject(type_name, subject(type_name))
    assert reference_validator(type_name).is_valid(subject(type_name))


@pytest.mark.parametrize("type_name", TYPES)
def test_subject_id_is_an_optional_did(registry: SchemaRegistry, type_name: str) -> None:
    for did in ["did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "did:web:jeju.example:residents"]:
        registry.validate_subject(type_name, {"id": did, **subject(type_name)})
    for bad in ["https://example.com/me", "did:KEY:abc", "did:web:", "did:web:a b", "did:web:x#frag"]:
        assert pairs(violation(registry, type_name, {"id": bad, **subject(type_name)})) == {("/id", "pattern")}


@pytest.mark.parametrize(
    ("type_name", "mutate"),
    [
        (RIC, lambda s: s.pop("sex")),
        (RIC, lambda s: s.pop("photoDigest")),
        (RIC, lambda s: s["address"].pop("country")),  # absent means KR
        (RIC, lambda s: s.update(sex=9)),
        (RIC, lambda s: s.update(familyName="남궁", givenNameRomanized="Gil-dong", familyNameRomanized="O'Neil")),
        (RIC, lambda s: s.update(givenNameRomanized="Mary Ann")),
        (RIC, lambda s: s.update(birthDate="2000-02-29")),  # leap day
        (RIC, lambda s: s.update(residentRegistrationNumber="000229-3234567")),
        (RCC, lambda s: s.pop("purpose")),
        (RCC, lambda s: s.update(household=[{"name": "홍길동", "relation": "head"}])),
        (RCC, lambda s: s.update(household=[{"name": "홍길동", "relation": "head"}] + [{"name": "Mary Smith", "relation": "other"}] * 29)),
        (NDC, lambda s: s.pop("apostilleNumber")),
        (NDC, lambda s: s["document"].pop("mediaType")),
        (NDC, lambda s: s["document"].update(mediaType="application/vnd.openxmlformats-officedocument.wordprocessingml.document")),
        (DIP, lambda s: s.pop("fieldOfStudy")),
        (DIP, lambda s: s["institution"].pop("id")),
        (DIP, lambda s: s["graduate"].update(familyName="Smith", givenName="Jane")),
    ],
)
def test_valid_variants(registry: SchemaRegistry, type_name: str, mutate: Callable[[dict[str, Any]], object]) -> None:
    value = subject(type_name)
    mutate(value)
    registry.validate_subject(type_name, value)
    assert reference_validator(type_name).is_valid(value)


# --- invalid subjects ---------------------------------------------------------------------------------------


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A mutation setting the member at a /-separated path (list indices as digits)."""

    def mutate(s: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = s
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(s: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = s
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


NFD_NAME = unicodedata.normalize("NFD", "길동")
HOUSEHOLD_31 = [{"name": "홍길동", "relation": "head"}] + [{"name": "홍하늘", "relation": "child"}] * 30

# (type, mutation, expected (path, keyword) pairs -- exact set, or a set that must be included when marked)
INVALID: list[tuple[str, str, Callable[[dict[str, Any]], object], set[tuple[str, str]]]] = [
    # missing required, top level and nested
    (RIC, "missing givenName", _delete("givenName"), {("/givenName", "required")}),
    (RIC, "missing issuing authority", _delete("issuingAuthority"), {("/issuingAuthority", "required")}),
    (RIC, "missing authority", _delete("issuingAuthority"), {("/issuingAuthority", "required")}),
    (RIC, "missing postal code", _delete("address/postalCode"), {("/address/postalCode", "required")}),
    (RIC, "missing digest value", _delete("photoDigest/value"), {("/photoDigest/value", "required")}),
    (RCC, "missing household", _delete("household"), {("/household", "required")}),
    (RCC, "missing relation", _delete("household/1/relation"), {("/household/1/relation", "required")}),
    (NDC, "missing digest", _delete("document/digestSha256"), {("/document/digestSha256", "required")}),
    (NDC, "missing notary office", _delete("notary/office"), {("/notary/office", "required")}),
    (DIP, "missing graduate birthDate", _delete("graduate/birthDate"), {("/graduate/birthDate", "required")}),
    (DIP, "missing dateAwarded", _delete("dateAwarded"), {("/dateAwarded", "required")}),
    # extra properties, top level and nested
    (RIC, "extra top-level", _set("nationality", "KR"), {("", "additionalProperties")}),
    (RIC, "extra in address", _set("address/apartment", "101호"), {("/address", "additionalProperties")}),
    (RIC, "extra in photoDigest", _set("photoDigest/photo", "base64..."), {("/photoDigest", "additionalProperties")}),
    (RCC, "extra in member", _set("household/2/rrn", "150101-3234567"), {("/household/2", "additionalProperties")}),
    (NDC, "extra in document", _set("document/content", "..."), {("/document", "additionalProperties")}),
    (DIP, "extra in graduate", _set("graduate/sex", 1), {("/graduate", "additionalProperties")}),
    (DIP, "extra in institution", _set("institution/url", "https://u.example"), {("/institution", "additionalProperties")}),
    # dates
    (RIC, "month 13", _set("birthDate", "1990-13-01"), {("/birthDate", "pattern"), ("/birthDate", "format")}),
    (RIC, "30 February", _set("birthDate", "2023-02-30"), {("/birthDate", "format")}),
    (RIC, "29 February non-leap", _set("birthDate", "2001-02-29"), {("/birthDate", "format")}),
    (RIC, "slashes", _set("birthDate", "1990/01/01"), {("/birthDate", "pattern"), ("/birthDate", "format")}),
    (RIC, "two-digit year", _set("birthDate", "90-01-01"), {("/birthDate", "minLength"), ("/birthDate", "pattern"), ("/birthDate", "format")}),
    (RIC, "date-time", _set("birthDate", "1990-01-01T00:00:00Z"), {("/birthDate", "maxLength"), ("/birthDate", "pattern"), ("/birthDate", "format")}),
    (RIC, "year 1850", _set("birthDate", "1850-01-01"), {("/birthDate", "pattern")}),
    (RCC, "bad movedInDate", _set("movedInDate", "2018-3-15"), {("/movedInDate", "minLength"), ("/movedInDate", "pattern"), ("/movedInDate", "format")}),
    (NDC, "bad notarizedDate", _set("notarizedDate", "20240520"), {("/notarizedDate", "minLength"), ("/notarizedDate", "pattern"), ("/notarizedDate", "format")}),
    (DIP, "bad dateAwarded", _set("dateAwarded", "2013-02-31"), {("/dateAwarded", "format")}),
    # resident registration numbers
    (RIC, "RRN without hyphen", _set("residentRegistrationNumber", "9001011234567"), {("/residentRegistrationNumber", "minLength"), ("/residentRegistrationNumber", "pattern")}),
    (RIC, "RRN gender digit 9", _set("residentRegistrationNumber", "900101-9234567"), {("/residentRegistrationNumber", "pattern")}),
    (RIC, "RRN gender digit 0", _set("residentRegistrationNumber", "900101-0234567"), {("/residentRegistrationNumber", "pattern")}),
    (RIC, "RRN trailing newline", _set("residentRegistrationNumber", "900101-1234567\n"), {("/residentRegistrationNumber", "maxLength"), ("/residentRegistrationNumber", "pattern")}),
    (RIC, "RRN fullwidth digits", _set("residentRegistrationNumber", "９００１０１-１２３４５６７"), {("/residentRegistrationNumber", "pattern")}),
    (RIC, "RRN masked", _set("residentRegistrationNumber", "900101-1******"), {("/residentRegistrationNumber", "pattern")}),
    # postal codes
    (RIC, "postal code 4 digits", _set("address/postalCode", "6312"), {("/address/postalCode", "minLength"), ("/address/postalCode", "pattern")}),
    (RIC, "postal code old 6 digits", _set("address/postalCode", "690-700"), {("/address/postalCode", "maxLength"), ("/address/postalCode", "pattern")}),
    (RIC, "postal code letter", _set("address/postalCode", "6312a"), {("/address/postalCode", "pattern")}),
    (RIC, "postal code fullwidth", _set("address/postalCode", "６３１２２"), {("/address/postalCode", "pattern")}),
    (RCC, "postal code number", _set("address/postalCode", 63122), {("/address/postalCode", "type")}),
    (RIC, "country US", _set("address/country", "US"), {("/address/country", "const")}),
    # wrong types
    (RIC, "birthDate integer", _set("birthDate", 19900101), {("/birthDate", "type")}),
    (RIC, "address string", _set("address", "제주시 문연로 6"), {("/address", "type")}),
    (RIC, "sex letter", _set("sex", "M"), {("/sex", "type"), ("/sex", "enum")}),
    (RIC, "sex boolean", _set("sex", True), {("/sex", "type"), ("/sex", "enum")}),
    (RIC, "sex 3", _set("sex", 3), {("/sex", "enum")}),
    (RIC, "name null", _set("givenName", None), {("/givenName", "type")}),
    (RCC, "household object", _set("household", {"name": "홍길동", "relation": "head"}), {("/household", "type")}),
    (NDC, "notary string", _set("notary", "고한라"), {("/notary", "type")}),
    (DIP, "degree list", _set("degree", ["학사"]), {("/degree", "type")}),
    # name scripts and free text
    (RIC, "Latin in Hangul field", _set("givenName", "Gildong"), {("/givenName", "pattern")}),
    (RIC, "decomposed Hangul", _set("givenName", NFD_NAME), {("/givenName", "pattern")}),
    (RIC, "Hangul trailing newline", _set("givenName", "길동\n"), {("/givenName", "pattern")}),
    (RIC, "empty family name", _set("familyName", ""), {("/familyName", "minLength"), ("/familyName", "pattern")}),
    (RIC, "digit in romanized", _set("givenNameRomanized", "Gildong2"), {("/givenNameRomanized", "pattern")}),
    (RIC, "double space romanized", _set("givenNameRomanized", "Gil  dong"), {("/givenNameRomanized", "pattern")}),
    (RIC, "control char", _set("issuingAuthority", "제주시장\u0007"), {("/issuingAuthority", "pattern")}),
    (NDC, "bidi override", _set("document/title", "위임장\u202egnp.exe"), {("/document/title", "pattern")}),
    (NDC, "uppercase digest", _set("document/digestSha256", "ABE69BE8A3D7B77BD4F975296F5A8497DE8E255C427846F07DE1B1C491433307"), {("/document/digestSha256", "pattern")}),
    (NDC, "short digest", _set("document/digestSha256", "abe69be8"), {("/document/digestSha256", "minLength"), ("/document/digestSha256", "pattern")}),
    (NDC, "media type", _set("document/mediaType", "pdf"), {("/document/mediaType", "pattern")}),
    (RIC, "photo alg", _set("photoDigest/alg", "sha-1"), {("/photoDigest/alg", "const")}),
    (RCC, "relation enum", _set("household/1/relation", "friend"), {("/household/1/relation", "enum")}),
    (DIP, "institution id URL", _set("institution/id", "https://jeju.example"), {("/institution/id", "pattern")}),
    # oversized strings and arrays
    (RIC, "long authority", _set("issuingAuthority", "가" * 101), {("/issuingAuthority", "maxLength")}),
    (RIC, "long given name", _set("givenName", "가" * 51), {("/givenName", "maxLength")}),
    (RIC, "long family name", _set("familyName", "가" * 21), {("/familyName", "maxLength")}),
    (RIC, "long romanized", _set("givenNameRomanized", "a" * 101), {("/givenNameRomanized", "maxLength")}),
    (RIC, "long street", _set("address/streetAddress", "가" * 201), {("/address/streetAddress", "maxLength")}),
    (RCC, "long purpose", _set("purpose", "x" * 201), {("/purpose", "maxLength")}),
    (RCC, "long member name", _set("household/0/name", "x" * 101), {("/household/0/name", "maxLength")}),
    (NDC, "long title", _set("document/title", "x" * 201), {("/document/title", "maxLength")}),
    (NDC, "huge title", _set("document/title", "x" * 100_000), {("/document/title", "maxLength")}),
    (DIP, "long degree", _set("degree", "x" * 101), {("/degree", "maxLength")}),
    (RIC, "long DID", _set("id", "did:web:" + "a" * 2041), {("/id", "maxLength")}),
    (RCC, "31 household members", _set("household", HOUSEHOLD_31), {("/household", "maxItems")}),
    (RCC, "empty household", _set("household", []), {("/household", "minItems"), ("/household", "contains")}),
    # household head
    (RCC, "no head", _set("household/0/relation", "other"), {("/household", "contains")}),
    (RCC, "two heads", _set("household/1/relation", "head"), {("/household", "maxContains")}),
]


@pytest.mark.parametrize(("type_name", "case", "mutate", "expected"), INVALID, ids=[c[1] for c in INVALID])
def test_invalid_subject(
    registry: SchemaRegistry,
    type_name: str,
    case: str,
    mutate: Callable[[dict[str, Any]], object],
    expected: set[tuple[str, str]],
) -> None:
    value = subject(type_name)
    mutate(value)
    exc = violation(registry, type_name, value)
    assert pairs(exc) == expected
    assert exc.code == "schema_violation" and exc.status == 422
    assert all(set(e) == {"path", "keyword"} for e in exc.errors)
    # Plain jsonschema agrees the subject is invalid, except where Python's "$" lets a final newline through.
    if "newline" not in case:
        assert not reference_validator(type_name).is_valid(value)


def test_subject_must_be_an_object(registry: SchemaRegistry) -> None:
    for value in ([], "subject", None, 1):
        assert pairs(violation(registry, RIC, value)) == {("", "type")}


def test_several_errors_are_reported_sorted(registry: SchemaRegistry) -> None:
    value = subject(RIC)
    value["birthDate"] = "1990-02-30"
    value["address"]["postalCode"] = "abcde"
    del value["issuingAuthority"]
    exc = violation(registry, RIC, value)
    assert exc.errors == [
        {"path": "/address/postalCode", "keyword": "pattern"},
        {"path": "/birthDate", "keyword": "format"},
        {"path": "/issuingAuthority", "keyword": "required"},
    ]
    assert "/address/postalCode (pattern)" in exc.detail


def test_error_list_is_capped(registry: SchemaRegistry) -> None:
    value = subject(RCC)
    value["household"] = [{"name": "", "relation": "neighbour", "extra": 1} for _ in range(30)]
    exc = violation(registry, RCC, value)
    assert len(exc.errors) == MAX_REPORTED_ERRORS
    assert "more" in exc.detail


def test_huge_array_is_cheap_to_reject(registry: SchemaRegistry) -> None:
    value = subject(RCC)
    value["household"] = [{"name": "\u0000", "relation": 7}] * 50_000
    started = time.perf_counter()
    exc = violation(registry, RCC, value)
    elapsed = time.perf_counter() - started
    # The oversized array is rejected by its bound; its elements are not walked.
    assert pairs(exc) == {("/household", "maxItems")}
    assert elapsed < 0.05


# --- nothing of the input leaks into errors -----------------------------------------------------------------


def _rendered(exc: SchemaViolation) -> str:
    return "\n".join([str(exc), repr(exc), exc.detail, repr(exc.args), json.dumps(exc.errors, ensure_ascii=False)])


def test_bad_rrn_value_is_not_in_the_error(registry: SchemaRegistry) -> None:
    bad = "851231-9876543"
    value = subject(RIC)
    value["residentRegistrationNumber"] = bad
    exc = violation(registry, RIC, value)
    rendered = _rendered(exc)
    for fragment in (bad, "851231", "9876543"):
        assert fragment not in rendered


def test_extra_property_names_are_not_in_the_error(registry: SchemaRegistry) -> None:
    # A caller may put personal data in a key; keys the schema does not define are never echoed.
    value = subject(RIC)
    value["address"]["851231-1876543"] = "x"
    value["홍길순"] = {"rrn": "851231-2876543"}
    exc = violation(registry, RIC, value)
    assert pairs(exc) == {("", "additionalProperties"), ("/address", "additionalProperties")}
    rendered = _rendered(exc)
    assert "851231" not in rendered and "홍길순" not in rendered


def test_valid_values_next_to_errors_are_not_in_the_error(registry: SchemaRegistry) -> None:
    value = subject(RIC)
    value["sex"] = "F"
    rendered = _rendered(violation(registry, RIC, value))
    for fragment in ("900101-1234567", "홍", "길동", "Gildong", "문연로", "63122", "1990-01-01"):
        assert fragment not in rendered


MARKER = "Q7ZX"

string_paths = st.sampled_from(
    [
        (RIC, "residentRegistrationNumber"),
        (RIC, "givenName"),
        (RIC, "birthDate"),
        (RIC, "address/postalCode"),
        (RIC, "photoDigest/value"),
        (RIC, "sex"),
        (RCC, "household/1/relation"),
        (RCC, "movedInDate"),
        (NDC, "document/digestSha256"),
        (NDC, "document/mediaType"),
        (DIP, "institution/id"),
        (DIP, "graduate/birthDate"),
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=string_paths, tail=st.text(max_size=40))
def test_no_invalid_value_ever_appears_in_errors(
    registry: SchemaRegistry, target: tuple[str, str], tail: str
) -> None:
    # The marker contains characters none of these fields accept, so the value is always invalid.
    type_name, path = target
    bad = f"{MARKER}{tail}{MARKER}!\u0000"
    value = subject(type_name)
    _set(path, bad)(value)
    exc = violation(registry, type_name, value)
    assert MARKER not in _rendered(exc)
    assert {e["path"] for e in exc.errors} == {"/" + path}


# --- registry API -------------------------------------------------------------------------------------------


def test_unknown_type(registry: SchemaRegistry) -> None:
    with pytest.raises(UnknownCredentialType) as info:
        registry.get("PassportCredential")
    assert info.value.code == "unknown_credential_type" and info.value.status == 422
    with pytest.raises(UnknownCredentialType) as info:
        registry.validate_subject("900101-1234567", subject(RIC))
    assert "900101" not in str(info.value)
    with pytest.raises(UnknownCredentialType):
        registry.get("defs")  # shared definitions are not a type
    with pytest.raises(UnknownCredentialType):
        registry.validate_subject(None, {})  # type: ignore[arg-type]


def test_get_returns_the_type_with_its_annotation(registry: SchemaRegistry) -> None:
    ric = registry.get(RIC)
    assert isinstance(ric, CredentialType)
    assert ric.name == RIC
    assert ric.display_name == {"ko": "주민등록증", "en": "Resident Identity Credential"}
    assert "residentRegistrationNumber" in ric.personal_claims
    assert "issuingAuthority" not in ric.personal_claims
    assert ric.schema["$id"] == SCHEMA_ID_PREFIX + "ResidentIdentityCredential.schema.json"
    assert registry.get(RCC).personal_claims == ("address", "movedInDate", "household")


@pytest.mark.parametrize("type_name", TYPES)
def test_every_type_has_display_names_and_personal_claims(registry: SchemaRegistry, type_name: str) -> None:
    ct = registry.get(type_name)
    assert ct.display_name["ko"] and ct.display_name["en"]
    assert ct.personal_claims and set(ct.personal_claims) <= set(ct.schema["properties"])


def test_mutating_the_returned_schema_does_not_change_validation(registry: SchemaRegistry) -> None:
    ct = registry.get(RIC)
    saved = copy.deepcopy(ct.schema)
    try:
        ct.schema["additionalProperties"] = True
        ct.schema["required"].clear()
        assert pairs(violation(registry, RIC, {"nickname": "x"})) >= {("", "additionalProperties")}
    finally:
        ct.schema.clear()
        ct.schema.update(saved)


def test_find_type(registry: SchemaRegistry) -> None:
    assert registry.find_type(["VerifiableCredential", RIC]).name == RIC  # type: ignore[union-attr]
    assert registry.find_type([RCC, "VerifiableCredential"]).name == RCC  # type: ignore[union-attr]
    assert registry.find_type(RIC).name == RIC  # type: ignore[union-attr]
    assert registry.find_type(["VerifiableCredential", RIC, RIC]).name == RIC  # type: ignore[union-attr]
    assert registry.find_type(["VerifiableCredential"]) is None
    assert registry.find_type([]) is None
    with pytest.raises(Unprocessable) as info:
        registry.find_type(["VerifiableCredential", RIC, DIP])
    assert info.value.code == "ambiguous_credential_type"


# --- the schema files themselves ----------------------------------------------------------------------------


SCHEMA_FILES = sorted(CREDENTIAL_SCHEMAS.glob("*.schema.json"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_schema_file_is_a_valid_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID_PREFIX + path.name


def _schemas(node: Any, inside_contains: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every subschema, flagged when it is only a `contains` filter (which admits nothing by itself)."""
    if not isinstance(node, dict):
        return
    yield node, inside_contains
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties"):
            for sub in value.values():
                yield from _schemas(sub, inside_contains)
        elif key in ("items", "additionalProperties", "not", "if", "then", "else"):
            yield from _schemas(value, inside_contains)
        elif key == "contains":
            yield from _schemas(value, True)
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            for sub in value:
                yield from _schemas(sub, inside_contains)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_schema_file_is_closed_and_bounded(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    for node, filter_only in _schemas(schema):
        if filter_only:
            continue
        if node.get("type") == "object" or "properties" in node:
            assert node.get("additionalProperties") is False, node
        if node.get("type") == "string" or "pattern" in node:
            assert isinstance(node.get("maxLength"), int), node
        if node.get("type") == "array":
            assert isinstance(node.get("maxItems"), int), node
        if "pattern" in node:
            assert node["pattern"].startswith("^") and node["pattern"].endswith("$"), node
            # \d \w \s mean different things in ECMA-262 and Python; spell classes out.
            assert not any(e in node["pattern"] for e in ("\\d", "\\w", "\\s", "\\D", "\\W", "\\S")), node
        if node.get("format") == "date":
            assert "pattern" in node, node
        if "$ref" in node:
            assert not node["$ref"].startswith(("http:", "https:")), node


@pytest.mark.parametrize("type_name", TYPES)
def test_fixture_file_exists_for_every_type(type_name: str) -> None:
    assert (SUBJECTS / f"{type_name}.json").is_file()


# --- loader -------------------------------------------------------------------------------------------------


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    """A writable copy of schemas/credentials holding the real files."""
    target = tmp_path / "schemas" / "credentials"
    target.mkdir(parents=True)
    for f in SCHEMA_FILES:
        (target / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path / "schemas"


def _add_type(root: Path, name: str, body: dict[str, Any]) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID_PREFIX + f"{name}.schema.json",
        "x-did-service": {
            "displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"], "selectivelyDisclosable": [["a"]],
        },
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": {"type": "string", "maxLength": 5}},
        **body,
    }
    (root / "credentials" / f"{name}.schema.json").write_text(json.dumps(schema), encoding="utf-8")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the schema loader tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_loader_accepts_a_copy_and_a_new_type(schema_copy: Path) -> None:
    _add_type(schema_copy, "TestCredential", {"properties": {"a": {"$ref": "defs.schema.json#/$defs/date"}}})
    reg = SchemaRegistry.from_directory(schema_copy)
    assert "TestCredential" in reg.names()
    reg.validate_subject("TestCredential", {"a": "2024-01-01"})
    assert pairs(violation(reg, "TestCredential", {"a": "2024-02-30"})) == {("/a", "format")}


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "ref",
    [
        "https://example.com/evil.schema.json",
        "https://json-schema.org/draft/2020-12/schema",  # even the metaschema: nothing outside the directory
        "http://schemas.did-service.example/credentials/defs.schema.json#/$defs/date",
        "other.schema.json",
        "defs.schema.json#/$defs/nope",
    ],
)
def test_loader_refuses_refs_outside_the_loaded_files(schema_copy: Path, ref: str) -> None:
    _add_type(schema_copy, "TestCredential", {"properties": {"a": {"$ref": ref}}})
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(schema_copy)


@pytest.mark.usefixtures("no_network")
def test_loader_refuses_a_remote_ref_in_the_shared_definitions(schema_copy: Path) -> None:
    defs_file = schema_copy / "credentials" / "defs.schema.json"
    defs = json.loads(defs_file.read_text(encoding="utf-8"))
    defs["$defs"]["unused"] = {"$ref": "https://example.com/x.json"}
    defs_file.write_text(json.dumps(defs), encoding="utf-8")
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(schema_copy)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("TestCredential", {"type": "objekt"}),  # not a valid 2020-12 schema
        ("TestCredential", {"$id": "https://elsewhere.example/TestCredential.schema.json"}),
        ("TestCredential", {"$schema": "http://json-schema.org/draft-07/schema#"}),
        ("TestCredential", {"x-did-service": {"personalClaims": ["a"]}}),
        ("TestCredential", {"x-did-service": {"displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["b"]}}),
        # a personal claim that selective disclosure could not hide
        ("TestCredential", {"x-did-service": {
            "displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"], "selectivelyDisclosable": []}}),
        # disclosable paths must start at a property, be distinct, and be lists of names or null
        ("TestCredential", {"x-did-service": {
            "displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"], "selectivelyDisclosable": [["a"], ["b"]]}}),
        ("TestCredential", {"x-did-service": {
            "displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"], "selectivelyDisclosable": [["a"], ["a"]]}}),
        ("TestCredential", {"x-did-service": {
            "displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"], "selectivelyDisclosable": [["a", 1]]}}),
        ("TestCredential", {"x-did-service": {
            "displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"], "selectivelyDisclosable": [["a", "x"]]}}),
        # the resident registration number is never a clear claim
        ("TestCredential", {
            "x-did-service": {"displayName": {"ko": "시험", "en": "Test"}, "personalClaims": ["a"],
                              "selectivelyDisclosable": [["a"]]},
            "properties": {"a": {"type": "string"}, "residentRegistrationNumber": {"type": "string"}}}),
        ("TestCredential", {"properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"$ref": "#/$defs/a"}}}),
        ("Test_Credential", {}),
        ("TestCredential", {"properties": {"a": {"type": "string", "maxLength": 5, "pattern": "^(?<x>a)$"}}}),
    ],
)
def test_loader_refuses_bad_schemas(schema_copy: Path, name: str, body: dict[str, Any]) -> None:
    _add_type(schema_copy, name, body)
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(schema_copy)


def test_loader_refuses_duplicate_keys_and_non_json(schema_copy: Path) -> None:
    bad = schema_copy / "credentials" / "TestCredential.schema.json"
    bad.write_text('{"type": "object", "type": "string"}', encoding="utf-8")
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(schema_copy)
    bad.write_text('{"maximum": NaN}', encoding="utf-8")
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(schema_copy)


def test_loader_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(tmp_path)
    (tmp_path / "credentials").mkdir()
    with pytest.raises(ConfigurationError):
        SchemaRegistry.from_directory(tmp_path)  # no types at all


# --- selective disclosure -----------------------------------------------------------------------------------


def test_every_type_declares_its_personal_claims_disclosable_and_the_rrn_never_clear(registry: SchemaRegistry) -> None:
    for name in registry.names():
        credential_type = registry.get(name)
        top = {path[0] for path in credential_type.disclosable if len(path) == 1}
        assert set(credential_type.personal_claims) <= top
    assert ("residentRegistrationNumber",) in registry.get("ResidentIdentityCredential").disclosable
    assert ("household", None) in registry.get("ResidenceCertificateCredential").disclosable


def test_a_disclosed_subset_validates_but_what_is_shown_is_still_checked(registry: SchemaRegistry) -> None:
    full = subject("ResidentIdentityCredential")
    shown = {k: full[k] for k in ("familyName", "givenName", "birthDate", "issuingAuthority")}
    with pytest.raises(SchemaViolation):
        registry.validate_subject("ResidentIdentityCredential", shown)  # a full credential needs every claim
    registry.validate_subject("ResidentIdentityCredential", shown, disclosed_subset=True)
    # issuingAuthority is not disclosable: a presentation always carries it
    without_clear = {k: v for k, v in shown.items() if k != "issuingAuthority"}
    assert pairs(violation_subset(registry, "ResidentIdentityCredential", without_clear)) == {("/issuingAuthority", "required")}
    bad_rrn = {**shown, "residentRegistrationNumber": "900101-9234567"}
    assert pairs(violation_subset(registry, "ResidentIdentityCredential", bad_rrn)) == {("/residentRegistrationNumber", "pattern")}
    assert pairs(violation_subset(registry, "ResidentIdentityCredential", {**shown, "extra": 1})) == {("", "additionalProperties")}


def test_a_disclosed_subset_of_array_elements_validates(registry: SchemaRegistry) -> None:
    full = subject("ResidenceCertificateCredential")
    spouse_only = {**full, "household": [m for m in full["household"] if m["relation"] == "spouse"]}
    with pytest.raises(SchemaViolation):  # exactly one head is required of a full certificate
        registry.validate_subject("ResidenceCertificateCredential", spouse_only)
    registry.validate_subject("ResidenceCertificateCredential", spouse_only, disclosed_subset=True)
    registry.validate_subject("ResidenceCertificateCredential", {**full, "household": []}, disclosed_subset=True)
    two_heads = {**full, "household": [{"name": "가", "relation": "head"}, {"name": "나", "relation": "head"}]}
    assert ("/household", "maxContains") in pairs(violation_subset(registry, "ResidenceCertificateCredential", two_heads))


def test_nested_disclosable_members_are_optional_only_in_a_subset(registry: SchemaRegistry) -> None:
    full = subject("DiplomaCredential")
    partial = {**full, "graduate": {"familyName": full["graduate"]["familyName"]}}
    with pytest.raises(SchemaViolation):
        registry.validate_subject("DiplomaCredential", partial)
    registry.validate_subject("DiplomaCredential", partial, disclosed_subset=True)


def violation_subset(registry: SchemaRegistry, type_name: str, value: object) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as caught:
        registry.validate_subject(type_name, value, disclosed_subset=True)
    return caught.value


def test_the_rrn_is_optional_so_other_formats_can_issue_identity_without_it(registry: SchemaRegistry) -> None:
    full = subject(RIC)
    assert "residentRegistrationNumber" not in full
    registry.validate_subject(RIC, full)
    registry.validate_subject(RIC, {**full, "residentRegistrationNumber": "900101-1234567"})
