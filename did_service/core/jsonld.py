"""Offline, strict JSON-LD processing and RDFC-1.0 canonicalization for Data Integrity proofs.

A Data Integrity proof with an ``*-rdfc-*`` cryptosuite signs the RDF meaning of a document, not its JSON. Three
things can make the JSON that an application reads differ from what was signed, and each is refused here:

- Remote contexts. Whoever serves a context URL decides what every term means, so a loader that fetches lets a
  third party change signed data after the fact. ``ContextLoader`` serves only the files listed in
  ``did_service/contexts/manifest.json`` (read once, checked against their sha256) and refuses any other URL
  without fetching. Inline ``@context`` objects are refused too: they could redefine terms just as well.
- Silent data loss. A JSON-LD processor drops keys that no context defines, relative IRIs, ``@index`` and
  (without an ``rdfDirection``) ``@direction``. The dropped data would be shown to users but covered by no
  signature. The strict check rejects the document instead (VC Data Integrity 1.0 requires an error, a
  DATA_LOSS_DETECTION_ERROR, when a JSON-LD processor drops data). Terms that resolve only through the VCDM 2.0
  catch-all vocabulary
  ``https://www.w3.org/ns/credentials/issuer-dependent#`` count as undefined: nobody defined them.
- Poison graphs. RDFC-1.0 is exponential in the worst case (RDF Dataset Canonicalization, "Dataset Poisoning");
  blank node count, N-degree hashing steps and wall-clock time are capped (see ``Limits``).

Two kinds of values are refused because implementations canonicalize them differently, so a proof made here
would not verify elsewhere (or the reverse): strings with control characters other than tab, LF and CR (pyld
3.3 does not write the escapes of canonical N-Quads), and integers beyond 2^53.

Engine: pyld. Plain pyld spends most of its time re-processing the same contexts (its cache is keyed by a fresh
id whenever a type-scoped context is applied, and embedded contexts are re-serialized with JCS for every lookup).
``_PyldProcessor`` memoizes context processing for immutable active contexts, which brings a typical credential
from about 3 ms to under 1 ms. pyoxigraph 0.5 was measured too (bench/jsonld.py): its JSON-LD parser cannot be
given a document loader, so the bundled contexts must be inlined and are re-processed on every parse (about
1 ms per document, more than memoized pyld), and its canonicalization cannot be interrupted, which a work
budget needs. tests/core/test_jsonld.py checks byte equality with plain pyld, and with pyoxigraph when installed.

pyld keeps process-wide state and is not thread-safe (design.md section 8): expansion runs under a lock.
Error details name terms and paths only, never values (claims may be personal data).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from pyld.canon import URDNA2015
from pyld.context_resolver import ContextResolver
from pyld.identifier_issuer import IdentifierIssuer
from pyld.jsonld import JsonLdError as PyldError
from pyld.jsonld import JsonLdProcessor, frozendict

from did_service.errors import ConfigurationError, DidServiceError

CONTEXTS_DIR: Final = Path(__file__).resolve().parent.parent / "contexts"
MANIFEST_NAME: Final = "manifest.json"
# The VCDM 2.0 vocabulary for undefined terms. A term that only resolves here was defined by nobody, so its
# meaning is whatever each reader assumes.
ISSUER_DEPENDENT_VOCAB: Final = "https://www.w3.org/ns/credentials/issuer-dependent#"

# RFC 3986 scheme, then only characters an N-Quads IRIREF may hold: anything else would be dropped by the RDF
# conversion (pyld keeps only absolute IRIs) or break the canonical N-Quads.
_ABSOLUTE_IRI: Final = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>"{}|^`\\]*')
_KEYWORD_LIKE: Final = re.compile(r"@[A-Za-z]+")
_FREE_FLOATING: Final = ("@value", "@list", "@set")
# pyld 3.3 writes these raw, where RDFC-1.0's canonical N-Quads escapes them (\b, \f, \u0000 ...): strings that
# hold them would canonicalize differently here and in conforming implementations. Tab, LF and CR are fine.
_UNPORTABLE_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Integers up to 2^53 have one spelling everywhere; beyond it JSON parsers disagree on the value itself (a
# JavaScript processor sees the nearest double) and so on the canonical digits.
_MAX_PORTABLE_INTEGER: Final = 2**53
_MAX_NAME_CHARS: Final = 80


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one document may cause.

    - ``max_depth``/``max_values``/``max_text_chars``: JSON nesting, number of JSON values, and characters in
      keys and strings. Expansion costs some tens of microseconds per value, so 10,000 values stay around half a
      second; our largest credential (a residence certificate with 30 household members) has about 150, and a
      presentation of ten credentials about 2,000.
    - ``max_blank_nodes``: 1,000. Our credentials have at most ~40 blank nodes (one per nested object without an
      id, plus the proof graph); a presentation of ten of them ~400. A document with 1,000 distinct blank nodes
      expands and canonicalizes in about half a second.
    - ``max_ndegree_steps``: calls to Hash N-Degree Quads plus permutations tried inside it, the exponential part
      of RDFC-1.0 (about 7 us each). Blank nodes that all differ need none; k identical sibling objects need 2k;
      a ring of k look-alike blank nodes 3k^2 (k = 64: 12,288 steps, 0.1 s); a clique of k look-alikes grows
      factorially (k = 6: 41,046 steps; k = 8: millions). 20,000 admits every shape a credential plausibly has
      and stops a poison graph within about 0.2 s.
    - ``max_seconds``: wall-clock backstop for the canonicalization itself.
    """

    max_depth: int = 32
    max_values: int = 10_000
    max_text_chars: int = 1_000_000
    max_blank_nodes: int = 1_000
    max_ndegree_steps: int = 20_000
    max_seconds: float = 1.0


DEFAULT_LIMITS: Final = Limits()


class JsonLdError(DidServiceError):
    """The document cannot be processed as strict, offline JSON-LD; ``code`` says why.

    Codes: ``unsupported_context`` (a context that is not bundled, or inline), ``undefined_term`` (a property or
    type that maps to no absolute IRI, or only to the issuer-dependent vocabulary), ``invalid_jsonld`` (invalid
    JSON-LD, relative IRIs, data that would be dropped), ``canonicalization_limit`` (too large or too costly).
    """

    status = 422
    code = "invalid_jsonld"
    title = "The document is not acceptable JSON-LD"


# --- contexts -----------------------------------------------------------------------------------------------


class ContextLoader:
    """A pyld document loader that serves a fixed set of context documents and refuses everything else.

    Matching is by exact string: another scheme, a trailing slash, a fragment or a relative reference is a
    different URL and is refused. Nothing is ever fetched.
    """

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self._documents = dict(documents)
        self.urls: frozenset[str] = frozenset(self._documents)

    @classmethod
    def from_manifest(cls, directory: Path = CONTEXTS_DIR) -> ContextLoader:
        """Read every context the manifest lists and check it against the manifest's sha256.

        A missing file or a digest mismatch is a deployment fault (ConfigurationError), not a client error.
        """
        try:
            manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
            contexts, details = manifest["contexts"], manifest["details"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError("the JSON-LD context manifest cannot be read") from exc
        documents: dict[str, Any] = {}
        for url, filename in contexts.items():
            detail = details.get(url) if isinstance(details, dict) else None
            if not isinstance(detail, dict) or detail.get("file") != filename:
                raise ConfigurationError(f"the context manifest has no matching details for {url}")
            try:
                data = (directory / filename).read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"the bundled context file {filename} cannot be read") from exc
            if hashlib.sha256(data).hexdigest() != detail.get("sha256"):
                raise ConfigurationError(f"the bundled context file {filename} does not match its manifest sha256")
            documents[url] = json.loads(data)
        return cls(documents)

    def document(self, url: str) -> Any:
        """A private copy of a bundled context document; JsonLdError(unsupported_context) for any other URL."""
        if url not in self._documents:
            raise JsonLdError(f"the context {_name(url)} is not bundled; contexts are never fetched",
                              code="unsupported_context")
        # A copy: pyld rewrites context URLs inside the documents it is given.
        return copy.deepcopy(self._documents[url])

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        # "tag: static" lets pyld cache the resolved context; without it, pyld reloads it on every operation.
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": self.document(url), "tag": "static"}


@lru_cache(maxsize=1)
def bundled_loader() -> ContextLoader:
    """The loader for did_service/contexts, read on first use."""
    return ContextLoader.from_manifest()


# --- pyld with memoized context processing ------------------------------------------------------------------

# Bounds the memo: each distinct @context list in a document adds an entry, and a client chooses those lists.
_MEMO_MAX_ENTRIES: Final = 4096


class _PyldProcessor(JsonLdProcessor):
    """pyld's processor plus two things: memoized context processing, and the path of every dropped key.

    The memo is sound because pyld freezes the active contexts it finishes (frozendict): the same immutable
    active context with the same local context always yields the same result. The entry keeps both objects
    alive, so ``id()`` cannot be reused while it exists. Local contexts from documents are only ever URL strings
    (inline contexts are refused before pyld sees them), keyed by value; dict contexts are the scoped contexts
    of the bundled documents, which live as long as the cached active contexts that hold them.
    """

    def __init__(self, memo: dict[Any, tuple[Any, Any, Any]]) -> None:
        super().__init__(on_property_dropped=self._record_drop)
        self._memo = memo
        self._iris: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._properties: list[str | None] = []
        self.dropped: list[tuple[tuple[str, ...], str | None]] = []

    deadline: float | None = None

    def _expand_iri(self, active_ctx, value, base=None, vocab=False, local_ctx=None, defined=None):  # type: ignore[override]
        # Pure for a frozen active context outside context processing, and called ~150 times per credential
        # for a few dozen distinct terms: remembered for this document (a per-call dict, so no sharing).
        if (local_ctx is not None or defined is not None or not isinstance(active_ctx, frozendict)
                or type(value) is not str or not (base is None or type(base) is str)):
            return super()._expand_iri(active_ctx, value, base, vocab, local_ctx, defined)
        key = (id(active_ctx), value, base, vocab)
        hit = self._iris.get(key)
        if hit is not None and hit[0] is active_ctx:
            return hit[1]
        result = super()._expand_iri(active_ctx, value, base, vocab, local_ctx, defined)
        self._iris[key] = (active_ctx, result)
        return result

    def _create_node_map(self, *args, **kwargs):  # type: ignore[override]
        # Called once per element (recursively): each call is bounded, so checking here bounds the whole map.
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JsonLdError("the document takes too long to canonicalize", code="canonicalization_limit")
        return super()._create_node_map(*args, **kwargs)

    def _record_drop(self, expanded_property: str | None) -> None:
        self.dropped.append((tuple(p for p in self._properties if p), expanded_property))

    def _expand(self, active_ctx, active_property, element, options, *args, **kwargs):  # type: ignore[override]
        if not isinstance(element, dict):
            return super()._expand(active_ctx, active_property, element, options, *args, **kwargs)
        self._properties.append(active_property)
        try:
            return super()._expand(active_ctx, active_property, element, options, *args, **kwargs)
        finally:
            self._properties.pop()

    def _process_context(self, active_ctx, local_ctx, options, *args, **kwargs):  # type: ignore[override]
        key = _memo_key(active_ctx, local_ctx, args, kwargs)
        if key is None:
            return super()._process_context(active_ctx, local_ctx, options, *args, **kwargs)
        # URL keys are compared by value; object keys by identity, so the entry keeps the object alive.
        anchor = local_ctx if key[1][0] == "object" else None
        hit = self._memo.get(key)
        if hit is not None and hit[0] is active_ctx and hit[1] is anchor:
            return hit[2]
        result = super()._process_context(active_ctx, local_ctx, options, *args, **kwargs)
        if isinstance(result, frozendict):  # only immutable results may be shared between documents
            if len(self._memo) >= _MEMO_MAX_ENTRIES:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = (active_ctx, anchor, result)
        return result


def _memo_key(active_ctx: Any, local_ctx: Any, args: tuple, kwargs: dict) -> tuple | None:
    # Scoped-context validation passes a `cycles` set and a half-built (mutable) context: never memoized.
    if not isinstance(active_ctx, frozendict) or "cycles" in kwargs:
        return None
    if not all(isinstance(a, bool) for a in args) or not all(isinstance(v, bool) for v in kwargs.values()):
        return None
    if isinstance(local_ctx, (dict, frozendict)):
        local_key: Any = ("object", id(local_ctx))
    elif isinstance(local_ctx, str):
        local_key = ("url", local_ctx)
    elif isinstance(local_ctx, list) and all(isinstance(c, str) for c in local_ctx):
        local_key = ("urls", tuple(local_ctx))
    else:
        return None
    return id(active_ctx), local_key, args, tuple(sorted(kwargs.items()))


class _MeteredIssuer(IdentifierIssuer):
    """A temporary identifier issuer that charges one step each time RDFC-1.0 copies it (once per permutation)."""

    def __init__(self, source: IdentifierIssuer, spend: Any) -> None:
        super().__init__(source.prefix)
        self.counter = source.counter
        self.existing = dict(source.existing)
        self.order = list(source.order)
        self._spend = spend

    def __deepcopy__(self, memo: dict) -> _MeteredIssuer:
        self._spend()
        return _MeteredIssuer(self, self._spend)


class _BoundedCanonicalizer(URDNA2015):
    """pyld's RDFC-1.0 (URDNA2015) with a step budget and a deadline on the N-degree hashing."""

    def __init__(self, max_steps: int, deadline: float) -> None:
        super().__init__()
        self._steps_left = max_steps
        self._deadline = deadline

    def _spend(self) -> None:
        self._steps_left -= 1
        if self._steps_left < 0 or time.monotonic() > self._deadline:
            raise JsonLdError("canonicalizing the document would take too much work (RDFC-1.0 work budget)",
                              code="canonicalization_limit")

    def modify_first_degree_component(self, id_, component, key):  # type: ignore[override]
        # pyld deep-copies the component; it is a flat dict of strings, so a shallow copy is the same thing at a
        # fraction of the cost (about 15% of a credential's canonicalization).
        if component["type"] != "blank node":
            return component
        return {**component, "value": "_:a" if component["value"] == id_ else "_:z"}

    def hash_n_degree_quads(self, id_, issuer):  # type: ignore[override]
        self._spend()
        if not isinstance(issuer, _MeteredIssuer):
            issuer = _MeteredIssuer(issuer, self._spend)
        return super().hash_n_degree_quads(id_, issuer)


# --- the processor ------------------------------------------------------------------------------------------

_RDF_OPTIONS: Final = {"produceGeneralizedRdf": False, "rdfDirection": None, "processingMode": "json-ld-1.1"}


class Processor:
    """Strict offline expansion and RDFC-1.0 canonicalization over one set of contexts."""

    def __init__(self, loader: ContextLoader, limits: Limits = DEFAULT_LIMITS) -> None:
        self.loader = loader
        self.limits = limits
        self._lock = threading.Lock()
        self._memo: dict[Any, tuple[Any, Any, Any]] = {}
        # One resolver for the processor's lifetime: its cache then holds every bundled context once.
        self._resolver = ContextResolver({}, loader)
        # base None: relative IRIs stay relative (and are refused) instead of being resolved against pyld's
        # made-up default base http://example.org/base/.
        self._options = {"documentLoader": loader, "contextResolver": self._resolver, "base": None,
                         "processingMode": "json-ld-1.1"}

    def expand(self, document: Any) -> list[dict[str, Any]]:
        """The expanded form of ``document``, after checking that expansion dropped nothing.

        Raises JsonLdError (unsupported_context, undefined_term, invalid_jsonld, canonicalization_limit).
        """
        return self._expand(document)[0]

    def canonicalize(self, document: Any) -> str:
        """The RDFC-1.0 canonical N-Quads of a strictly checked document (one line per quad, sorted)."""
        # One deadline for the whole job: pyld's node map merges values with a linear search per value, so a
        # long array under one property is quadratic before canonicalization proper even starts.
        deadline = time.monotonic() + self.limits.max_seconds
        expanded, processor = self._expand(document)
        processor.deadline = deadline
        dataset = self._to_rdf(expanded, processor)
        blank_nodes = {
            term["value"]
            for triples in dataset.values()
            for triple in triples
            for term in (triple["subject"], triple["object"])
            if term["type"] == "blank node"
        }
        blank_nodes.update(name for name in dataset if name.startswith("_:"))
        if len(blank_nodes) > self.limits.max_blank_nodes:
            raise JsonLdError(f"the document has more than {self.limits.max_blank_nodes} blank nodes",
                              code="canonicalization_limit")
        canonicalizer = _BoundedCanonicalizer(self.limits.max_ndegree_steps, deadline)
        return canonicalizer.main(dataset, {"format": "application/n-quads"})

    # -- steps --

    def _expand(self, document: Any) -> tuple[list[dict[str, Any]], _PyldProcessor]:
        _Scan(self.loader.urls, self.limits).document(document)
        processor = _PyldProcessor(self._memo)
        with self._lock:
            try:
                expanded = processor.expand(document, self._options)
            except PyldError as exc:
                raise _translate(exc) from exc
        if processor.dropped:
            raise _dropped_error(processor.dropped)
        if not expanded and any(key != "@context" for key in document):
            raise JsonLdError("nothing in the document maps to RDF, so a signature would cover none of it",
                              code="invalid_jsonld")
        _ExpandedCheck().graph(expanded, ())
        return expanded, processor

    @staticmethod
    def _to_rdf(expanded: list[dict[str, Any]], processor: _PyldProcessor) -> dict[str, list[dict[str, Any]]]:
        # pyld's to_rdf() minus its second expansion: node map, then triples per graph. Every IRI was checked to
        # be absolute, so the filter pyld applies to graph names keeps them all.
        issuer = IdentifierIssuer("_:b")
        node_map: dict[str, Any] = {"@default": {}}
        processor._create_node_map(expanded, node_map, "@default", issuer)
        return {name: processor._graph_to_rdf(graph, issuer, dict(_RDF_OPTIONS))
                for name, graph in sorted(node_map.items())}


@lru_cache(maxsize=1)
def default_processor() -> Processor:
    """The process-wide processor over the bundled contexts (built on first use)."""
    return Processor(bundled_loader())


def expand(document: Any) -> list[dict[str, Any]]:
    """Strict offline expansion with the bundled contexts; see ``Processor.expand``."""
    return default_processor().expand(document)


def canonicalize(document: Any) -> str:
    """RDFC-1.0 canonical N-Quads of a strictly checked document; see ``Processor.canonicalize``."""
    return default_processor().canonicalize(document)


def bundled_context_urls() -> frozenset[str]:
    return bundled_loader().urls


# --- checks before expansion --------------------------------------------------------------------------------


# Keys of a language-tagged or typed value object (VCDM 2.0 internationalization): they carry one value and
# cannot move a node property out of sight.
_VALUE_OBJECT_KEYS: Final = frozenset({"@context", "@value", "@language", "@direction"})


class _Scan:
    """One pass over the JSON before pyld sees it: size and depth limits, JSON types, and every @context entry.

    Also refuses the few losses that leave no trace in the expanded form: free-floating values (dropped by
    expansion under @graph, @included or at the top) and keyword-like ids or types (pyld ignores them).
    """

    def __init__(self, bundled: frozenset[str], limits: Limits) -> None:
        self._bundled = bundled
        self._limits = limits
        self._values_left = limits.max_values
        self._chars_left = limits.max_text_chars

    def document(self, document: Any) -> None:
        if not isinstance(document, dict):
            raise JsonLdError("a JSON-LD document must be a JSON object", code="invalid_jsonld")
        if any(key in document for key in _FREE_FLOATING):
            raise JsonLdError("the top-level object is a value, not a node; JSON-LD drops it", code="invalid_jsonld")
        self._value(document, 1, ())

    def _value(self, value: Any, depth: int, path: tuple[str, ...]) -> None:
        self._values_left -= 1
        if self._values_left < 0:
            raise JsonLdError(f"the document has more than {self._limits.max_values} JSON values",
                              code="canonicalization_limit")
        if depth > self._limits.max_depth:
            raise JsonLdError(f"the document is nested deeper than {self._limits.max_depth} levels",
                              code="canonicalization_limit")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise JsonLdError("JSON object keys must be strings", code="invalid_jsonld")
                self._spend_chars(key)
                where = (*path, key)
                if (key.startswith("@") and key not in _VALUE_OBJECT_KEYS) or ":" in key:
                    # A verifier reads credentialStatus, validUntil and type by their JSON names. Were an IRI or a
                    # keyword allowed as a key, the same signed RDF could be written so those names vanish from
                    # the JSON (a revoked credential without its status entry) and the signature still verify.
                    raise JsonLdError(
                        f"the key {_name(key)} at {_path(path)} is not a term of the bundled contexts; only terms "
                        "(and @context, @value, @language, @direction) are accepted as keys",
                        code="undefined_term",
                    )
                if key == "@context":
                    self._context(item, path)
                elif key in ("id", "@id", "type", "@type"):
                    self._no_keyword_like(item, where)
                if key in ("@graph", "@included"):
                    self._node_list(item if isinstance(item, list) else [item], key, path)
                self._value(item, depth + 1, where)
        elif isinstance(value, list):
            for item in value:
                self._value(item, depth + 1, path)
        elif isinstance(value, str):
            self._spend_chars(value)
            if _UNPORTABLE_CHARS.search(value):
                raise JsonLdError(
                    f"a string at {_path(path)} holds a control character whose canonical N-Quads escape this "
                    "processor does not produce; refused so that the canonical form matches other implementations",
                    code="invalid_jsonld",
                )
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            _portable_number(value, path)
        elif value is not None and not isinstance(value, bool):
            raise JsonLdError(f"a value at {_path(path)} is not a JSON value", code="invalid_jsonld")

    def _spend_chars(self, text: str) -> None:
        self._chars_left -= len(text)
        if self._chars_left < 0:
            raise JsonLdError(f"the document has more than {self._limits.max_text_chars} characters of text",
                              code="canonicalization_limit")

    def _context(self, value: Any, path: tuple[str, ...]) -> None:
        for entry in value if isinstance(value, list) else [value]:
            if not isinstance(entry, str):
                raise JsonLdError(
                    f"the @context at {_path(path)} is inline or null; only the URLs of bundled contexts are "
                    "accepted, because an inline context can redefine terms",
                    code="unsupported_context",
                )
            if entry not in self._bundled:
                raise JsonLdError(f"the context {_name(entry)} is not bundled; contexts are never fetched",
                                  code="unsupported_context")

    @staticmethod
    def _no_keyword_like(value: Any, path: tuple[str, ...]) -> None:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _KEYWORD_LIKE.fullmatch(item) and item != "@json":
                raise JsonLdError(f"the id or type at {_path(path)} looks like a JSON-LD keyword and would be ignored",
                                  code="invalid_jsonld")

    @staticmethod
    def _node_list(items: list[Any], key: str, path: tuple[str, ...]) -> None:
        for item in items:
            if not isinstance(item, dict) or any(k in item for k in _FREE_FLOATING):
                raise JsonLdError(
                    f"a value under {key} at {_path(path)} belongs to no property; JSON-LD drops it, so a "
                    "signature would not cover it",
                    code="invalid_jsonld",
                )


def _portable_number(value: int | float, path: tuple[str, ...]) -> None:
    """Numbers become xsd:integer (integral, below 10^21) or xsd:double literals; refuse those whose digits
    depend on the implementation: non-finite floats and integral values beyond 2^53. Other fractions are written
    as the JSON-LD 1.1 API says ("Data Round Tripping"), with 16 significant digits, as pyld and jsonld.js do."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JsonLdError(f"a number at {_path(path)} is not finite", code="invalid_jsonld")
        if not value.is_integer():
            return
    if abs(value) > _MAX_PORTABLE_INTEGER:
        raise JsonLdError(
            f"an integer at {_path(path)} is larger than 2^53, where JSON-LD implementations disagree on its "
            "canonical form; send it as a string",
            code="invalid_jsonld",
        )


# --- checks after expansion ---------------------------------------------------------------------------------


class _ExpandedCheck:
    """Walks the expanded form: every property and type an absolute IRI outside the issuer-dependent vocabulary,
    every reference absolute (or a blank node), and nothing the RDF conversion would drop."""

    def graph(self, nodes: list[Any], path: tuple[str, ...]) -> None:
        for node in nodes:
            if not isinstance(node, dict) or "@value" in node or "@list" in node:
                raise JsonLdError(f"a value at {_path(path)} belongs to no property and would not be signed",
                                  code="invalid_jsonld")
            self.node(node, path)

    def node(self, node: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            if key == "@id":
                _check_reference(value, path)
            elif key == "@type":
                for type_ in value:
                    _check_term(type_, path, "type")
            elif key in ("@graph", "@included"):
                self.graph(value, path)
            elif key == "@reverse":
                for prop, items in value.items():
                    _check_term(prop, path, "property")
                    for item in items:
                        self.node(item, (*path, _local_name(prop)))
            elif key.startswith("@"):
                raise _not_signed(key, path)
            else:
                _check_term(key, path, "property")
                where = (*path, _local_name(key))
                for item in value:
                    self.item(item, where)

    def item(self, item: dict[str, Any], path: tuple[str, ...]) -> None:
        if "@value" in item:
            for key in item:
                if key == "@type":
                    if item[key] != "@json":
                        _check_term(item[key], path, "datatype")
                elif key not in ("@value", "@language"):
                    raise _not_signed(key, path)
        elif "@list" in item:
            if "@index" in item:
                raise _not_signed("@index", path)
            for member in item["@list"]:
                self.item(member, path)
        else:
            self.node(item, path)


def _check_term(iri: Any, path: tuple[str, ...], kind: str) -> None:
    # Blank-node properties and types are generalized RDF, which canonicalization drops.
    if not isinstance(iri, str) or iri.startswith("_:") or not _ABSOLUTE_IRI.fullmatch(iri):
        raise JsonLdError(f"the {kind} {_name(iri)} at {_path(path)} is not defined by the bundled contexts",
                          code="undefined_term")
    if iri.startswith(ISSUER_DEPENDENT_VOCAB):
        raise JsonLdError(
            f"the {kind} {_name(_local_name(iri))} at {_path(path)} is defined only by the issuer-dependent "
            "vocabulary, that is by nobody",
            code="undefined_term",
        )


def _check_reference(value: Any, path: tuple[str, ...]) -> None:
    if isinstance(value, str) and (value.startswith("_:") or _ABSOLUTE_IRI.fullmatch(value)):
        return
    # Not quoted: identifiers may be personal (a holder's DID).
    raise JsonLdError(f"an identifier at {_path(path)} is not an absolute IRI; relative references are not accepted",
                      code="invalid_jsonld")


def _not_signed(keyword: str, path: tuple[str, ...]) -> JsonLdError:
    return JsonLdError(
        f"{keyword} at {_path(path)} is not carried into the canonical RDF, so a signature would not cover it",
        code="invalid_jsonld",
    )


def _dropped_error(dropped: list[tuple[tuple[str, ...], str | None]]) -> JsonLdError:
    names = []
    for path, term in dropped[:5]:
        names.append(_path((*path, _name(term, quote=False))) if term is not None else f"a keyword-like key at {_path(path)}")
    more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
    return JsonLdError(f"terms not defined by the bundled contexts: {', '.join(names)}{more}", code="undefined_term")


def _translate(exc: PyldError) -> JsonLdError:
    """pyld's error as ours. A refusal from our loader keeps its code; pyld's own detail may quote values, so
    only its error code (a fixed string from the JSON-LD API spec) is passed on."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, JsonLdError):
            return JsonLdError(cause.detail, code=cause.code)
        cause = cause.__cause__
    code = getattr(exc, "code", None)
    reason = f" ({code})" if isinstance(code, str) else ""
    return JsonLdError(f"the document is not valid JSON-LD{reason}", code="invalid_jsonld")


def _local_name(iri: str) -> str:
    for separator in ("#", "/", ":"):
        if separator in iri:
            tail = iri.rsplit(separator, 1)[1]
            if tail:
                return tail
    return iri


def _name(value: Any, *, quote: bool = True) -> str:
    if not isinstance(value, str):
        return "(not a string)"
    text = value if len(value) <= _MAX_NAME_CHARS else value[:_MAX_NAME_CHARS] + "..."
    return repr(text) if quote else text


def _path(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "the top level"
