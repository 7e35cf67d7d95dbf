from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from did_service.core import keys
from did_service.errors import ConfigurationError, KeyDecryptionError


@pytest.mark.parametrize("alg", keys.ALGORITHMS)
def test_encrypt_decrypt_round_trip(alg):
    kek = keys.new_kek()
    key = keys.signing_key_from_private(keys.generate_private_key(alg))
    blob = keys.encrypt_private_key(key.private_key, kek, key.kid)
    restored = keys.decrypt_private_key(blob, kek, key.kid)
    assert keys.signing_key_from_private(restored).kid == key.kid
    assert key.alg == alg and key.kid == key.jwk.thumbprint()
    # The ciphertext does not contain the private key bytes in any usual encoding.
    der = key.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert der[-32:] not in blob
    assert "d" not in key.public_jwk


def test_wrong_kek_or_swapped_kid_is_refused():
    kek = keys.new_kek()
    key = keys.signing_key_from_private(keys.generate_private_key("EdDSA"))
    blob = keys.encrypt_private_key(key.private_key, kek, key.kid)
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(blob, keys.new_kek(), key.kid)
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(blob, kek, "another-kid")
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(blob[:-1] + bytes([blob[-1] ^ 1]), kek, key.kid)
    with pytest.raises(KeyDecryptionError):
        keys.decrypt_private_key(b"\x02" + blob[1:], kek, key.kid)


def test_two_encryptions_differ():
    kek = keys.new_kek()
    key = keys.generate_private_key("ES256")
    assert keys.encrypt_private_key(key, kek, "k") != keys.encrypt_private_key(key, kek, "k")


def test_kek_encoding():
    kek = keys.new_kek()
    assert keys.decode_kek(keys.encode_kek(kek)) == kek
    for bad in ("", "abc", keys.encode_kek(b"x" * 16), "!!!!"):
        with pytest.raises(ConfigurationError):
            keys.decode_kek(bad)


def test_alg_is_pinned_to_key_type():
    assert keys.alg_for_public_key(keys.generate_private_key("EdDSA").public_key()) == "EdDSA"
    assert keys.alg_for_public_key(keys.generate_private_key("ES256").public_key()) == "ES256"
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(ValueError):
        keys.alg_for_public_key(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(ConfigurationError):
        keys.generate_private_key("RS256")
