"""Credential types and their JSON Schema 2020-12 definitions of ``credentialSubject``.

The schemas live in ``schemas/credentials/``: one ``<Type>.schema.json`` per credential type (PascalCase, the
VC ``type`` term) plus lowercase-named files of shared ``$defs`` that are not types. ``SchemaRegistry`` reads
them once (``from_directory``); everything after that is pure.

Three decisions worth knowing:

* References resolve only among the loaded files. A ``$ref`` to anything else (another host, a typo) refuses
  the whole load, so validation can never reach the network or fail half-way at run time.
* ``pattern`` follows ECMA-262, as JSON Schema requires, not Python's ``re``: in Python ``$`` also matches
  before a final newline, so ``"900101-1234567\\n"`` would pass ``^...$``. The validator class below
  translates ``$`` to ``\\Z`` and makes ``\\d``/``\\w``/``\\b`` ASCII-only as in ECMA-262 (``\\s`` then
  differs instead; the schemas spell out character classes rather than use these escapes).
* Validity is decided by jsonschema-rs (a compiled 2020-12 validator, ~100x faster: validation runs on every
  issuance and verification); the pure-Python ``jsonschema`` validator checks the schemas against the
  metaschema and, when a subject is invalid, names the failing paths. A differential test keeps the two in
  agreement, and if they ever disagree on an invalid subject the subject is still rejected.
* ``SchemaViolation`` carries JSON Pointer paths and keywords only. jsonschema's messages quote the
  offending value, which may be a resident registration number, so they are never used.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator, ValidationError
from referencing.jsonschema import DRAFT202012

from did_service.core import strict_json
from did_service.errors import ConfigurationError, SchemaViolation, UnknownCredentialType, Unprocessable

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Every schema's ``$id`` is this prefix plus its file name, so relative ``$ref``s such as
#: ``defs.schema.json#/$defs/address`` resolve the same way in any tool that loads the directory.
SCHEMA_ID_PREFIX = "https://schemas.did-service.example/credentials/"
SCHEMA_SUFFIX = ".schema.json"
ANNOTATION = "x-did-service"
#: The resident registration number: only a regulated bank may see it, so it is never an always-shown claim.
RRN_CLAIM = "residentRegistrationNumber"
#: At most this many entries in ``SchemaViolation.errors``; enough to fix a request, bounded for hostile ones.
MAX_REPORTED_ERRORS = 20
# iter_errors is lazy; stop collecting well before a hostile instance (thousands of bad items) costs much.
_MAX_COLLECTED_ERRORS = 100
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*\Z")


# --- ECMA-262 pattern semantics -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _compile_ecma(pattern: str) -> re.Pattern[str]:
    """Compile an ECMA-262 ``pattern`` for Python with ECMA's meaning of ``$`` and ``\\d``/``\\w``/``\\b``.

    Only ``$`` outside character classes and escapes is rewritten; everything else in the schemas is written in
    the common subset of both dialects.
    """
    out: list[str] = []
    in_class = False
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(ch + next(chars, ""))
        elif in_class:
            in_class = ch != "]"
            out.append(ch)
        elif ch == "[":
            # "[]" and "[^]" differ between the dialects; the schemas do not use them.
            in_class = True
            out.append(ch)
        elif ch == "$":
            out.append(r"\Z")
        else:
            out.append(ch)
    return re.compile("".join(out), re.ASCII)


def _ecma_pattern(
    validator: jsonschema.protocols.Validator, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compile_ecma(pattern).search(instance):  # type: ignore[arg-type]
        # No value in the message: nothing downstream should ever be tempted to show it.
        yield ValidationError("does not match the pattern")


def _skip_oversized(keyword: str) -> Any:
    """Wrap an array keyword so it does not walk an array that already breaks ``maxItems`` next to it.

    ``contains`` and ``items`` visit every element even when the array is far too long; the ``maxItems`` error
    is enough to reject it, and a hostile 50,000-element array should cost no more than a short one.
    """
    original = Draft202012Validator.VALIDATORS[keyword]

    def check(
        validator: jsonschema.protocols.Validator, value: Any, instance: object, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        limit = schema.get("maxItems")
        if isinstance(instance, list) and isinstance(limit, int) and len(instance) > limit:
            return
        yield from original(validator, value, instance, schema) or ()

    return check


def _max_items(
    validator: jsonschema.protocols.Validator, limit: int, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # jsonschema's own message is repr(instance): for an oversized array that costs more than everything else.
    if validator.is_type(instance, "array") and len(instance) > limit:  # type: ignore[arg-type]
        yield ValidationError("too many items")


def _max_length(
    validator: jsonschema.protocols.Validator, limit: int, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # Same reason as _max_items; length in code points, as JSON Schema counts it.
    if validator.is_type(instance, "string") and len(instance) > limit:  # type: ignore[arg-type]
        yield ValidationError("too long")


_Validator = jsonschema.validators.extend(
    Draft202012Validator,
    {
        "pattern": _ecma_pattern,
        "maxItems": _max_items,
        "maxLength": _max_length,
        "contains": _skip_oversized("contains"),
        "items": _skip_oversized("items"),
        "prefixItems": _skip_oversized("prefixItems"),
    },
)


# --- types --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialType:
    """A registered credential type.

    ``schema`` is a private copy: mutating it does not change validation. ``personal_claims`` are the top-level
    ``credentialSubject`` claims that are personal data. ``disclosable`` are the claim paths (SD-JWT VC claim
    paths inside ``credentialSubject``: a string is a member, None every element of an array) an SD-JWT
    issuance makes selectively disclosable; every personal claim is one of them.
    """

    name: str
    schema: dict[str, Any] = field(hash=False)
    display_name: dict[str, str] = field(hash=False)
    personal_claims: tuple[str, ...]
    disclosable: tuple[tuple[str | None, ...], ...] = ()


@dataclass(frozen=True)
class _Entry:
    credential_type: CredentialType
    validator: Any  # an instance of _Validator (a dynamically created jsonschema validator class)
    fast: jsonschema_rs.Draft202012Validator  # decides validity; `validator` explains failures
    # The same schema with what selective disclosure may leave out no longer required: a presentation shows a subset.
    partial: jsonschema_rs.Draft202012Validator
    partial_explainer: Any
    compiled: dict[str, Any]


class SchemaRegistry:
    """The credential types the service knows, each with a compiled validator for its ``credentialSubject``."""

    def __init__(self, entries: Mapping[str, _Entry]) -> None:
        # Use from_directory; this constructor trusts that entries were checked.
        self._entries = dict(entries)

    @classmethod
    def from_directory(cls, path: Path) -> SchemaRegistry:
        """Load every ``credentials/*.schema.json`` under ``path`` (the top-level ``schemas/`` directory).

        Raises ``ConfigurationError`` for an unreadable or invalid schema, an ``$id`` that does not match its
        file name, a ``$ref`` that does not resolve among the loaded files, or a bad ``x-did-service``
        annotation. This is the only function here that does I/O.
        """
        directory = Path(path) / "credentials"
        if not directory.is_dir():
            raise ConfigurationError(f"schema directory not found: {directory}")
        documents = {file.name: _read_schema(file) for file in sorted(directory.glob("*" + SCHEMA_SUFFIX))}

        resources = [(SCHEMA_ID_PREFIX + name, DRAFT202012.create_resource(doc)) for name, doc in documents.items()]
        # No retrieve function: the default one refuses every URI not in the registry, so nothing is fetched.
        registry: referencing.Registry[Any] = referencing.Registry().with_resources(resources).crawl()
        for name in documents:
            _check_refs(registry, SCHEMA_ID_PREFIX + name, name)

        entries: dict[str, _Entry] = {}
        for file_name, document in documents.items():
            type_name = file_name[: -len(SCHEMA_SUFFIX)]
            if not type_name[:1].isupper():
                continue  # shared definitions (defs.schema.json), not a credential type
            if not _TYPE_NAME.match(type_name):
                raise ConfigurationError(f"{file_name}: a credential type name must be PascalCase ASCII")
            credential_type = _credential_type(type_name, document)
            # The validator gets its own (inlined) copy, so nobody holding the CredentialType can change validation.
            compiled = _inline(document, registry.resolver(base_uri=SCHEMA_ID_PREFIX + file_name), file_name)
            validator = _Validator(compiled, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
            fast = jsonschema_rs.Draft202012Validator(compiled, validate_formats=True, offline=True)
            relaxed = _relax(compiled, credential_type.disclosable, file_name)
            entries[type_name] = _Entry(
                credential_type, validator, fast,
                jsonschema_rs.Draft202012Validator(relaxed, validate_formats=True, offline=True),
                _Validator(relaxed, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER),
                compiled,
            )
        if not entries:
            raise ConfigurationError(f"no credential type schemas in {directory}")
        return cls(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> CredentialType:
        return self._entry(name).credential_type

    def find_type(self, types: Sequence[str] | str) -> CredentialType | None:
        """The one registered type among a credential's ``type`` values, or None if there is none.

        Two different registered types make the credential ambiguous (which schema applies?), so that is an
        error rather than a guess.
        """
        if isinstance(types, str):  # VCDM allows a single term instead of an array
            types = [types]
        found = sorted({t for t in types if isinstance(t, str) and t in self._entries})
        if len(found) > 1:
            raise Unprocessable(
                "the credential has more than one registered credential type: " + ", ".join(found),
                code="ambiguous_credential_type",
            )
        return self._entries[found[0]].credential_type if found else None

    def compiled_schema(self, type_name: str) -> dict[str, Any]:
        """A self-contained copy of the type's subject schema (every ``$ref`` inlined), for publishing."""
        return copy.deepcopy(self._entry(type_name).compiled)

    def validate_subject(self, type_name: str, subject: object, *, disclosed_subset: bool = False) -> None:
        """Raise ``SchemaViolation`` unless ``subject`` is a valid ``credentialSubject`` of ``type_name``.

        ``disclosed_subset``: the subject is what a selective-disclosure presentation revealed, so claims the type
        declares disclosable may be missing (and disclosable array elements may be fewer); whatever is present
        must still be valid.
        """
        entry = self._entry(type_name)
        fast, explainer = (entry.partial, entry.partial_explainer) if disclosed_subset else (entry.fast, entry.validator)
        if fast.is_valid(subject):
            return
        collected = itertools.islice(explainer.iter_errors(subject), _MAX_COLLECTED_ERRORS)
        # Should the explaining validator find nothing, the subject is still invalid: say so at the root.
        problems = sorted({item for error in collected for item in _describe(error)}) or [("", "schema")]
        shown = problems[:MAX_REPORTED_ERRORS]
        listed = ", ".join(f"{path or '/'} ({keyword})" for path, keyword in shown)
        more = f" and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise SchemaViolation(
            # Paths hold only schema-defined property names and array indices, never input values.
            f"credentialSubject does not match the {type_name} schema: {listed}{more}",
            errors=[{"path": path, "keyword": keyword} for path, keyword in shown],
        )

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            # The name is caller input and details never echo input; the caller knows what it sent.
            raise UnknownCredentialType("the credential type is not registered")
        return entry


# --- loading helpers ----------------------------------------------------------------------------------------


def _read_schema(file: Path) -> dict[str, Any]:
    try:
        # Strict: json keeps the last duplicate key silently; in a schema that hides a rule someone wrote.
        document = strict_json.loads(file.read_bytes())
    except (OSError, strict_json.StrictJsonError) as exc:
        raise ConfigurationError(f"{file.name}: cannot read schema: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(f"{file.name}: a schema must be a JSON object")
    if document.get("$schema") != SCHEMA_DIALECT:
        raise ConfigurationError(f"{file.name}: $schema must be {SCHEMA_DIALECT}")
    if document.get("$id") != SCHEMA_ID_PREFIX + file.name:
        raise ConfigurationError(f"{file.name}: $id must be {SCHEMA_ID_PREFIX + file.name}")
    try:
        Draft202012Validator.check_schema(document)
    except jsonschema.SchemaError as exc:
        pointer = _pointer(exc.absolute_path)
        raise ConfigurationError(f"{file.name}: not a valid 2020-12 schema at {pointer or '/'}") from exc
    return document


def _check_refs(registry: referencing.Registry[Any], uri: str, file_name: str) -> None:
    """Resolve every ``$ref``/``$dynamicRef`` in one loaded document now, so a bad one fails the load."""
    pending = [(registry.resolver(base_uri=uri), registry[uri])]
    while pending:
        resolver, resource = pending.pop()
        contents = resource.contents
        if isinstance(contents, dict):
            for keyword in ("$ref", "$dynamicRef"):
                ref = contents.get(keyword)
                if ref is None:
                    continue
                if not isinstance(ref, str):
                    raise ConfigurationError(f"{file_name}: {keyword} must be a string")
                try:
                    resolver.lookup(ref)
                except referencing.exceptions.Unresolvable as exc:
                    raise ConfigurationError(
                        f"{file_name}: {keyword} {ref!r} does not resolve to a loaded schema "
                        "(remote references are not fetched)"
                    ) from exc
        # subresources() walks only schema positions (not enum/const/default values) and tracks nested $id.
        pending.extend((resolver.in_subresource(sub), sub) for sub in resource.subresources())


# Keywords whose value is a schema, an array of schemas, or a map of names to schemas (2020-12 core+validation).
_SCHEMA_KEYWORDS = frozenset(
    {"additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
     "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
)
_SCHEMA_ARRAY_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "dependentSchemas"})
# Annotations do nothing during validation but are still visited by jsonschema on every call.
_DROPPED_KEYWORDS = frozenset({"$defs", "$schema", "$comment", "title", "description", "default", "examples"})


def _inline(
    node: Any, resolver: referencing.Resolver[Any], file_name: str, *, root: bool = True, stack: tuple[int, ...] = ()
) -> Any:
    """A copy of a schema with every ``$ref`` replaced by the schema it points to.

    Resolving a ``$ref`` costs jsonschema about half of a validation (URL joins and registry look-ups on every
    call), and validation runs on every issuance and verification, so references are resolved once, here.
    ``{"$ref": X, ...}`` becomes ``{..., "allOf": [X]}``, which means the same thing in 2020-12 and reports
    errors at the same instance paths with the same keywords. ``root`` marks a document's top, the only place
    an ``$id`` may appear (a nested ``$id`` would change the base URI under it).
    """
    if not isinstance(node, dict):
        return node  # boolean schemas
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS or key.startswith("x-") or key in ("$ref", "$id"):
            continue
        if key in ("$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"):
            raise ConfigurationError(f"{file_name}: {key} is not supported in credential schemas")
        if key in _SCHEMA_KEYWORDS:
            result[key] = _inline(value, resolver, file_name, root=False, stack=stack)
        elif key in _SCHEMA_ARRAY_KEYWORDS:
            result[key] = [_inline(item, resolver, file_name, root=False, stack=stack) for item in value]
        elif key in _SCHEMA_MAP_KEYWORDS:
            result[key] = {
                name: _inline(item, resolver, file_name, root=False, stack=stack) for name, item in value.items()
            }
        else:
            if key == "pattern" and isinstance(value, str):
                try:
                    _compile_ecma(value)  # fail the load, not the first validation that reaches this pattern
                except re.error as exc:
                    raise ConfigurationError(f"{file_name}: pattern is not usable: {exc}") from exc
            result[key] = copy.deepcopy(value)
    if "$id" in node and not root:
        raise ConfigurationError(f"{file_name}: nested $id is not supported in credential schemas")
    ref = node.get("$ref")
    if isinstance(ref, str):
        try:
            resolved = resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as exc:
            raise ConfigurationError(f"{file_name}: $ref {ref!r} does not resolve to a loaded schema") from exc
        target_root = isinstance(resolved.contents, dict) and "$id" in resolved.contents
        marker = id(resolved.contents)  # the registry's own object: the same target has the same identity
        if marker in stack:
            raise ConfigurationError(f"{file_name}: recursive $ref {ref!r} is not supported")
        target = _inline(resolved.contents, resolved.resolver, file_name, root=target_root, stack=(*stack, marker))
        merged = _merge(target, result)
        if merged is not None:
            return merged
        result["allOf"] = [target, *result.get("allOf", [])]
    return result


# Bounds combine exactly: both apply, so the stricter wins.
_UPPER_BOUNDS = frozenset({"maxLength", "maxItems", "maxProperties", "maximum"})
_LOWER_BOUNDS = frozenset({"minLength", "minItems", "minProperties", "minimum"})
# Keywords that judge the instance on their own (unlike e.g. additionalProperties, which depends on the
# properties next to it), so moving one into another schema object keeps its meaning.
_INDEPENDENT = frozenset({"type", "format", "pattern", "const", "enum"}) | _UPPER_BOUNDS | _LOWER_BOUNDS


def _merge(target: Any, siblings: dict[str, Any]) -> dict[str, Any] | None:
    """``target`` and ``siblings`` as one schema object when that is exactly equivalent, else None.

    ``{"$ref": text, "maxLength": 200}`` is the common case; without merging, every such reference would cost
    jsonschema an extra ``allOf`` descent per validation.
    """
    if not isinstance(target, dict) or not siblings.keys() <= _INDEPENDENT:
        return None
    merged = dict(target)
    for key, value in siblings.items():
        if key not in merged:
            merged[key] = value
        elif key in _UPPER_BOUNDS:
            merged[key] = min(merged[key], value)
        elif key in _LOWER_BOUNDS:
            merged[key] = max(merged[key], value)
        elif merged[key] != value:
            return None  # two patterns, two enums...: keep both via allOf
    return merged


def _credential_type(name: str, document: dict[str, Any]) -> CredentialType:
    annotation = document.get(ANNOTATION)
    if not isinstance(annotation, dict):
        raise ConfigurationError(f"{name}: missing {ANNOTATION} annotation")
    display_name = annotation.get("displayName")
    if not (
        isinstance(display_name, dict)
        and {"ko", "en"} <= display_name.keys()
        and all(isinstance(v, str) and v for v in display_name.values())
    ):
        raise ConfigurationError(f"{name}: {ANNOTATION}.displayName needs non-empty ko and en strings")
    personal = annotation.get("personalClaims")
    properties = document.get("properties")
    if document.get("type") != "object" or not isinstance(properties, dict):
        raise ConfigurationError(f"{name}: a credentialSubject schema must be an object with properties")
    if not (isinstance(personal, list) and all(isinstance(c, str) for c in personal)):
        raise ConfigurationError(f"{name}: {ANNOTATION}.personalClaims must be a list of claim names")
    unknown = sorted(set(personal) - properties.keys())
    if unknown or len(set(personal)) != len(personal):
        raise ConfigurationError(f"{name}: personalClaims must be distinct properties; bad: {unknown}")
    disclosable = _disclosable_paths(name, annotation.get("selectivelyDisclosable"), properties)
    undisclosable = sorted(set(personal) - {path[0] for path in disclosable if len(path) == 1})
    if undisclosable:
        raise ConfigurationError(f"{name}: personal claims must be selectively disclosable: {undisclosable}")
    if RRN_CLAIM in properties and (RRN_CLAIM,) not in disclosable:
        raise ConfigurationError(f"{name}: {RRN_CLAIM} must be selectively disclosable, never in clear")
    return CredentialType(
        name=name,
        schema=copy.deepcopy(document),
        display_name=dict(display_name),
        personal_claims=tuple(personal),
        disclosable=disclosable,
    )


def _disclosable_paths(name: str, declared: Any, properties: dict[str, Any]) -> tuple[tuple[str | None, ...], ...]:
    """The ``selectivelyDisclosable`` claim paths, checked: each starts at a subject property; no duplicates."""
    if not isinstance(declared, list) or not all(
        isinstance(path, list) and path and all(p is None or (isinstance(p, str) and p) for p in path)
        and isinstance(path[0], str) for path in declared
    ):
        raise ConfigurationError(
            f"{name}: {ANNOTATION}.selectivelyDisclosable must be a list of claim paths (lists of names or null)"
        )
    paths = tuple(tuple(path) for path in declared)
    if len(set(paths)) != len(paths) or any(path[0] not in properties or path[0] == "id" for path in paths):
        raise ConfigurationError(f"{name}: selectivelyDisclosable paths must be distinct and name subject properties")
    # A parent must be disclosable for a nested path to mean anything on its own: otherwise the parent is clear
    # and the nested disclosure is the only thing hidden, which is allowed; no further rule.
    return paths


def _relax(schema: dict[str, Any], paths: Sequence[tuple[str | None, ...]], file_name: str) -> dict[str, Any]:
    """A copy of an inlined schema in which every disclosable claim is optional.

    A disclosable member is dropped from its object's ``required``; an array whose elements are disclosable
    loses its lower bounds (``minItems``, ``minContains``), because a holder may reveal none or some of them.
    Everything that is revealed is still checked in full.
    """
    relaxed = copy.deepcopy(schema)
    for path in paths:
        nodes = [relaxed]
        for position, segment in enumerate(path):
            last = position == len(path) - 1
            next_nodes = []
            for node in _with_all_of(nodes):
                if segment is None:
                    if last:
                        node.pop("minItems", None)
                        if "contains" in node:
                            node["minContains"] = 0  # keeps maxContains (e.g. "at most one head") in force

                    items = node.get("items")
                    if isinstance(items, dict):
                        next_nodes.append(items)
                else:
                    if last and isinstance(node.get("required"), list):
                        node["required"] = [r for r in node["required"] if r != segment]
                    child = (node.get("properties") or {}).get(segment)
                    if isinstance(child, dict):
                        next_nodes.append(child)
            if not next_nodes and not last:
                raise ConfigurationError(f"{file_name}: selectivelyDisclosable path {list(path)} is not in the schema")
            nodes = next_nodes
    return relaxed


def _with_all_of(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schema objects that apply to the same instance: each node and, recursively, its ``allOf`` members."""
    found: list[dict[str, Any]] = []
    pending = list(nodes)
    while pending:
        node = pending.pop()
        found.append(node)
        pending.extend(member for member in node.get("allOf", []) if isinstance(member, dict))
    return found


# --- error reporting ----------------------------------------------------------------------------------------


def _pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 JSON Pointer; the root is the empty string."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    """(path, keyword) pairs for one jsonschema error, built only from locations and schema data."""
    keyword = str(error.validator)
    path = _pointer(error.absolute_path)
    if keyword == "required" and isinstance(error.instance, dict) and isinstance(error.validator_value, list):
        # Point at the missing member itself: the name comes from the schema, and it tells the caller what to add.
        missing = [p for p in error.validator_value if isinstance(p, str) and p not in error.instance]
        if missing:
            return [(path + _pointer([p]), keyword) for p in missing]
    return [(path, keyword)]
