"""Collecting a credential with a key proof (OpenID4VCI `jwt` proof): the proof is made here with joserfc."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from did_service.clock import utcnow
from did_service.core.proofs import sd_jwt
from did_service.core.residents import COLUMNS
from did_service.errors import Forbidden, Unprocessable
from did_service.services.container import build_services
from did_service.services.wallet_issuance import WalletIssuance
from tests.support import make_settings

ROW = "홍,길동,Hong,Gildong,1990-01-01,1,문연로 6,제주시,제주특별자치도,63122,900101-1234567"


@pytest.fixture
def svc(tmp_path):
    services = build_services(make_settings(tmp_path / "instance"))
    yield services
    services.store.close()


@pytest.fixture
def resident(svc):
    (imported,) = svc.residents.import_registry(",".join(COLUMNS[:11]) + "\n" + ROW + "\n")
    return f"resident:{imported.resident_id}"


@pytest.fixture
def wallet(svc):
    return WalletIssuance(svc.residents, svc.issuance, svc.store, issuer_identifier=svc.settings.public_url,
                          nonce_key=b"n" * 32, clock=lambda: svc.clock())


def proof(key, *, nonce, aud, iat=None, typ="openid4vci-proof+jwt", jwk=None, alg="ES256") -> str:
    header = {"alg": alg, "typ": typ, "jwk": jwk if jwk is not None else key.as_dict(private=False)}
    payload = {"aud": aud, "iat": int((iat or utcnow()).timestamp()), "nonce": nonce}
    return jws.serialize_compact(header, json.dumps(payload).encode(), key, algorithms=[alg])


def test_a_collected_credential_is_bound_to_the_proven_key_and_verifies(svc, resident, wallet):
    key = ECKey.generate_key("P-256")
    collected = wallet.collect(resident, "ResidentIdentityCredential",
                               proof(key, nonce=wallet.nonce(resident), aud=svc.settings.public_url))
    text = collected.credential["id"].split(",", 1)[1]
    payload = sd_jwt.parse(text).issuer_jwt.payload
    public = key.as_dict(private=False)
    assert payload["cnf"]["jwk"]["x"] == public["x"] and payload["cnf"]["jwk"]["y"] == public["y"]
    assert svc.verify_credential(collected.credential).verified
    assert collected.leaf_index is not None


def test_an_ed25519_wallet_key_works_too(svc, resident, wallet):
    key = OKPKey.generate_key("Ed25519")
    collected = wallet.collect(resident, "ResidentIdentityCredential",
                               proof(key, nonce=wallet.nonce(resident), aud=svc.settings.public_url, alg="EdDSA"))
    assert svc.verify_credential(collected.credential).verified


def test_bad_proofs_are_refused_and_nothing_is_issued(svc, resident, wallet):
    key, other = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    aud = svc.settings.public_url
    nonce = wallet.nonce(resident)
    before = svc.store.log_size()
    cases = {
        "wrong typ": proof(key, nonce=nonce, aud=aud, typ="JWT"),
        "private key in jwk": proof(key, nonce=nonce, aud=aud, jwk=key.as_dict(private=True)),
        "signed by another key": proof(other, nonce=nonce, aud=aud, jwk=key.as_dict(private=False)),
        "another issuer": proof(key, nonce=nonce, aud="https://other.example"),
        "stale": proof(key, nonce=nonce, aud=aud, iat=utcnow() - timedelta(minutes=6)),
        "another account's nonce": proof(key, nonce=wallet.nonce("resident:SOMEONEELSE"), aud=aud),
        "made-up nonce": proof(key, nonce="A" * 75, aud=aud),
        "not a JWS": "not.a.jws",
    }
    for name, token in cases.items():
        with pytest.raises(Unprocessable) as info:
            wallet.collect(resident, "ResidentIdentityCredential", token)
        assert info.value.code in ("invalid_proof", "invalid_nonce"), name
    assert svc.store.log_size() == before


def test_nonces_expire(svc, resident, wallet):
    key = ECKey.generate_key("P-256")
    token = proof(key, nonce=wallet.nonce(resident), aud=svc.settings.public_url)
    start = utcnow()
    svc.clock = lambda: start + timedelta(minutes=6)
    with pytest.raises(Unprocessable) as info:
        wallet.collect(resident, "ResidentIdentityCredential", token)
    assert info.value.code in ("invalid_nonce", "invalid_proof")


def test_only_residents_collect_and_only_registry_types(svc, resident, wallet):
    key = ECKey.generate_key("P-256")
    token = proof(key, nonce=wallet.nonce(resident), aud=svc.settings.public_url)
    with pytest.raises(Forbidden):
        wallet.collect("operator:x", "ResidentIdentityCredential", token)
    with pytest.raises(Unprocessable) as info:
        wallet.collect(resident, "DiplomaCredential", token)
    assert info.value.code == "unsupported_credential_type"


def test_a_proof_is_spent_once(svc, resident, wallet):
    key = ECKey.generate_key("P-256")
    token = proof(key, nonce=wallet.nonce(resident), aud=svc.settings.public_url)
    wallet.collect(resident, "ResidentIdentityCredential", token)
    with pytest.raises(Unprocessable) as info:
        wallet.collect(resident, "ResidentIdentityCredential", token)
    assert info.value.code == "invalid_nonce"


def test_odd_proofs_are_refused_not_crashed_on(svc, resident, wallet):
    key = ECKey.generate_key("P-256")
    aud = svc.settings.public_url
    header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": key.as_dict(private=False)}
    huge_iat = jws.serialize_compact(header, json.dumps({"aud": aud, "iat": 10 ** 400,
                                                         "nonce": wallet.nonce(resident)}).encode(), key)
    with pytest.raises(Unprocessable) as info:
        wallet.collect(resident, "ResidentIdentityCredential", huge_iat)
    assert info.value.code == "invalid_proof"
    okp = OKPKey.generate_key("Ed25519")
    padded = {**okp.as_dict(private=False), "y": "AAAA", "extra": "x"}
    collected = wallet.collect(resident, "ResidentIdentityCredential",
                               proof(okp, nonce=wallet.nonce(resident), aud=aud, alg="EdDSA", jwk=padded))
    cnf = sd_jwt.parse(collected.credential["id"].split(",", 1)[1]).issuer_jwt.payload["cnf"]["jwk"]
    assert set(cnf) == {"kty", "crv", "x"}


def test_a_disabled_resident_collects_nothing(svc, resident, wallet):
    svc.store.set_resident_status(resident.split(":", 1)[1], "disabled", utcnow())
    key = ECKey.generate_key("P-256")
    with pytest.raises(Forbidden) as info:
        wallet.collect(resident, "ResidentIdentityCredential", proof(key, nonce=wallet.nonce(resident),
                                                                     aud=svc.settings.public_url))
    assert info.value.code == "resident_disabled"
    assert not svc.residents.check_password(resident, "irrelevant password")


def test_a_residence_certificate_is_collected_from_the_household_record(svc, wallet):
    header = ",".join(COLUMNS)
    (imported,) = svc.residents.import_registry(header + "\n" + ROW.replace("900101-1234567", "900102-1234567")
                                                .replace("1990-01-01", "1990-01-02") + ",2018-03-15,홍길동:head;김영희:spouse\n")
    subject = f"resident:{imported.resident_id}"
    key = ECKey.generate_key("P-256")
    collected = wallet.collect(subject, "ResidenceCertificateCredential",
                               proof(key, nonce=wallet.nonce(subject), aud=svc.settings.public_url))
    assert svc.verify_credential(collected.credential).verified
    text = collected.credential["id"].split(",", 1)[1]
    assert "2018-03-15" in json.dumps(sd_jwt.verify(text, svc.keyring.for_alg("EdDSA").public_key, now=utcnow(),
                                                    require_key_binding=False))


def test_no_household_record_no_residence_certificate(svc, resident, wallet):
    key = ECKey.generate_key("P-256")
    with pytest.raises(Unprocessable) as info:
        wallet.collect(resident, "ResidenceCertificateCredential",
                       proof(key, nonce=wallet.nonce(resident), aud=svc.settings.public_url))
    assert info.value.code == "no_registry_record"
