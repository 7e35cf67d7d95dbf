"""DCQL (OpenID4VP 1.0): strict query parsing, this verifier's query, and matching a vp_token against a query."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from did_service.core.credential import vct_for
from did_service.core.oid4vp.dcql import (
    DcqlError,
    InvalidVpToken,
    match,
    parse_query,
    query_for,
    select,
)
from did_service.core.policy.account_opening import AccountOpeningPolicy
from did_service.core.policy.certificate import CLAIMS_BY_TYPE
from did_service.errors import Unprocessable

PUBLIC = "https://issuer.example"
RIC = "ResidentIdentityCredential"
VCT = vct_for(PUBLIC, RIC)
RRN = "900101-1234567"


def ric_query(role: str = "financial-institution") -> dict[str, Any]:
    return query_for(RIC, AccountOpeningPolicy().claims_for_request(role), vct=VCT)


def ric_claims(**extra: Any) -> dict[str, Any]:
    claims = {"iss": "did:web:issuer.example", "vct": VCT, "iat": 1, "exp": 2, "cnf": {"jwk": {"kty": "OKP"}},
              "familyName": "Kim", "givenName": "Minji", "birthDate": "1990-01-01",
              "residentRegistrationNumber": RRN}
    claims.update(extra)
    return claims


def sd_query(**overrides: Any) -> dict[str, Any]:
    credential = {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                  "claims": [{"id": "a", "path": ["familyName"]}, {"id": "b", "path": ["givenName"]}]}
    credential.update(overrides)
    return {"credentials": [credential]}


# --- parsing ----------------------------------------------------------------------------------------------


def test_parse_reads_every_member() -> None:
    q = parse_query({
        "credentials": [
            {"id": "pid", "format": "dc+sd-jwt", "multiple": True, "require_cryptographic_holder_binding": False,
             "meta": {"vct_values": [VCT]},
             "claims": [{"id": "n", "path": ["nationalities", None], "values": ["KR", "DE"]},
                        {"id": "s", "path": ["address", "street_address"]}],
             "claim_sets": [["n", "s"], ["s"]],
             "trusted_authorities": [{"type": "aki", "values": ["s9tIpP"]}]},
            {"id": "diploma_1", "format": "ldp_vc",
             "meta": {"type_values": [["VerifiableCredential", "DiplomaCredential"]]}},
            {"id": "jwt-vc", "format": "jwt_vc_json", "meta": {"type_values": [["DiplomaCredential"]]}},
        ],
        "credential_sets": [{"options": [["pid"], ["diploma_1", "jwt-vc"]]},
                            {"options": [["jwt-vc"]], "required": False}],
        "some_extension": {"ignored": True},
    })
    pid = q.credential("pid")
    assert pid is not None and pid.multiple and not pid.require_cryptographic_holder_binding
    assert pid.vct_values == (VCT,)
    assert pid.claims is not None and pid.claims[0].path == ("nationalities", None)
    assert pid.claims[0].values == ("KR", "DE")
    assert pid.claim_sets == (("n", "s"), ("s",))
    diploma = q.credential("diploma_1")
    assert diploma is not None and diploma.type_values == (("VerifiableCredential", "DiplomaCredential"),)
    assert diploma.claims is None and not diploma.multiple and diploma.require_cryptographic_holder_binding
    assert q.credential_sets is not None and q.credential_sets[1].required is False
    assert q.credential_sets[0].options == (("pid",), ("diploma_1", "jwt-vc"))


def _cred(**kw: Any) -> dict[str, Any]:
    base = {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]}}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()

INVALID = {
    "not an object": ([],),
    "credentials missing": ({},),
    "credentials empty": ({"credentials": []},),
    "credentials not a list": ({"credentials": {"id": "pid"}},),
    "credential not an object": ({"credentials": ["pid"]},),
    "id missing": ({"credentials": [_cred(id=_DROP)]},),
    "id empty": ({"credentials": [_cred(id="")]},),
    "id with a dot": ({"credentials": [_cred(id="p.id")]},),
    "id with a space": ({"credentials": [_cred(id="p id")]},),
    "id not a string": ({"credentials": [_cred(id=7)]},),
    "duplicate ids": ({"credentials": [_cred(), _cred()]},),
    "format missing": ({"credentials": [_cred(format=_DROP)]},),
    "unknown format": ({"credentials": [_cred(format="vc+sd-jwt")]},),
    "mdoc not supported": ({"credentials": [_cred(format="mso_mdoc", meta={"doctype_value": "x"})]},),
    "meta missing": ({"credentials": [_cred(meta=_DROP)]},),
    "vct_values missing": ({"credentials": [_cred(meta={})]},),
    "vct_values empty": ({"credentials": [_cred(meta={"vct_values": []})]},),
    "vct_values not strings": ({"credentials": [_cred(meta={"vct_values": [1]})]},),
    "type_values missing": ({"credentials": [_cred(format="ldp_vc", meta={"vct_values": [VCT]})]},),
    "type_values flat": ({"credentials": [_cred(format="ldp_vc", meta={"type_values": ["Diploma"]})]},),
    "multiple not boolean": ({"credentials": [_cred(multiple="yes")]},),
    "binding not boolean": ({"credentials": [_cred(require_cryptographic_holder_binding=1)]},),
    "claims empty": ({"credentials": [_cred(claims=[])]},),
    "claim without path": ({"credentials": [_cred(claims=[{"id": "a"}])]},),
    "path empty": ({"credentials": [_cred(claims=[{"path": []}])]},),
    "path not a list": ({"credentials": [_cred(claims=[{"path": "familyName"}])]},),
    "path negative index": ({"credentials": [_cred(claims=[{"path": ["a", -1]}])]},),
    "path boolean": ({"credentials": [_cred(claims=[{"path": ["a", True]}])]},),
    "path float": ({"credentials": [_cred(claims=[{"path": ["a", 1.0]}])]},),
    "path object": ({"credentials": [_cred(claims=[{"path": [{"a": 1}]}])]},),
    "same path twice": ({"credentials": [_cred(claims=[{"path": ["a"]}, {"path": ["a"]}])]},),
    "duplicate claim ids": ({"credentials": [_cred(claims=[{"id": "x", "path": ["a"]},
                                                            {"id": "x", "path": ["b"]}])]},),
    "claim id invalid": ({"credentials": [_cred(claims=[{"id": "x/y", "path": ["a"]}])]},),
    "values empty": ({"credentials": [_cred(claims=[{"path": ["a"], "values": []}])]},),
    "values of objects": ({"credentials": [_cred(claims=[{"path": ["a"], "values": [{"x": 1}]}])]},),
    "claim_sets without claims": ({"credentials": [_cred(claim_sets=[["a"]])]},),
    "claim_sets with an id-less claim": ({"credentials": [_cred(claims=[{"path": ["a"]}], claim_sets=[["a"]])]},),
    "claim_sets unknown id": ({"credentials": [_cred(claims=[{"id": "a", "path": ["a"]}],
                                                     claim_sets=[["a", "zz"]])]},),
    "claim_sets empty": ({"credentials": [_cred(claims=[{"id": "a", "path": ["a"]}], claim_sets=[])]},),
    "claim_sets empty option": ({"credentials": [_cred(claims=[{"id": "a", "path": ["a"]}], claim_sets=[[]])]},),
    "credential_sets empty": ({"credentials": [_cred()], "credential_sets": []},),
    "credential_sets no options": ({"credentials": [_cred()], "credential_sets": [{}]},),
    "credential_sets unknown id": ({"credentials": [_cred()], "credential_sets": [{"options": [["other"]]}]},),
    "credential_sets required not boolean": ({"credentials": [_cred()],
                                              "credential_sets": [{"options": [["pid"]], "required": "no"}]},),
    "trusted_authorities empty": ({"credentials": [_cred(trusted_authorities=[])]},),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_queries_are_refused_with_a_rule_not_a_value(case: str) -> None:
    (query,) = INVALID[case]
    with pytest.raises(DcqlError) as exc:
        parse_query(query)
    assert isinstance(exc.value, Unprocessable) and exc.value.status == 422
    assert exc.value.code == "invalid_dcql"
    # The message names the rule, never the offending value.
    for value in ("p.id", "p id", "vc+sd-jwt", "mso_mdoc", "x/y", "zz", "other", "familyName", "yes"):
        assert value not in exc.value.detail


def test_each_rule_names_itself() -> None:
    with pytest.raises(DcqlError, match="ids must be unique"):
        parse_query({"credentials": [_cred(), _cred()]})
    with pytest.raises(DcqlError, match="alphanumeric, underscore or hyphen"):
        parse_query({"credentials": [_cred(id="p.id")]})
    with pytest.raises(DcqlError, match="not a supported format"):
        parse_query({"credentials": [_cred(format="vc+sd-jwt")]})
    with pytest.raises(DcqlError, match="claim id not in claims"):
        parse_query({"credentials": [_cred(claims=[{"id": "a", "path": ["a"]}], claim_sets=[["zz"]])]})
    with pytest.raises(DcqlError, match="strings, non-negative integers or null"):
        parse_query({"credentials": [_cred(claims=[{"path": ["a", -1]}])]})


# --- query_for --------------------------------------------------------------------------------------------


def test_query_for_has_the_spec_example_shape() -> None:
    q = ric_query()
    assert q == {"credentials": [{
        "id": RIC,
        "format": "dc+sd-jwt",
        "meta": {"vct_values": ["https://issuer.example/vct/ResidentIdentityCredential"]},
        "require_cryptographic_holder_binding": True,
        "claims": [{"path": ["familyName"]}, {"path": ["givenName"]}, {"path": ["birthDate"]},
                   {"path": ["residentRegistrationNumber"]}],
    }]}
    assert parse_query(q).credentials[0].claims is not None


def test_query_for_a_general_tenant_does_not_ask_for_the_rrn() -> None:
    q = ric_query("general")
    paths = [c["path"] for c in q["credentials"][0]["claims"]]
    assert ["residentRegistrationNumber"] not in paths and paths == [["familyName"], ["givenName"], ["birthDate"]]


@pytest.mark.parametrize("type_name", sorted(CLAIMS_BY_TYPE))
def test_query_for_certificate_types(type_name: str) -> None:
    q = query_for(type_name, CLAIMS_BY_TYPE[type_name], vct=vct_for(PUBLIC, type_name), query_id="cert")
    cred = q["credentials"][0]
    assert cred["id"] == "cert" and cred["meta"] == {"vct_values": [f"{PUBLIC}/vct/{type_name}"]}
    assert [c["path"] for c in cred["claims"]] == [[n] for n in CLAIMS_BY_TYPE[type_name]]


def test_query_for_refuses_bad_input() -> None:
    with pytest.raises(DcqlError):
        query_for(RIC, ["a", "a"], vct=VCT)
    with pytest.raises(DcqlError):
        query_for(RIC, ["a"], vct=VCT, query_id="bad id")
    with pytest.raises(DcqlError):
        query_for(RIC, [""], vct=VCT)
    with pytest.raises(DcqlError):
        query_for(RIC, ["a"], vct="")


def test_query_for_without_claims_omits_claims() -> None:
    assert "claims" not in query_for(RIC, [], vct=VCT)["credentials"][0]


# --- match ------------------------------------------------------------------------------------------------


def test_match_success() -> None:
    result = match(ric_query(), {RIC: [ric_claims()]})
    assert result.satisfied and result.errors == () and result.unexpected == ()
    q = result.query(RIC)
    assert q is not None and q.satisfied and q.presented == 1
    assert q.errors == () and q.missing_claims == () and q.extra_claims == ()


def test_match_accepts_a_parsed_query() -> None:
    assert match(parse_query(ric_query()), {RIC: [ric_claims()]}).satisfied


def test_missing_credential() -> None:
    result = match(ric_query(), {})
    assert not result.satisfied
    q = result.query(RIC)
    assert q is not None and q.errors == ("missing_credential",) and not q.satisfied
    # An empty array is no presentation either.
    assert match(ric_query(), {RIC: []}).query(RIC).errors == ("missing_credential",)  # type: ignore[union-attr]


def test_unexpected_credential() -> None:
    result = match(ric_query(), {RIC: [ric_claims()], "other": [ric_claims()]})
    assert not result.satisfied
    assert result.errors == ("unexpected_credential",) and result.unexpected == ("other",)


def test_too_many_presentations_unless_multiple() -> None:
    result = match(ric_query(), {RIC: [ric_claims(), ric_claims()]})
    assert not result.satisfied and result.query(RIC).errors == ("too_many_presentations",)  # type: ignore
    q = ric_query()
    q["credentials"][0]["multiple"] = True
    many = match(q, {RIC: [ric_claims(), ric_claims()]})
    assert many.satisfied and many.query(RIC).presented == 2  # type: ignore[union-attr]


def test_vct_mismatch() -> None:
    for claims in (ric_claims(vct=vct_for(PUBLIC, "DiplomaCredential")), {k: v for k, v in ric_claims().items()
                                                                          if k != "vct"}):
        result = match(ric_query(), {RIC: [claims]})
        assert not result.satisfied and result.query(RIC).errors == ("vct_mismatch",)  # type: ignore


def test_missing_claims_names_the_paths() -> None:
    claims = ric_claims()
    del claims["residentRegistrationNumber"]
    result = match(ric_query(), {RIC: [claims]})
    q = result.query(RIC)
    assert not result.satisfied and q is not None
    assert q.errors == ("missing_claims",) and q.missing_claims == (("residentRegistrationNumber",),)
    # The general tenant's query does not ask for it, so the same credential satisfies it.
    assert match(ric_query("general"), {RIC: [claims]}).satisfied


def test_value_mismatch_compares_type_and_value() -> None:
    q = sd_query(claims=[{"path": ["age_over_18"], "values": [True]}, {"path": ["level"], "values": [1, 2]}])
    assert match(q, {"pid": [{"vct": VCT, "age_over_18": True, "level": 2}]}).satisfied
    for bad in ({"age_over_18": False, "level": 2}, {"age_over_18": 1, "level": 2},
                {"age_over_18": True, "level": "2"}, {"age_over_18": True, "level": True}):
        result = match(q, {"pid": [{"vct": VCT, **bad}]})
        assert not result.satisfied
        assert result.query("pid").errors == ("value_mismatch",)  # type: ignore[union-attr]


def test_w3c_type_values() -> None:
    q = {"credentials": [{"id": "d", "format": "ldp_vc",
                          "meta": {"type_values": [["VerifiableCredential", "DiplomaCredential"]]},
                          "claims": [{"path": ["credentialSubject", "degree"]}]}]}
    good = {"type": ["VerifiableCredential", "DiplomaCredential"], "credentialSubject": {"degree": "BSc"}}
    result = match(q, {"d": [good]})
    assert result.satisfied and result.query("d").extra_claims == ()  # type: ignore[union-attr]
    bad = match(q, {"d": [dict(good, type=["VerifiableCredential"])]})
    assert bad.query("d").errors == ("type_mismatch",)  # type: ignore[union-attr]


def test_claim_sets_first_satisfiable_option_wins() -> None:
    q = sd_query(claims=[{"id": "last", "path": ["familyName"]}, {"id": "first", "path": ["givenName"]},
                         {"id": "postal", "path": ["postalCode"]}, {"id": "locality", "path": ["locality"]}],
                 claim_sets=[["last", "first", "postal"], ["last", "first", "locality"]])
    both = match(q, {"pid": [{"vct": VCT, "familyName": "K", "givenName": "M", "postalCode": "1",
                              "locality": "Seoul"}]})
    q_both = both.query("pid")
    # The first option is satisfied, so locality, only in the second, was not needed: reported as over-disclosure.
    assert both.satisfied and q_both is not None and q_both.claim_set == (0,)
    assert q_both.extra_claims == ("locality",)
    second = match(q, {"pid": [{"vct": VCT, "familyName": "K", "givenName": "M", "locality": "Seoul"}]})
    q_second = second.query("pid")
    assert second.satisfied and q_second is not None and q_second.claim_set == (1,) and q_second.extra_claims == ()
    neither = match(q, {"pid": [{"vct": VCT, "familyName": "K"}]})
    q_neither = neither.query("pid")
    assert not neither.satisfied and q_neither is not None and q_neither.claim_set == (None,)
    # Reported against the verifier's preferred (first) option.
    assert q_neither.missing_claims == (("givenName",), ("postalCode",))


def test_over_disclosure_lists_names_never_values() -> None:
    nationality, secret = "Atlantis-Nationality-Value", "NeverEchoThis-42"
    result = match(ric_query("general"), {RIC: [ric_claims(nationality=nationality, note=secret)]})
    q = result.query(RIC)
    assert q is not None
    # The RRN was disclosed to a general tenant that did not ask for it; the structural claims are not counted.
    assert q.extra_claims == ("nationality", "note", "residentRegistrationNumber")
    assert result.extra_claims == {RIC: ("nationality", "note", "residentRegistrationNumber")}
    # Over-disclosure is reported for the verifier to drop, not a failure of the match.
    assert result.satisfied
    for text in (repr(result), repr(result.to_dict())):
        for value in (nationality, secret, RRN, "Kim", "Minji", "1990-01-01"):
            assert value not in text


def test_failure_results_carry_no_values() -> None:
    q = sd_query(claims=[{"path": ["familyName"], "values": ["Lee"]}])
    result = match(q, {"pid": [{"vct": VCT, "familyName": "Kim-Secret"}]})
    assert not result.satisfied and "Kim-Secret" not in repr(result) and "Kim-Secret" not in repr(result.to_dict())


def test_null_path_selects_every_array_element() -> None:
    claims = {"vct": VCT, "nationalities": ["KR", "DE"],
              "degrees": [{"type": "BSc", "year": 2010}, {"type": "MSc"}]}
    assert select(claims, ("nationalities", None)) == ["KR", "DE"]
    assert select(claims, ("degrees", None, "type")) == ["BSc", "MSc"]
    assert select(claims, ("degrees", None, "year")) == [2010]  # elements without the key drop out
    assert select(claims, ("degrees", 1, "type")) == ["MSc"]
    assert select(claims, ("degrees", 5)) is None
    assert select(claims, ("nationalities", "x")) is None  # a string component on an array is an error
    assert select(claims, ("degrees", None, "school")) is None
    assert select({"empty": []}, ("empty", None)) is None
    q = sd_query(claims=[{"path": ["nationalities", None], "values": ["DE"]},
                         {"path": ["degrees", None, "type"]}])
    assert match(q, {"pid": [claims]}).satisfied
    result = match(q, {"pid": [dict(claims, nationalities=["KR", "FR"])]})
    assert result.query("pid").errors == ("value_mismatch",)  # type: ignore[union-attr]
    missing = match(q, {"pid": [dict(claims, nationalities=[])]})
    assert missing.query("pid").missing_claims == (("nationalities", None),)  # type: ignore[union-attr]


def test_credential_sets_required_and_optional() -> None:
    q = {"credentials": [_cred(id="pid"), _cred(id="other_pid"), _cred(id="extra")],
         "credential_sets": [{"options": [["pid"], ["other_pid"]]},
                             {"options": [["extra"]], "required": False}]}
    one = {"vct": VCT}
    assert match(q, {"other_pid": [one]}).satisfied
    assert match(q, {"pid": [one], "extra": [one]}).satisfied
    none = match(q, {"extra": [one]})
    assert not none.satisfied and none.errors == ("credential_set_unsatisfied",)
    assert none.query("pid").errors == ("missing_credential",)  # type: ignore[union-attr]
    assert none.query("other_pid").errors == ()  # type: ignore[union-attr]
    # An optional query that is answered must still be answered correctly.
    wrong = match(q, {"pid": [one], "extra": [{"vct": "https://elsewhere/vct/X"}]})
    assert not wrong.satisfied and wrong.query("extra").errors == ("vct_mismatch",)  # type: ignore[union-attr]


def test_without_credential_sets_every_query_is_required() -> None:
    q = {"credentials": [_cred(id="a"), _cred(id="b")]}
    assert match(q, {"a": [{"vct": VCT}], "b": [{"vct": VCT}]}).satisfied
    result = match(q, {"a": [{"vct": VCT}]})
    assert not result.satisfied and result.query("b").errors == ("missing_credential",)  # type: ignore


def test_query_without_claims_counts_every_disclosure_as_extra() -> None:
    result = match({"credentials": [_cred()]}, {"pid": [{"vct": VCT, "iss": "x", "familyName": "K"}]})
    assert result.satisfied and result.query("pid").extra_claims == ("familyName",)  # type: ignore


def test_several_errors_are_all_reported_once() -> None:
    claims = ric_claims(vct="https://elsewhere/vct/X")
    del claims["birthDate"]
    result = match(ric_query(), {RIC: [claims, copy.deepcopy(claims)]})
    assert result.query(RIC).errors == ("too_many_presentations", "vct_mismatch", "missing_claims")  # type: ignore


def test_malformed_vp_token_and_query() -> None:
    for token in ([], {RIC: {"vct": VCT}}, {RIC: ["a string"]}):
        with pytest.raises(InvalidVpToken):
            match(ric_query(), token)  # type: ignore[arg-type]
    with pytest.raises(DcqlError):
        match({"credentials": []}, {})
