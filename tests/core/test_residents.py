"""The resident registry CSV: what is accepted, and errors that name rows and columns but never values."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, strategies as st

from did_service.core.residents import COLUMNS, InvalidRegistry, mask_rrn, parse_registry, rrn_birth_date

HEADER = ",".join(COLUMNS[:11])
ROW = "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567"


def registry(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_a_row_becomes_a_resident_and_an_identity_subject():
    (resident,) = parse_registry(registry(ROW))
    assert resident.masked_rrn == "900101-1******"
    subject = resident.identity_subject("제주특별자치도 제주시장")
    assert subject["address"] == {"streetAddress": "문연로 6", "locality": "제주시", "region": "제주특별자치도",
                                  "postalCode": "63122", "country": "KR"}
    assert subject["sex"] == 1 and subject["residentRegistrationNumber"] == "900101-1234567"


def test_spreadsheet_exports_are_accepted():
    # A UTF-8 BOM, CRLF line ends, blank lines, an optional column left out, columns in another order.
    columns = [c for c in COLUMNS[:11] if c != "sex"][::-1]
    values = dict(zip(COLUMNS, ROW.split(",")))
    text = "\ufeff" + ",".join(columns) + "\r\n\r\n" + ",".join(values[c] for c in columns) + "\r\n"
    (resident,) = parse_registry(text)
    assert resident.sex is None and resident.given_name == "길동"


@pytest.mark.parametrize("rrn, born", [("900101-1234567", date(1990, 1, 1)), ("050229-3000000", None),
                                       ("040229-4000000", date(2004, 2, 29)), ("991231-9000000", date(1899, 12, 31)),
                                       ("900101-5000000", date(1990, 1, 1)), ("9001011234567", None),
                                       ("901301-1234567", None)])
def test_rrn_birth_dates(rrn, born):
    assert rrn_birth_date(rrn) == born


@pytest.mark.parametrize("row, message", [
    (ROW.replace("900101-1234567", "900102-1234567"), "row 2: rrn does not encode birth_date"),
    (ROW.replace("홍,", "Hong,", 1), "row 2: family_name must be written in Hangul"),
    (ROW.replace("63122", "6312"), "row 2: postal_code must be five digits"),
    (ROW.replace(",1,", ",M,"), "row 2: sex must be empty"),
    (ROW.replace("1990-01-01", "1990-1-1"), "row 2: birth_date must be a date"),
    (ROW + ",extra", "row 2: expected 11 fields, found 12"),
])
def test_bad_rows_are_named_by_row_and_column_never_by_value(row, message):
    with pytest.raises(InvalidRegistry) as info:
        parse_registry(registry(row))
    assert message in info.value.detail
    for value in ("900101", "길동", "Gildong", "문연로"):
        assert value not in info.value.detail


def test_a_duplicate_rrn_or_a_bad_header_refuses_the_whole_file():
    with pytest.raises(InvalidRegistry, match="the same resident registration number as row 2"):
        parse_registry(registry(ROW, ROW))
    with pytest.raises(InvalidRegistry, match="missing: rrn"):
        parse_registry(registry(ROW, header=HEADER.replace(",rrn", ",ssn")))
    with pytest.raises(InvalidRegistry, match="no resident"):
        parse_registry(registry())


@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused_cleanly(text):
    try:
        parse_registry(text)
    except InvalidRegistry:
        pass


def test_masking_refuses_what_is_not_an_rrn():
    with pytest.raises(ValueError):
        mask_rrn("not-an-rrn")


def test_the_identity_subject_is_valid_for_its_schema():
    from did_service.config import Settings
    from did_service.core.schema import SchemaRegistry

    residents = parse_registry(registry(ROW, ROW.replace("홍,길동,Hong,Gildong", "남궁,민,Namgung,Min")
                                        .replace(",1,", ",,").replace("900101-1234567", "900101-2000001")))
    schemas = SchemaRegistry.from_directory(Settings().schemas_dir)
    for resident in residents:
        schemas.validate_subject("ResidentIdentityCredential", resident.identity_subject("제주특별자치도 제주시장"))


def test_a_row_with_a_household_makes_a_residence_certificate_subject():
    header = ",".join(COLUMNS)
    row = ROW + ",2018-03-15,홍길동:head; 김영희:spouse;홍하늘:child"
    (resident,) = parse_registry(registry(row, header=header))
    assert resident.residence_subject() == {
        "address": resident.address(), "movedInDate": "2018-03-15",
        "household": [{"name": "홍길동", "relation": "head"}, {"name": "김영희", "relation": "spouse"},
                      {"name": "홍하늘", "relation": "child"}]}
    assert parse_registry(registry(ROW + ",,", header=header))[0].residence_subject() is None
    for bad, message in ((",2018-03-15,", "together"), (",2018-03-15,홍길동:spouse", "exactly one head"),
                         (",2018-03-15,홍길동:boss", "name:relation"), (",2018-13-01,홍길동:head", "moved_in_date")):
        with pytest.raises(InvalidRegistry, match=message):
            parse_registry(registry(ROW + bad, header=header))


def test_a_resident_round_trips_through_its_dict():
    from did_service.core.residents import Resident

    header = ",".join(COLUMNS)
    (resident,) = parse_registry(registry(ROW + ",2018-03-15,홍길동:head", header=header))
    assert Resident.from_dict(json.loads(json.dumps(resident.to_dict()))) == resident
