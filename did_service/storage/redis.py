"""Redis implementation of the Store protocol.

Redis has no rollback, so every write that touches more than one key, or checks before it writes, is a Lua
script: Redis runs a script to completion before serving anyone else, which makes it one atomic unit. All keys
share one hash tag (``{namespace}``), so they live in one Cluster slot and a script may touch any of them.

Layout (``{ns}`` = ``{<namespace>}``):

    {ns}:keys               hash  kid -> KeyRecord JSON
    {ns}:keys:order         zset  kid scored by created_at (epoch microseconds); ties fall back to kid
    {ns}:tokens:by_hash     hash  token_hash -> TokenRecord JSON (the lookup on every request is one HGET)
    {ns}:tokens:by_id       hash  token_id -> token_hash
    {ns}:tokens:order       zset  token_id scored by created_at
    {ns}:credentials        hash  credential_id -> CredentialRecord JSON
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from did_service.errors import ConfigurationError, StoreConflict, StoreUnavailable
from did_service.storage.base import CredentialRecord, KeyRecord, TokenRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_CONFLICT = b"conflict"

# Returns the records of a (zset order, hash records[, hash indirection]) pair in zset order. HGET per member
# rather than one HMGET: unpack() of a long list overflows the Lua stack.
_ORDERED = """
local function ordered(order_key, records_key, via_key)
  local out = {}
  for _, member in ipairs(redis.call('ZRANGE', order_key, 0, -1)) do
    local field = member
    if via_key then field = redis.call('HGET', via_key, member) end
    out[#out + 1] = redis.call('HGET', records_key, field)
  end
  return out
end
"""

# KEYS: keys hash, keys order. ARGV: kid, score, json triples.
_ADD_KEYS_IF_NONE = _ORDERED + """
if redis.call('ZCARD', KEYS[2]) == 0 and #ARGV > 0 then
  local seen = {}
  for i = 1, #ARGV, 3 do
    if seen[ARGV[i]] then return 'conflict' end
    seen[ARGV[i]] = true
  end
  for i = 1, #ARGV, 3 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  end
end
return ordered(KEYS[2], KEYS[1], nil)
"""

# KEYS: tokens by_hash, tokens by_id, tokens order. ARGV: token_id, token_hash, score, json.
_ADD_TOKEN = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return 'conflict'
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 'ok'
"""

# KEYS: tokens by_hash, tokens by_id. ARGV: token_id, revoked_at. Returns 1 if the token exists.
_REVOKE_TOKEN = """
local token_hash = redis.call('HGET', KEYS[2], ARGV[1])
if not token_hash then return 0 end
local record = cjson.decode(redis.call('HGET', KEYS[1], token_hash))
if record['revoked_at'] == nil or record['revoked_at'] == cjson.null then
  record['revoked_at'] = ARGV[2]
  redis.call('HSET', KEYS[1], token_hash, cjson.encode(record))
end
return 1
"""

# KEYS: order zset, records hash[, hash from order member to record field].
_LIST = _ORDERED + "return ordered(KEYS[1], KEYS[2], KEYS[3])\n"

# KEYS: credentials hash. ARGV: credential_id, json pairs. Checks everything before writing anything.
_ADD_CREDENTIALS = """
local seen = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if seen[id] or redis.call('HEXISTS', KEYS[1], id) == 1 then return 'conflict' end
  seen[id] = true
end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 'ok'
"""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: the store needs timezone-aware times")
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _aware(value).astimezone(timezone.utc).isoformat(timespec="microseconds")


def _from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _score(value: datetime) -> int:
    # Integer microseconds are exact in a zset's double score until the year 2255.
    return (_aware(value) - _EPOCH) // timedelta(microseconds=1)


def _dumps(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _key_json(r: KeyRecord) -> bytes:
    return _dumps({
        "kid": r.kid,
        "alg": r.alg,
        "public_jwk": r.public_jwk,
        "encrypted_private_key": base64.b64encode(r.encrypted_private_key).decode("ascii"),
        "created_at": _iso(r.created_at),
        "status": r.status,
    })


def _key_from_json(raw: bytes) -> KeyRecord:
    d = json.loads(raw)
    return KeyRecord(
        d["kid"], d["alg"], d["public_jwk"], base64.b64decode(d["encrypted_private_key"]),
        _from_iso(d["created_at"]), d["status"],
    )


def _token_json(r: TokenRecord) -> bytes:
    return _dumps({
        "token_id": r.token_id,
        "token_hash": r.token_hash,
        "role": r.role,
        "created_at": _iso(r.created_at),
        "revoked_at": _iso(r.revoked_at),
    })


def _token_from_json(raw: bytes) -> TokenRecord:
    d = json.loads(raw)
    return TokenRecord(
        d["token_id"], d["token_hash"], d["role"], _from_iso(d["created_at"]), _from_iso(d["revoked_at"])
    )


def _credential_json(r: CredentialRecord) -> bytes:
    return _dumps({
        "credential_id": r.credential_id,
        "credential_type": r.credential_type,
        "format": r.format,
        "digest": r.digest,
        "issuer_kid": r.issuer_kid,
        "issued_at": _iso(r.issued_at),
        "valid_from": _iso(r.valid_from),
        "valid_until": _iso(r.valid_until),
        "extra": r.extra,
    })


def _credential_from_json(raw: bytes) -> CredentialRecord:
    d = json.loads(raw)
    return CredentialRecord(
        d["credential_id"], d["credential_type"], d["format"], d["digest"], d["issuer_kid"],
        _from_iso(d["issued_at"]), _from_iso(d["valid_from"]), _from_iso(d["valid_until"]), d["extra"],
    )


# ReadOnlyError: we are talking to a replica (e.g. mid-failover); as with a lost connection, retrying later
# is the remedy.
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailable("Redis is unreachable") from exc


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    def __init__(self, url: str, namespace: str = "did_service") -> None:
        if not namespace or "{" in namespace or "}" in namespace:
            raise ConfigurationError("The Redis namespace must be non-empty and contain no braces")
        try:
            self._client = redis.Redis.from_url(
                url,
                decode_responses=False,
                socket_timeout=2.0,
                socket_connect_timeout=2.0,
                health_check_interval=30,
                # One quick retry heals a pooled connection that Redis closed while idle. Timeouts are not
                # retried: the script may have run, and a second run would report a false conflict.
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1, (redis.exceptions.ConnectionError,)),
            )
        except ValueError:
            # from None: redis-py's message may quote parts of the URL, which can carry a password.
            raise ConfigurationError("The Redis URL is not valid") from None
        prefix = "{" + namespace + "}:"
        self._k_keys = prefix + "keys"
        self._k_keys_order = prefix + "keys:order"
        self._k_tokens_by_hash = prefix + "tokens:by_hash"
        self._k_tokens_by_id = prefix + "tokens:by_id"
        self._k_tokens_order = prefix + "tokens:order"
        self._k_credentials = prefix + "credentials"
        self._add_keys_if_none = self._client.register_script(_ADD_KEYS_IF_NONE)
        self._add_token = self._client.register_script(_ADD_TOKEN)
        self._revoke_token = self._client.register_script(_REVOKE_TOKEN)
        self._list = self._client.register_script(_LIST)
        self._add_credentials = self._client.register_script(_ADD_CREDENTIALS)

    def ping(self) -> None:
        with _translated():
            self._client.ping()

    def close(self) -> None:
        self._client.close()

    def durability_problem(self) -> str | None:
        # An acknowledged write must survive a crash: AOF with an fsync per write. CONFIG may be disabled on
        # managed Redis; then durability cannot be confirmed, which is itself the problem to report.
        with _translated():
            try:
                config = self._client.config_get("append*")
            except redis.exceptions.ResponseError:
                return "Redis durability cannot be confirmed (CONFIG GET is refused)"
        # redis-py answers CONFIG GET with str or bytes depending on version; compare as text.
        config = {_text(k): _text(v) for k, v in config.items()}
        if config.get("appendonly") != "yes" or config.get("appendfsync") != "always":
            return "Redis does not fsync every write (set appendonly yes and appendfsync always)"
        return None

    def add_keys_if_none(self, records: Sequence[KeyRecord]) -> list[KeyRecord]:
        args: list[object] = []
        for r in records:
            args += [r.kid, _score(r.created_at), _key_json(r)]
        with _translated():
            result = self._add_keys_if_none(keys=[self._k_keys, self._k_keys_order], args=args)
        if result == _CONFLICT:
            raise StoreConflict("The key batch repeats a kid")
        return [_key_from_json(raw) for raw in result]

    def list_keys(self) -> list[KeyRecord]:
        with _translated():
            raws = self._list(keys=[self._k_keys_order, self._k_keys])
        return [_key_from_json(raw) for raw in raws]

    def add_token(self, record: TokenRecord) -> None:
        args = [record.token_id, record.token_hash, _score(record.created_at), _token_json(record)]
        with _translated():
            result = self._add_token(
                keys=[self._k_tokens_by_hash, self._k_tokens_by_id, self._k_tokens_order], args=args
            )
        if result == _CONFLICT:
            raise StoreConflict("A token with this id or hash exists")

    def find_token(self, token_hash: str) -> TokenRecord | None:
        with _translated():
            raw = self._client.hget(self._k_tokens_by_hash, token_hash)
        return None if raw is None else _token_from_json(raw)

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        with _translated():
            found = self._revoke_token(
                keys=[self._k_tokens_by_hash, self._k_tokens_by_id], args=[token_id, _iso(at)]
            )
        return found == 1

    def list_tokens(self) -> list[TokenRecord]:
        with _translated():
            raws = self._list(keys=[self._k_tokens_order, self._k_tokens_by_hash, self._k_tokens_by_id])
        return [_token_from_json(raw) for raw in raws]

    def add_credentials(self, records: Sequence[CredentialRecord]) -> None:
        if not records:
            return
        args: list[object] = []
        for r in records:
            args += [r.credential_id, _credential_json(r)]
        with _translated():
            result = self._add_credentials(keys=[self._k_credentials], args=args)
        if result == _CONFLICT:
            raise StoreConflict("A credential id exists or repeats in the batch")

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        with _translated():
            raw = self._client.hget(self._k_credentials, credential_id)
        return None if raw is None else _credential_from_json(raw)
