"""DCQL (OpenID for Verifiable Presentations 1.0, section 6): parse a query, build this verifier's, match a response.

``parse_query`` reads a DCQL query strictly: every rule it enforces raises ``DcqlError`` (code ``invalid_dcql``)
with a message naming the rule, never a value from the query. Unrecognised properties are ignored, as the
specification requires of a receiver.

``query_for`` builds the query this service's verifier sends for a policy: one ``dc+sd-jwt`` Credential Query
with the type's ``vct`` and one claims entry per claim name.

``match`` decides whether a ``vp_token`` (1.0 shape: an object keyed by Credential Query id, each value a
non-empty array of presentations) answers a query. It sees each presentation's *processed* claims (already
verified elsewhere: signature, holder binding, nonce and audience are not its business) and reports, per
query, error codes, the requested claim paths that are missing and the disclosed claim names nobody asked for,
so a verifier can drop them. Results carry claim names and paths only, never claim values.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

from did_service.core.proofs.sd_jwt import ISSUER_CLEAR_CLAIMS
from did_service.errors import Unprocessable

SD_JWT_VC = "dc+sd-jwt"
LDP_VC = "ldp_vc"
JWT_VC_JSON = "jwt_vc_json"
FORMATS = (SD_JWT_VC, LDP_VC, JWT_VC_JSON)
W3C_FORMATS = (LDP_VC, JWT_VC_JSON)

# Error codes reported by ``match`` (stable; the web layer may surface them).
MISSING_CREDENTIAL = "missing_credential"
UNEXPECTED_CREDENTIAL = "unexpected_credential"
TOO_MANY_PRESENTATIONS = "too_many_presentations"
VCT_MISMATCH = "vct_mismatch"
TYPE_MISMATCH = "type_mismatch"
MISSING_CLAIMS = "missing_claims"
VALUE_MISMATCH = "value_mismatch"
CREDENTIAL_SET_UNSATISFIED = "credential_set_unsatisfied"

# Claims the SD-JWT VC keeps in clear (what the credential is, its validity, holder key, status): they are not
# "disclosed" by the holder, so they never count as over-disclosure.
STRUCTURAL_CLAIMS = ISSUER_CLEAR_CLAIMS

_ID = re.compile(r"[A-Za-z0-9_-]+")

PathComponent = Union[str, int, None]
ClaimPath = tuple[PathComponent, ...]


class DcqlError(Unprocessable):
    code = "invalid_dcql"
    title = "Invalid DCQL query"


class InvalidVpToken(Unprocessable):
    code = "invalid_vp_token"
    title = "The vp_token does not have the OpenID4VP 1.0 shape"


# --- the query model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimsQuery:
    path: ClaimPath
    id: str | None = None
    values: tuple[str | int | bool, ...] | None = None


@dataclass(frozen=True)
class CredentialQuery:
    id: str
    format: str
    vct_values: tuple[str, ...] = ()
    type_values: tuple[tuple[str, ...], ...] = ()
    claims: tuple[ClaimsQuery, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    multiple: bool = False
    require_cryptographic_holder_binding: bool = True

    def claim_options(self) -> tuple[tuple[ClaimsQuery, ...], ...]:
        """The claim combinations that answer this query, the verifier's preferred first."""
        if self.claims is None:
            return ((),)
        if self.claim_sets is None:
            return (self.claims,)
        by_id = {c.id: c for c in self.claims}
        return tuple(tuple(by_id[i] for i in option) for option in self.claim_sets)


@dataclass(frozen=True)
class CredentialSetQuery:
    options: tuple[tuple[str, ...], ...]
    required: bool = True


@dataclass(frozen=True)
class DcqlQuery:
    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None = None

    def credential(self, query_id: str) -> CredentialQuery | None:
        return next((c for c in self.credentials if c.id == query_id), None)


# --- parsing -----------------------------------------------------------------------------------------------


def _fail(rule: str) -> DcqlError:
    return DcqlError(f"DCQL: {rule}")


def _non_empty_list(value: Any, what: str) -> list:
    if not isinstance(value, list) or not value:
        raise _fail(f"{what} must be a non-empty array")
    return value


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{what} must be an object")
    return value


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _fail(f"{what} must be a non-empty string of alphanumeric, underscore or hyphen characters")
    return value


def _bool(obj: Mapping[str, Any], key: str, default: bool, what: str) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _fail(f"{what}.{key} must be a boolean")
    return value


def parse_path(value: Any, what: str = "a claims path") -> ClaimPath:
    """A claims path pointer: a non-empty array of strings, non-negative integers and nulls."""
    components = _non_empty_list(value, what)
    for c in components:
        if c is None or isinstance(c, str):
            continue
        if isinstance(c, int) and not isinstance(c, bool) and c >= 0:
            continue
        raise _fail(f"{what} components must be strings, non-negative integers or null")
    return tuple(components)


def _parse_claim(value: Any, what: str) -> ClaimsQuery:
    obj = _object(value, what)
    claim_id = _identifier(obj["id"], f"{what}.id") if "id" in obj else None
    if "path" not in obj:
        raise _fail(f"{what}.path is required")
    path = parse_path(obj["path"], f"{what}.path")
    values = None
    if "values" in obj:
        raw = _non_empty_list(obj["values"], f"{what}.values")
        if not all(isinstance(v, (str, int, bool)) for v in raw):
            raise _fail(f"{what}.values must hold strings, integers or booleans")
        values = tuple(raw)
    return ClaimsQuery(path=path, id=claim_id, values=values)


def _parse_meta(fmt: str, value: Any, what: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    meta = _object(value, f"{what}.meta")
    if fmt == SD_JWT_VC:
        if "vct_values" not in meta:
            raise _fail(f"{what}.meta.vct_values is required for {SD_JWT_VC}")
        vcts = _non_empty_list(meta["vct_values"], f"{what}.meta.vct_values")
        if not all(isinstance(v, str) and v for v in vcts):
            raise _fail(f"{what}.meta.vct_values must hold non-empty strings")
        return tuple(vcts), ()
    if "type_values" not in meta:
        raise _fail(f"{what}.meta.type_values is required for {fmt}")
    type_values = []
    for types in _non_empty_list(meta["type_values"], f"{what}.meta.type_values"):
        types = _non_empty_list(types, f"{what}.meta.type_values entries")
        if not all(isinstance(t, str) and t for t in types):
            raise _fail(f"{what}.meta.type_values entries must hold non-empty strings")
        type_values.append(tuple(types))
    return (), tuple(type_values)


def _parse_trusted_authorities(value: Any, what: str) -> None:
    # Shape only: this module does not evaluate trusted authorities (the trust registry does that).
    for entry in _non_empty_list(value, f"{what}.trusted_authorities"):
        entry = _object(entry, f"{what}.trusted_authorities entries")
        if not isinstance(entry.get("type"), str) or not entry["type"]:
            raise _fail(f"{what}.trusted_authorities entries need a type string")
        values = _non_empty_list(entry.get("values"), f"{what}.trusted_authorities values")
        if not all(isinstance(v, str) and v for v in values):
            raise _fail(f"{what}.trusted_authorities values must be non-empty strings")


def _parse_credential(value: Any, index: int) -> CredentialQuery:
    what = f"credentials[{index}]"
    obj = _object(value, what)
    if "id" not in obj:
        raise _fail(f"{what}.id is required")
    query_id = _identifier(obj["id"], f"{what}.id")
    fmt = obj.get("format")
    if not isinstance(fmt, str):
        raise _fail(f"{what}.format is required")
    if fmt not in FORMATS:
        raise _fail(f"{what}.format is not a supported format ({', '.join(FORMATS)})")
    if "meta" not in obj:
        raise _fail(f"{what}.meta is required")
    vct_values, type_values = _parse_meta(fmt, obj["meta"], what)
    if "trusted_authorities" in obj:
        _parse_trusted_authorities(obj["trusted_authorities"], what)
    multiple = _bool(obj, "multiple", False, what)
    binding = _bool(obj, "require_cryptographic_holder_binding", True, what)

    claims = None
    if "claims" in obj:
        claims = tuple(_parse_claim(c, f"{what}.claims[{i}]")
                       for i, c in enumerate(_non_empty_list(obj["claims"], f"{what}.claims")))
        ids = [c.id for c in claims if c.id is not None]
        if len(ids) != len(set(ids)):
            raise _fail(f"{what}.claims ids must be unique")
        if len({c.path for c in claims}) != len(claims):
            raise _fail(f"{what}.claims must not point to the same claim twice")
    claim_sets = None
    if "claim_sets" in obj:
        if claims is None:
            raise _fail(f"{what}.claim_sets must not be present without claims")
        if any(c.id is None for c in claims):
            raise _fail(f"{what}.claims need an id when claim_sets is present")
        known = {c.id for c in claims}
        options = []
        for option in _non_empty_list(obj["claim_sets"], f"{what}.claim_sets"):
            option = _non_empty_list(option, f"{what}.claim_sets entries")
            for claim_id in option:
                _identifier(claim_id, f"{what}.claim_sets claim ids")
                if claim_id not in known:
                    raise _fail(f"{what}.claim_sets references a claim id not in claims")
            options.append(tuple(option))
        claim_sets = tuple(options)
    return CredentialQuery(id=query_id, format=fmt, vct_values=vct_values, type_values=type_values,
                           claims=claims, claim_sets=claim_sets, multiple=multiple,
                           require_cryptographic_holder_binding=binding)


def _parse_credential_set(value: Any, index: int, known: set[str]) -> CredentialSetQuery:
    what = f"credential_sets[{index}]"
    obj = _object(value, what)
    if "options" not in obj:
        raise _fail(f"{what}.options is required")
    options = []
    for option in _non_empty_list(obj["options"], f"{what}.options"):
        option = _non_empty_list(option, f"{what}.options entries")
        for query_id in option:
            _identifier(query_id, f"{what}.options credential ids")
            if query_id not in known:
                raise _fail(f"{what}.options references a credential query id not in credentials")
        options.append(tuple(option))
    return CredentialSetQuery(options=tuple(options), required=_bool(obj, "required", True, what))


def parse_query(value: Any) -> DcqlQuery:
    """Read a DCQL query (a decoded JSON object), enforcing the rules of OpenID4VP 1.0 section 6."""
    if isinstance(value, DcqlQuery):
        return value
    obj = _object(value, "the DCQL query")
    if "credentials" not in obj:
        raise _fail("credentials is required")
    credentials = tuple(_parse_credential(c, i)
                        for i, c in enumerate(_non_empty_list(obj["credentials"], "credentials")))
    ids = [c.id for c in credentials]
    if len(ids) != len(set(ids)):
        raise _fail("credential query ids must be unique")
    credential_sets = None
    if "credential_sets" in obj:
        credential_sets = tuple(_parse_credential_set(s, i, set(ids))
                                for i, s in enumerate(_non_empty_list(obj["credential_sets"], "credential_sets")))
    return DcqlQuery(credentials=credentials, credential_sets=credential_sets)


# --- this verifier's query ---------------------------------------------------------------------------------


def query_for(credential_type: str, claim_names: Sequence[str], *, vct: str,
              query_id: str | None = None) -> dict[str, Any]:
    """The DCQL query asking for one holder-bound SD-JWT VC of ``vct`` disclosing exactly ``claim_names``.

    The Credential Query id defaults to the credential type name (alphanumeric, so a valid id).
    """
    if not isinstance(credential_type, str) or not credential_type:
        raise _fail("a credential type name is required")
    names = list(claim_names)
    if not all(isinstance(n, str) and n for n in names):
        raise _fail("claim names must be non-empty strings")
    if len(set(names)) != len(names):
        raise _fail("claim names must be unique")
    credential: dict[str, Any] = {
        "id": _identifier(query_id if query_id is not None else credential_type, "the credential query id"),
        "format": SD_JWT_VC,
        "meta": {"vct_values": [vct]},
        "require_cryptographic_holder_binding": True,
    }
    if names:
        credential["claims"] = [{"path": [name]} for name in names]
    query = {"credentials": [credential]}
    parse_query(query)  # what we send must be what we would accept
    return query


# --- matching a response -----------------------------------------------------------------------------------


def select(claims: Any, path: ClaimPath) -> list[Any] | None:
    """The elements a claims path pointer selects (OpenID4VP 1.0 section 7), or None when processing fails.

    A string selects that key of each selected object, an integer that index of each selected array, null every
    element of each selected array; a selected element of the wrong kind, or an empty selection, is a failure.
    """
    selected = [claims]
    for component in path:
        nxt: list[Any] = []
        for element in selected:
            if isinstance(component, str):
                if not isinstance(element, dict):
                    return None
                if component in element:
                    nxt.append(element[component])
            elif component is None:
                if not isinstance(element, list):
                    return None
                nxt.extend(element)
            else:
                if not isinstance(element, list):
                    return None
                if component < len(element):
                    nxt.append(element[component])
        if not nxt:
            return None
        selected = nxt
    return selected


def _same(a: Any, b: Any) -> bool:
    # Type and value both: True is not 1, 1 is not "1".
    return type(a) is type(b) and a == b


def _check_claims(claims: Mapping[str, Any], option: Sequence[ClaimsQuery]) -> tuple[list[ClaimPath], bool]:
    """(requested paths that select nothing, whether any value constraint failed) for one claim option."""
    missing: list[ClaimPath] = []
    value_mismatch = False
    for claim in option:
        found = select(claims, claim.path)
        if found is None:
            missing.append(claim.path)
        elif claim.values is not None and not any(_same(f, v) for f in found for v in claim.values):
            value_mismatch = True
    return missing, value_mismatch


def _extra_names(claims: Mapping[str, Any], option: Sequence[ClaimsQuery]) -> set[str]:
    requested = {c.path[0] for c in option if isinstance(c.path[0], str)}
    return {name for name in claims if name not in STRUCTURAL_CLAIMS and name not in requested}


@dataclass(frozen=True)
class QueryMatch:
    """How the presentations given for one Credential Query fared. Names and paths only, never values."""

    query_id: str
    presented: int
    errors: tuple[str, ...] = ()
    missing_claims: tuple[ClaimPath, ...] = ()
    extra_claims: tuple[str, ...] = ()
    # Per presentation, the index of the claim_sets option it satisfied (None when none did or none was set).
    claim_set: tuple[int | None, ...] = ()

    @property
    def satisfied(self) -> bool:
        return self.presented > 0 and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "presented": self.presented, "satisfied": self.satisfied,
                "errors": list(self.errors), "missing_claims": [list(p) for p in self.missing_claims],
                "extra_claims": list(self.extra_claims), "claim_set": list(self.claim_set)}


@dataclass(frozen=True)
class MatchResult:
    satisfied: bool
    queries: tuple[QueryMatch, ...]
    # Response-level codes: unexpected_credential, credential_set_unsatisfied.
    errors: tuple[str, ...] = ()
    # vp_token keys that name no Credential Query (wallet-chosen ids, not claim values).
    unexpected: tuple[str, ...] = ()

    def query(self, query_id: str) -> QueryMatch | None:
        return next((q for q in self.queries if q.query_id == query_id), None)

    @property
    def extra_claims(self) -> dict[str, tuple[str, ...]]:
        return {q.query_id: q.extra_claims for q in self.queries if q.extra_claims}

    def to_dict(self) -> dict[str, Any]:
        return {"satisfied": self.satisfied, "errors": list(self.errors), "unexpected": list(self.unexpected),
                "queries": [q.to_dict() for q in self.queries]}


def _match_one(query: CredentialQuery, presentations: Sequence[Mapping[str, Any]]) -> QueryMatch:
    errors: list[str] = []
    if not presentations:
        return QueryMatch(query.id, 0, (MISSING_CREDENTIAL,))
    if not query.multiple and len(presentations) > 1:
        errors.append(TOO_MANY_PRESENTATIONS)
    missing: set[ClaimPath] = set()
    extra: set[str] = set()
    chosen: list[int | None] = []
    options = query.claim_options()
    for claims in presentations:
        if query.format == SD_JWT_VC:
            if claims.get("vct") not in query.vct_values:
                errors.append(VCT_MISMATCH)
        else:
            types = claims.get("type")
            types = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else set()
            if not any(set(tv) <= types for tv in query.type_values):
                errors.append(TYPE_MISMATCH)
        # The first option this presentation satisfies wins; failing all, report against the preferred one.
        outcomes = [_check_claims(claims, option) for option in options]
        index = next((i for i, (m, bad) in enumerate(outcomes) if not m and not bad), None)
        chosen.append(index if query.claim_sets is not None else None)
        option_missing, option_bad = outcomes[0 if index is None else index]
        if option_missing:
            errors.append(MISSING_CLAIMS)
            missing.update(option_missing)
        if option_bad:
            errors.append(VALUE_MISMATCH)
        if query.format == SD_JWT_VC:
            extra |= _extra_names(claims, options[0 if index is None else index])
    return QueryMatch(query_id=query.id, presented=len(presentations), errors=tuple(dict.fromkeys(errors)),
                      missing_claims=tuple(sorted(missing, key=repr)), extra_claims=tuple(sorted(extra)),
                      claim_set=tuple(chosen))


def _check_vp_token(presented: Any) -> Mapping[str, list]:
    if not isinstance(presented, Mapping):
        raise InvalidVpToken("the vp_token must be an object keyed by credential query id")
    for key, value in presented.items():
        if not isinstance(key, str) or not isinstance(value, list) \
                or not all(isinstance(p, Mapping) for p in value):
            raise InvalidVpToken("each vp_token value must be an array of presentations")
    return presented


def match(query: DcqlQuery | Mapping[str, Any], presented: Mapping[str, list[dict]]) -> MatchResult:
    """Decide whether ``presented`` (per Credential Query id, the processed claims of each presentation) answers
    ``query``.

    Without ``credential_sets`` every Credential Query must be answered. With them, every required set needs one
    option whose queries were all answered and satisfied; other queries may go unanswered. Whatever was
    presented must satisfy its query, and a key naming no query fails the match (``unexpected_credential``).
    """
    dcql = parse_query(query)
    given = _check_vp_token(presented)
    known = {c.id for c in dcql.credentials}
    unexpected = tuple(sorted(k for k in given if k not in known))
    errors: list[str] = [UNEXPECTED_CREDENTIAL] if unexpected else []

    results = {c.id: _match_one(c, given.get(c.id, [])) for c in dcql.credentials}
    if dcql.credential_sets is None:
        required_missing = {qid for qid, r in results.items() if r.presented == 0}
    else:
        required_missing = set()
        for cset in dcql.credential_sets:
            if not cset.required:
                continue
            if any(all(results[qid].satisfied for qid in option) for option in cset.options):
                continue
            errors.append(CREDENTIAL_SET_UNSATISFIED)
            required_missing |= {qid for qid in cset.options[0] if results[qid].presented == 0}
    queries = []
    for c in dcql.credentials:
        r = results[c.id]
        if r.presented == 0 and c.id not in required_missing:
            r = QueryMatch(c.id, 0)  # optional and not asked for by any unsatisfied set: not an error
        queries.append(r)
    failed = any(q.errors for q in queries)
    satisfied = not errors and not failed
    return MatchResult(satisfied=satisfied, queries=tuple(queries), errors=tuple(dict.fromkeys(errors)),
                       unexpected=unexpected)
