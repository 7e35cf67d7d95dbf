"""Importing the registry, enrollment codes and enrolling, on both stores: personal data only sealed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from did_service.core.residents import COLUMNS
from did_service.errors import Conflict, Unauthorized, Unprocessable
from did_service.services.residents import ResidentService, normalize_code, resident_subject
from did_service.storage.base import Store

T0 = datetime(2100, 1, 1, tzinfo=timezone.utc)
ROWS = [
    "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567",
    "김,영희,Kim,Younghee,2001-03-15,2,중앙로 1,서귀포시,제주특별자치도,63561,010315-4123456",
]


def registry(*rows: str) -> str:
    return ",".join(COLUMNS[:11]) + "\n" + "\n".join(rows) + "\n"


@pytest.fixture
def clock():
    moments = [T0]

    def now() -> datetime:
        return moments[0]

    now.advance = lambda delta: moments.__setitem__(0, moments[0] + delta)  # type: ignore[attr-defined]
    return now


@pytest.fixture
def service(store: Store, clock) -> ResidentService:
    return ResidentService(store, seal_key=b"s" * 32, index_key=b"i" * 32, clock=clock)


def test_import_seals_everything_personal_and_gives_each_resident_a_code(service, store):
    imported = service.import_registry(registry(*ROWS))
    assert [i.masked_rrn for i in imported] == ["900101-1******", "010315-4******"]
    first = imported[0]
    assert service.resident(first.resident_id).given_name == "길동"
    record = store.get_resident(first.resident_id)
    stored = repr(record).encode() + record.sealed
    for value in ("길동".encode(), b"Gildong", b"900101", "문연로".encode(), b"1990-01-01"):
        assert value not in stored
    assert len({i.enrollment_code for i in imported}) == 2 and first.code_expires_at == T0 + timedelta(days=14)


def test_a_resident_imported_twice_refuses_the_file_and_adds_nobody(service, store):
    service.import_registry(registry(ROWS[0]))
    with pytest.raises(Conflict) as info:
        service.import_registry(registry(ROWS[1], ROWS[0]))
    assert info.value.code == "resident_exists"
    assert len(store.list_residents()) == 1


def test_enrolling_spends_the_code_once_and_sets_an_argon2id_password(service, store):
    (imported,) = service.import_registry(registry(ROWS[0]))
    typed = imported.enrollment_code.lower().replace("-", " ")  # as a person types it off the letter
    assert normalize_code(typed) == imported.enrollment_code
    subject = service.enroll(typed, "correct horse battery")
    assert subject == resident_subject(imported.resident_id)
    assert store.get_account(subject).password_hash.startswith("$argon2id$")
    assert service.check_password(subject, "correct horse battery")
    assert not service.check_password(subject, "wrong horse battery")
    assert not service.check_password("resident:NOBODY", "correct horse battery")
    with pytest.raises(Unauthorized) as info:
        service.enroll(imported.enrollment_code, "another password")
    assert info.value.code == "invalid_enrollment_code"


def test_codes_expire_and_a_second_letter_cannot_enroll_twice(service, clock):
    (imported,) = service.import_registry(registry(ROWS[0]))
    second, _ = service.new_enrollment_code(imported.resident_id)
    clock.advance(timedelta(days=14))
    with pytest.raises(Unauthorized):
        service.enroll(imported.enrollment_code, "correct horse battery")
    fresh, _ = service.new_enrollment_code(imported.resident_id)
    service.enroll(fresh, "correct horse battery")
    with pytest.raises(Unauthorized):  # the second letter expired too
        service.enroll(second, "correct horse battery")


def test_short_passwords_are_refused_before_the_code_is_spent(service):
    (imported,) = service.import_registry(registry(ROWS[0]))
    with pytest.raises(Unprocessable) as info:
        service.enroll(imported.enrollment_code, "short")
    assert info.value.code == "weak_password"
    service.enroll(imported.enrollment_code, "long enough now")


def test_a_disabled_resident_cannot_enroll(service, store, clock):
    (imported,) = service.import_registry(registry(ROWS[0]))
    store.set_resident_status(imported.resident_id, "disabled", clock())
    with pytest.raises(Unauthorized):
        service.enroll(imported.enrollment_code, "correct horse battery")


def test_disabling_a_resident_ends_their_sessions_and_logins(service, store, clock):
    from did_service.storage.base import SessionRecord

    (imported,) = service.import_registry(registry(ROWS[0]))
    subject = service.enroll(imported.enrollment_code, "correct horse battery")
    store.add_session(SessionRecord("a" * 64, subject, clock(), clock(), 1800, clock() + timedelta(hours=12)))
    assert service.disable(imported.resident_id) == 1
    assert store.get_session("a" * 64, clock()) is None
    assert not service.check_password(subject, "correct horse battery") and not service.is_active(subject)
    with pytest.raises(Exception) as info:
        service.disable("NOSUCHRESIDENT")
    assert info.value.code == "resident_not_found"


def test_a_lost_letter_gets_a_new_code(service):
    (imported,) = service.import_registry(registry(ROWS[0]))
    code, _ = service.new_enrollment_code(imported.resident_id)
    assert code != imported.enrollment_code
    service.enroll(code, "correct horse battery")
