"""Redis implementation of the Store protocol.

Redis has no rollback, so every write that touches more than one key, or checks before it writes, is a Lua
script: Redis runs a script to completion before serving anyone else, which makes it one atomic unit. All keys
share one hash tag (``{namespace}``), so they live in one Cluster slot and a script may touch any of them.
Scripts check everything before their first write, so a refused call writes nothing.

Layout (``{ns}`` = ``{<namespace>}``):

    {ns}:keys                   hash  kid -> KeyRecord JSON (as added, with log_index)
    {ns}:keys:order             zset  kid scored by created_at (epoch microseconds); ties fall back to kid
    {ns}:keys:retired           hash  kid -> {"retired_at", "retired_log_index"} of a key retired by rotate_keys
    {ns}:tokens:by_hash         hash  token_hash -> TokenRecord JSON (the lookup on every request is one HGET)
    {ns}:tokens:by_id           hash  token_id -> token_hash
    {ns}:tokens:order           zset  token_id scored by created_at
    {ns}:trust                  hash  "<credential type> <issuer>" -> added_at (ISO 8601)
    {ns}:tenants                hash  tenant_id -> TenantRecord JSON
    {ns}:tenants:order          zset  tenant_id scored by created_at
    {ns}:api_keys:by_hash       hash  key_hash -> ApiKeyRecord JSON (the lookup on every request is one HGET)
    {ns}:api_keys:by_id         hash  key_id -> key_hash
    {ns}:api_keys:of:<tenant>   zset  the tenant's key_ids scored by created_at
    {ns}:rate:<bucket>          hash  w (latest window counted in), n (takes in it); expires 2 windows after a take
    {ns}:vtx:<request_id>       hash  a VerifierTransaction's fields (purge_score: purge_at in epoch microseconds,
                                      details: JSON text, sealed: raw bytes, sealed_until: ISO 8601 or "" for None,
                                      sealed_score: sealed_until in epoch microseconds or ""); expires at purge_at.
                                      A hash written before sealed_until existed has neither field: None
    {ns}:vtx-nonce:<nonce>      string  the request_id of the transaction using the nonce; expires at purge_at
    {ns}:vtx-of:<tenant>        zset  the tenant's request_ids scored by created_at
    {ns}:vtx-purge              zset  JSON [request_id, tenant_id, nonce] scored by purge_at: what purge_transactions
                                      removes (the index entries a transaction leaves behind when its keys expire)
    {ns}:vtx-sealed             zset  request_ids of transactions holding sealed data with a sealed_until, scored
                                      by it (epoch microseconds): what drop_expired_sealed clears
    {ns}:resident:<id>          hash  a ResidentRecord's fields (sealed: raw bytes) and status_changed_at (ISO 8601
                                      or "" for never)
    {ns}:residents:order        zset  resident_ids scored by created_at; ties fall back to resident_id
    {ns}:residents:by_rrn       hash  rrn_index -> resident_id
    {ns}:enroll:<code_hash>     hash  an EnrollmentCodeRecord's fields (used_at: "" for None) and expires_score
                                      (expires_at in epoch microseconds); expires at expires_at
    {ns}:account:<subject>      hash  an AccountRecord's fields (totp_sealed: raw bytes, disabled_at: "" for None)
    {ns}:session:<hash>         hash  a SessionRecord's fields, with last_seen_score, absolute_score, ends_score
                                      (epoch microseconds; ends: the earlier of the absolute and the idle timeout)
                                      and member (its sessions-end member); expires when the session ends
    {ns}:sessions-of:<subject>  set   the subject's session hashes (what delete_sessions_of and disable_account end)
    {ns}:sessions-end           zset  JSON [session_hash, subject] scored by ends_score: what purge_sessions
                                      removes (the index entries a session leaves behind when its key expires)
    {ns}:credentials            hash  credential_id -> CredentialRecord JSON (with leaf_index)
    {ns}:credentials:by_digest  hash  digest -> credential_id
    {ns}:log:size               string  number of leaves
    {ns}:log:leaves             hash  index -> leaf_hash (32 bytes) || entry
    {ns}:log:by_hash            hash  leaf_hash -> first index with it
    {ns}:log:nodes              hash  "level:index" -> hash of a sealed complete subtree (level >= 1)
    {ns}:log:checkpoints        zset  size (as member and score)
    {ns}:log:checkpoints:notes  hash  size -> CheckpointRecord JSON
    {ns}:log:halted             string  {"reason", "at"} while the log is halted
    {ns}:log:call:<token>       string  outcome of one log write, kept 10 minutes (see _LOG_PRELUDE)
    {ns}:status:open            hash  purpose -> list_id of the list it allocates from until it is full
    {ns}:status:<id>            hash  purpose, size, allocated (count), version, published, published_version
    {ns}:status:<id>:bits       string  the bitstring, size / 8 bytes (created full length, all zero)
    {ns}:status:<id>:allocated  string  bitmap of the indexes handed out by allocate_status
    {ns}:status:<id>:history    hash  index -> leaf indexes of its status entries, space-separated, oldest first

Durability: with ``appendfsync always`` Redis fsyncs the AOF before it replies, so a reply is an acknowledgement
of a durable write; appends from concurrent threads are pipelined (see GroupCommit), which lets Redis fsync
once for the whole pipeline while each call remains its own script.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from did_service.errors import ConfigurationError, LogHalted, StoreConflict, StoreError, StoreUnavailable
from did_service.storage.base import (
    AccountRecord,
    ApiKeyRecord,
    CheckpointRecord,
    CredentialRecord,
    EnrollmentCodeRecord,
    KeyRecord,
    LogAppend,
    LogLeaf,
    NodeId,
    ResidentRecord,
    SessionRecord,
    StatusAllocation,
    StatusChange,
    StatusListRecord,
    TenantRecord,
    TokenRecord,
    TrustRecord,
    VerifierTransaction,
    check_account,
    check_enrollment_code,
    check_resident,
    check_resident_status,
    check_session,
    check_transaction,
    check_version,
    rate_window,
    sealed_is_due,
    without_due_sealed,
)
from did_service.storage.shared import (
    HASH_SIZE,
    GroupCommit,
    Outcome,
    ProcessGroups,
    candidate_shares,
    check_allocation,
    check_appends,
    check_checkpoint,
    check_rotation,
    check_status_change,
    clamp_int64,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_CONFLICT = b"conflict"
_HALTED = b"halted"
_RETRY = b"retry"
_SAME = b"same"
_UNKNOWN = b"unknown"
_OUT_OF_RANGE = b"range"
_FIXED = b"fixed"
_STALE = b"stale"
_ALLOCATION_ATTEMPTS = 100
_READ_AGAIN_ATTEMPTS = 100  # a script refused because what the caller read first changed meanwhile
_OK = b"ok"
_HMGET_CHUNK = 10_000  # fields per HMGET: one huge command would stall the server for every other client

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

# Every script that appends starts with this. KEYS[1] log size, KEYS[2] leaves, KEYS[3] index by leaf hash,
# KEYS[4] halted flag, KEYS[5] this call's own key. The client retries a command once when the connection
# drops, and a dropped reply does not mean the script did not run: a retried call finds its outcome under its
# own key (written by finish) instead of appending a second time.
_LOG_PRELUDE = """
local log_size = tonumber(redis.call('GET', KEYS[1]) or '0')
local function int(n) return string.format('%d', n) end
local function append_leaf(value)
  local index = int(log_size)
  redis.call('HSET', KEYS[2], index, value)
  redis.call('HSETNX', KEYS[3], string.sub(value, 1, 32), index)
  log_size = log_size + 1
  return index
end
local function finish(outcome)
  redis.call('SET', KEYS[1], int(log_size))
  redis.call('SET', KEYS[5], outcome, 'EX', 600)
end
"""

# Keys with their retirement, as (record, retirement or nil) pairs in list order. KEYS: keys, order, retired.
_KEYS_LISTED = """
local function keys_listed(keys_key, order_key, retired_key)
  local out = {}
  for _, kid in ipairs(redis.call('ZRANGE', order_key, 0, -1)) do
    out[#out + 1] = redis.call('HGET', keys_key, kid)
    out[#out + 1] = redis.call('HGET', retired_key, kid)
  end
  return out
end
"""

# KEYS: log (1-5), credentials, by_digest. ARGV: per append: leaf_hash || entry, credential id ('' for none),
# digest, credential JSON without its closing brace (the script adds the leaf index). Returns the first index.
_APPEND_LOG = _LOG_PRELUDE + """
local replay = redis.call('GET', KEYS[5])
if replay then return tonumber(replay) end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'halted' end
local ids, digests = {}, {}
for i = 1, #ARGV, 4 do
  local id, digest = ARGV[i + 1], ARGV[i + 2]
  if id ~= '' then
    if ids[id] or digests[digest] or redis.call('HEXISTS', KEYS[6], id) == 1
        or redis.call('HEXISTS', KEYS[7], digest) == 1 then
      return 'conflict'
    end
    ids[id], digests[digest] = true, true
  end
end
local first = log_size
for i = 1, #ARGV, 4 do
  local index = append_leaf(ARGV[i])
  if ARGV[i + 1] ~= '' then
    redis.call('HSET', KEYS[6], ARGV[i + 1], ARGV[i + 3] .. ',"leaf_index":' .. index .. '}')
    redis.call('HSET', KEYS[7], ARGV[i + 2], ARGV[i + 1])
  end
end
finish(int(first))
return first
"""

# KEYS: log (1-5), keys, keys order, keys retired. ARGV: per record: kid, score, JSON without its closing brace,
# entry value ('' when the batch has no entries). A second run finds keys and writes nothing, so it needs no
# replay check.
_ADD_KEYS_IF_NONE = _LOG_PRELUDE + _KEYS_LISTED + """
if redis.call('ZCARD', KEYS[7]) == 0 and #ARGV > 0 then
  local seen = {}
  for i = 1, #ARGV, 4 do
    if seen[ARGV[i]] then return 'conflict' end
    seen[ARGV[i]] = true
  end
  if ARGV[4] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then return 'halted' end
  for i = 1, #ARGV, 4 do
    local log_index = 'null'
    if ARGV[i + 3] ~= '' then log_index = append_leaf(ARGV[i + 3]) end
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 2] .. ',"log_index":' .. log_index .. '}')
    redis.call('ZADD', KEYS[7], ARGV[i + 1], ARGV[i])
  end
  finish('done')
end
return keys_listed(KEYS[6], KEYS[7], KEYS[8])
"""

# KEYS: log (1-5), keys, keys order, keys retired. ARGV: retired_at, number of new keys, per new key: kid, score,
# status, JSON without its closing brace, entry value; then per retired kid: kid, entry value.
# Checked in the order the contract states the work (add, then retire), so a key added here may be retired here.
_ROTATE_KEYS = _LOG_PRELUDE + _KEYS_LISTED + """
if not redis.call('GET', KEYS[5]) then
  if redis.call('EXISTS', KEYS[4]) == 1 then return 'halted' end
  local new_count = tonumber(ARGV[2])
  local retire_from = 3 + new_count * 5
  local active = {}
  for i = 3, retire_from - 1, 5 do
    if active[ARGV[i]] ~= nil or redis.call('HEXISTS', KEYS[6], ARGV[i]) == 1 then return 'conflict' end
    active[ARGV[i]] = ARGV[i + 2] == 'active'
  end
  for i = retire_from, #ARGV, 2 do
    local kid = ARGV[i]
    if active[kid] == nil then
      local raw = redis.call('HGET', KEYS[6], kid)
      active[kid] = raw ~= false and redis.call('HEXISTS', KEYS[8], kid) == 0
        and cjson.decode(raw)['status'] == 'active'
    end
    if not active[kid] then return 'conflict' end
    active[kid] = false
  end
  for i = 3, retire_from - 1, 5 do
    local log_index = append_leaf(ARGV[i + 4])
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 3] .. ',"log_index":' .. log_index .. '}')
    redis.call('ZADD', KEYS[7], ARGV[i + 1], ARGV[i])
  end
  for i = retire_from, #ARGV, 2 do
    local log_index = append_leaf(ARGV[i + 1])
    redis.call('HSET', KEYS[8], ARGV[i], '{"retired_at":"' .. ARGV[1] .. '","retired_log_index":' .. log_index .. '}')
  end
  finish('done')
end
return keys_listed(KEYS[6], KEYS[7], KEYS[8])
"""

# Bit order: Redis numbers the bits of a string most significant bit first (SETBIT key 0 1 on an empty key
# gives "\x80"; SETBIT key 9 1 sets 0x40 of the second byte), which is exactly the W3C Bitstring Status List
# order (index 0 is the left-most bit of the first byte). So the bits string is served as it is stored; the
# contract tests check the layout on both backends.

# KEYS: open hash, then per purpose: current list hash, its allocated bitmap, new list hash, its allocated
# bitmap, its bits. ARGV: list size, number of candidates, candidates, then per purpose: purpose, the open
# list id the caller read ('' for none), a fresh list id (made by the caller: Lua has no good randomness).
# Returns list id, index pairs; 'retry' (nothing written) when the open list changed since the caller read it
# or the fresh id exists, so that every key the script touches was declared. A retried run after a dropped
# reply allocates again: that only leaves an index unused, never hands one out twice.
_ALLOCATE_STATUS = """
local list_size = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local first = 3 + count
local purposes = (#ARGV - first + 1) / 3
for p = 0, purposes - 1 do
  local open = redis.call('HGET', KEYS[1], ARGV[first + p * 3]) or ''
  if open ~= ARGV[first + p * 3 + 1] then return 'retry' end
  local meta = KEYS[2 + p * 5]
  if open == '' or tonumber(redis.call('HGET', meta, 'allocated')) >= tonumber(redis.call('HGET', meta, 'size')) then
    if redis.call('EXISTS', KEYS[4 + p * 5]) == 1 then return 'retry' end
  end
end
local out = {}
for p = 0, purposes - 1 do
  local purpose, list_id = ARGV[first + p * 3], ARGV[first + p * 3 + 1]
  local meta, allocated = KEYS[2 + p * 5], KEYS[3 + p * 5]
  local size = 0
  if list_id ~= '' then size = tonumber(redis.call('HGET', meta, 'size')) end
  if list_id == '' or tonumber(redis.call('HGET', meta, 'allocated')) >= size then
    list_id, size = ARGV[first + p * 3 + 2], list_size
    meta, allocated = KEYS[4 + p * 5], KEYS[5 + p * 5]
    redis.call('HSET', meta, 'purpose', purpose, 'size', size, 'allocated', 0, 'version', 0,
      'published_version', -1)
    redis.call('SETBIT', KEYS[6 + p * 5], size - 1, 0)  -- the full size / 8 bytes, all zero
    redis.call('HSET', KEYS[1], purpose, list_id)
  end
  local index = nil
  for i = 3, first - 1 do
    local c = tonumber(ARGV[i])
    if c < size and redis.call('GETBIT', allocated, c) == 0 then
      index = c
      break
    end
  end
  if index == nil then
    -- Every candidate is taken: the lowest free index. The list is not full and the bitmap never reaches past
    -- size bits, so BITPOS finds one below size (bits past the end of a string read as 0).
    index = redis.call('BITPOS', allocated, 0)
  end
  redis.call('SETBIT', allocated, index, 1)
  redis.call('HINCRBY', meta, 'allocated', 1)
  out[#out + 1] = list_id
  out[#out + 1] = index
end
return out
"""

# KEYS: log (1-5), list hash, bits, history. ARGV: index, value, leaf_hash || entry. Returns the leaf index of
# the status entry, or 'same' / 'unknown' / 'range' / 'conflict' / 'halted' with nothing written.
_CHANGE_STATUS = _LOG_PRELUDE + """
local replay = redis.call('GET', KEYS[5])
if replay then return tonumber(replay) end
local meta = redis.call('HMGET', KEYS[6], 'purpose', 'size')
if not meta[1] then return 'unknown' end
local index, value = tonumber(ARGV[1]), tonumber(ARGV[2])
if index >= tonumber(meta[2]) then return 'range' end
if redis.call('GETBIT', KEYS[7], index) == value then return 'same' end
if meta[1] == 'revocation' and value == 0 then return 'conflict' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'halted' end
redis.call('SETBIT', KEYS[7], index, value)
redis.call('HINCRBY', KEYS[6], 'version', 1)
local leaf_index = append_leaf(ARGV[3])
local history = redis.call('HGET', KEYS[8], ARGV[1])
if history then history = history .. ' ' .. leaf_index else history = leaf_index end
redis.call('HSET', KEYS[8], ARGV[1], history)
finish(leaf_index)
return tonumber(leaf_index)
"""

# KEYS: list hash. ARGV: version, credential. Returns 1 when stored.
_PUBLISH_STATUS = """
local state = redis.call('HMGET', KEYS[1], 'version', 'published_version')
if not state[1] then return 0 end
local version = tonumber(ARGV[1])
if version <= tonumber(state[2]) or version > tonumber(state[1]) then return 0 end
redis.call('HSET', KEYS[1], 'published', ARGV[2], 'published_version', ARGV[1])
return 1
"""

# KEYS: log size, checkpoints zset, checkpoint notes, nodes, this call's own key, leaves. ARGV: previous size
# ('' for none), size, checkpoint JSON, number of leaf hashes to check, then (leaf index, hash) pairs, then node
# (field, hash) pairs. Returns 1 when stored, 0 when the CAS failed. Leaf hashes (level 0) are checked against
# the leaves, not stored twice.
_ADD_CHECKPOINT = """
if redis.call('GET', KEYS[5]) then return 1 end
if redis.call('EXISTS', KEYS[7]) == 1 then return 0 end
local latest = redis.call('ZREVRANGE', KEYS[2], 0, 0)[1] or ''
if latest ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > tonumber(redis.call('GET', KEYS[1]) or '0') then return 0 end
local nodes_from = 5 + tonumber(ARGV[4]) * 2
for i = 5, nodes_from - 1, 2 do
  local leaf = redis.call('HGET', KEYS[6], ARGV[i])
  if not leaf or string.sub(leaf, 1, 32) ~= ARGV[i + 1] then return 'conflict' end
end
for i = nodes_from, #ARGV, 2 do
  local stored = redis.call('HGET', KEYS[4], ARGV[i])
  if stored and stored ~= ARGV[i + 1] then return 'conflict' end
end
for i = nodes_from, #ARGV, 2 do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('SET', KEYS[5], '1', 'EX', 600)
return 1
"""

# KEYS: keys, keys order, keys retired.
_LIST_KEYS = _KEYS_LISTED + "return keys_listed(KEYS[1], KEYS[2], KEYS[3])\n"

# KEYS: checkpoints zset, notes. ARGV: 'latest', or after_size and limit.
_CHECKPOINTS = """
local sizes
if ARGV[1] == 'latest' then
  sizes = redis.call('ZREVRANGE', KEYS[1], 0, 0)
else
  sizes = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
end
local out = {}
for _, size in ipairs(sizes) do out[#out + 1] = redis.call('HGET', KEYS[2], size) end
return out
"""

# KEYS: credentials, by_digest. ARGV: digest.
_CREDENTIAL_BY_DIGEST = """
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[1], id)
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

# KEYS: tenants, tenants order. ARGV: tenant_id, score, json.
_ADD_TENANT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return 'conflict' end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 'ok'
"""

# KEYS: api_keys by_hash, api_keys by_id, the tenant's key zset, tenants. ARGV: key_id, key_hash, score, json,
# tenant_id. A key for an unknown tenant is a conflict, as the SQLite foreign key makes it.
_ADD_API_KEY = """
if redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then return 'conflict' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return 'conflict'
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 'ok'
"""

# KEYS: the bucket's counter. ARGV: window, limit, ttl seconds. Returns 1 when counted, 0 when the limit is
# reached. A caller whose clock is behind the bucket's latest window counts in that window (fail closed).
_TAKE_RATE_TOKEN = """
local stored = redis.call('HMGET', KEYS[1], 'w', 'n')
local window = tonumber(ARGV[1])
local count = 0
if stored[1] and tonumber(stored[1]) >= window then
  window = tonumber(stored[1])
  count = tonumber(stored[2])
end
if count >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'w', string.format('%d', window), 'n', string.format('%d', count + 1))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS: order zset, records hash[, hash from order member to record field].
_LIST = _ORDERED + "return ordered(KEYS[1], KEYS[2], KEYS[3])\n"

# KEYS: the transaction's hash, its nonce key, the tenant's zset, the purge zset, the sealed zset. ARGV:
# request_id, purge_at in epoch milliseconds (rounded up), created_at score, purge_at score, purge member, the
# sealed zset score ('' when the record is not to be in it), then the hash's field/value pairs. Both keys expire at
# purge_at, so Redis deletes the record by itself; the zset entries are removed by purge_transactions. A sealed
# zset entry left by an expired transaction with the same request_id is replaced or removed.
_ADD_TRANSACTION = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 'conflict' end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
else
  redis.call('ZREM', KEYS[5], ARGV[1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
return 'ok'
"""

# KEYS: the transaction's hash, the sealed zset. ARGV: now score, expected version, the seven fields a swap never
# changes (in _FIXED order), then status, details, sealed, the new version, sealed_until (ISO or ''), its score (or
# ''), the sealed zset score ('' when the record is not to be in it), request_id. Returns the stored fields
# (HGETALL) after the swap, or 'unknown' (none, or past purge_at), 'fixed' (a field that never changes differs),
# 'stale' (another version), with nothing written.
_SWAP_TRANSACTION = """
local fixed = {'tenant_id', 'policy', 'nonce', 'state', 'created_at', 'expires_at', 'purge_at'}
local stored = redis.call('HMGET', KEYS[1], 'purge_score', 'version', unpack(fixed))
if not stored[1] or tonumber(stored[1]) <= tonumber(ARGV[1]) then return 'unknown' end
for i = 1, #fixed do
  if stored[2 + i] ~= ARGV[2 + i] then return 'fixed' end
end
if stored[2] ~= ARGV[2] then return 'stale' end
redis.call('HSET', KEYS[1], 'status', ARGV[10], 'details', ARGV[11], 'sealed', ARGV[12], 'version', ARGV[13],
  'sealed_until', ARGV[14], 'sealed_score', ARGV[15])
if ARGV[16] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[16], ARGV[17])
else
  redis.call('ZREM', KEYS[2], ARGV[17])
end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: the purge zset, the sealed zset, then per due entry: the transaction's hash, its nonce key, the tenant's
# zset. ARGV: now score, then per entry: purge member, request_id, tenant_id, nonce. Returns how many entries it
# removed (an entry another purger removed first is not counted). The request_id may have been added again since
# the entry's keys expired: what belongs to that live transaction is kept.
_PURGE_TRANSACTIONS = """
local now = tonumber(ARGV[1])
local deleted = 0
for m = 0, (#ARGV - 1) / 4 - 1 do
  local member, id, tenant, nonce = ARGV[2 + m * 4], ARGV[3 + m * 4], ARGV[4 + m * 4], ARGV[5 + m * 4]
  local hash, nonce_key, of_tenant = KEYS[3 + m * 3], KEYS[4 + m * 3], KEYS[5 + m * 3]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) <= now then
    local live = redis.call('HMGET', hash, 'purge_score', 'tenant_id', 'nonce')
    if live[1] and tonumber(live[1]) <= now then
      redis.call('DEL', hash)
      live = {false, false, false}
    end
    if live[3] ~= nonce and redis.call('GET', nonce_key) == id then redis.call('DEL', nonce_key) end
    if live[2] ~= tenant then redis.call('ZREM', of_tenant, id) end
    if not live[1] then redis.call('ZREM', KEYS[2], id) end
    redis.call('ZREM', KEYS[1], member)
    deleted = deleted + 1
  end
end
return deleted
"""

# KEYS: the sealed zset, then per entry read from it: the transaction's hash. ARGV: now score, then the entries'
# request_ids. Clears (sealed and sealed_until emptied, version + 1) each transaction whose entry is still due and
# whose hash still holds sealed data due at now; returns how many it cleared. An entry another caller cleared
# first is skipped; an entry whose hash is gone (expired) is removed, uncounted.
_DROP_EXPIRED_SEALED = """
local now = tonumber(ARGV[1])
local cleared = 0
for m = 2, #ARGV do
  local id, hash = ARGV[m], KEYS[m]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now then
    local due = redis.call('HGET', hash, 'sealed_score')
    if due and due ~= '' and tonumber(due) <= now and redis.call('HSTRLEN', hash, 'sealed') > 0 then
      redis.call('HSET', hash, 'sealed', '', 'sealed_until', '', 'sealed_score', '')
      redis.call('HINCRBY', hash, 'version', 1)
      redis.call('ZREM', KEYS[1], id)
      cleared = cleared + 1
    elseif due and due ~= '' and redis.call('HSTRLEN', hash, 'sealed') > 0 then
      redis.call('ZADD', KEYS[1], due, id)
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return cleared
"""

# KEYS: residents by_rrn, residents order, then one resident hash per record. ARGV: per record: resident_id,
# rrn_index, created_at score, sealed, created_at, status. All checked before the first write: a taken or repeated
# id or rrn_index writes nothing.
_ADD_RESIDENTS = """
local ids, rrns = {}, {}
for r = 0, #KEYS - 3 do
  local id, rrn = ARGV[1 + r * 6], ARGV[2 + r * 6]
  if ids[id] or rrns[rrn] or redis.call('EXISTS', KEYS[3 + r]) == 1 or redis.call('HEXISTS', KEYS[1], rrn) == 1 then
    return 'conflict'
  end
  ids[id], rrns[rrn] = true, true
end
for r = 0, #KEYS - 3 do
  local a = r * 6
  redis.call('HSET', KEYS[3 + r], 'resident_id', ARGV[a + 1], 'rrn_index', ARGV[a + 2], 'sealed', ARGV[a + 4],
    'created_at', ARGV[a + 5], 'status', ARGV[a + 6], 'status_changed_at', '')
  redis.call('HSET', KEYS[1], ARGV[a + 2], ARGV[a + 1])
  redis.call('ZADD', KEYS[2], ARGV[a + 3], ARGV[a + 1])
end
return 'ok'
"""

# KEYS: residents order. ARGV: limit, '1' when the page starts after a resident ('0': at the start), its
# resident_id. The resident_ids of one page, read in one unit, so that a resident added meanwhile cannot shift the
# page by a rank.
_RESIDENT_PAGE = """
local start = 0
if ARGV[2] == '1' then
  local rank = redis.call('ZRANK', KEYS[1], ARGV[3])
  if not rank then return {} end
  start = rank + 1
end
local stop = -1
if tonumber(ARGV[1]) < 1000000000 then stop = start + tonumber(ARGV[1]) - 1 end
return redis.call('ZRANGE', KEYS[1], start, stop)
"""

# KEYS: the resident's hash. ARGV: status, status_changed_at. Returns 1 if the resident exists.
_SET_RESIDENT_STATUS = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if status ~= ARGV[1] then redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_changed_at', ARGV[2]) end
return 1
"""

# KEYS: the code's hash, the resident's hash. ARGV: expiry in epoch milliseconds (rounded up), then the hash's
# field/value pairs. The code expires at expires_at, so Redis deletes it by itself.
_ADD_ENROLLMENT_CODE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 0 then return 'conflict' end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 'ok'
"""

# KEYS: the code's hash, the hash of the resident the caller read from it. ARGV: now score, now (ISO 8601), that
# resident_id. Returns 'ok' when the code is spent now, 'no' (nothing written) when it is unknown, used, expired or
# its resident is not active, 'retry' when the code now names another resident (it expired and was added again).
_CONSUME_ENROLLMENT_CODE = """
local code = redis.call('HMGET', KEYS[1], 'resident_id', 'expires_score', 'used_at')
if not code[1] then return 'no' end
if code[1] ~= ARGV[3] then return 'retry' end
if code[3] ~= '' or tonumber(code[2]) <= tonumber(ARGV[1]) then return 'no' end
if redis.call('HGET', KEYS[2], 'status') ~= 'active' then return 'no' end
redis.call('HSET', KEYS[1], 'used_at', ARGV[2])
return 'ok'
"""

# KEYS: the account's hash. ARGV: its field/value pairs.
_ADD_ACCOUNT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'conflict' end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 'ok'
"""

# KEYS: the account's hash. ARGV: password hash. Returns 1 if the account exists.
_SET_PASSWORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1])
return 1
"""

# Ends sessions a subject's set listed when the caller read it: KEYS[first ..] their hashes (one per session),
# ARGV[first_arg ..] per session: session_hash, sessions-end member. Returns 'retry' (nothing written) unless the
# set still holds exactly those hashes, else how many sessions were deleted; a hash whose key expired, or that now
# belongs to another subject's session, is only removed from this subject's index entries.
_END_SESSIONS = """
local function end_sessions(set_key, ends_key, first_key, first_arg, subject)
  local count = #ARGV - first_arg + 1
  if redis.call('SCARD', set_key) ~= count / 2 then return nil end
  for i = first_arg, #ARGV, 2 do
    if redis.call('SISMEMBER', set_key, ARGV[i]) == 0 then return nil end
  end
  local deleted = 0
  for i = first_arg, #ARGV, 2 do
    local key = KEYS[first_key + (i - first_arg) / 2]
    if redis.call('HGET', key, 'subject') == subject then
      redis.call('DEL', key)
      deleted = deleted + 1
    end
    redis.call('ZREM', ends_key, ARGV[i + 1])
  end
  redis.call('DEL', set_key)
  return deleted
end
"""

# KEYS: the account's hash, the subject's session set, sessions-end, then the sessions' hashes. ARGV: disabled_at,
# subject, then per session: session_hash, member. Returns 'unknown', 'retry' or the number of sessions deleted.
_DISABLE_ACCOUNT = _END_SESSIONS + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
local deleted = end_sessions(KEYS[2], KEYS[3], 4, 3, ARGV[2])
if deleted == nil then return 'retry' end
if redis.call('HGET', KEYS[1], 'disabled_at') == '' then redis.call('HSET', KEYS[1], 'disabled_at', ARGV[1]) end
return deleted
"""

# KEYS: the subject's session set, sessions-end, then the sessions' hashes. ARGV: subject, then per session:
# session_hash, member. Returns 'retry' or the number of sessions deleted.
_DELETE_SESSIONS_OF = _END_SESSIONS + """
local deleted = end_sessions(KEYS[1], KEYS[2], 3, 2, ARGV[1])
if deleted == nil then return 'retry' end
return deleted
"""

# KEYS: the session's hash, the subject's session set, sessions-end, the subject's account hash. ARGV: session_hash,
# member, ends score, expiry in epoch milliseconds (rounded up), then the hash's field/value pairs. The key expires
# when the session ends; touch_session moves that.
_ADD_SESSION = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'conflict' end
local disabled = redis.call('HGET', KEYS[4], 'disabled_at')
if disabled and disabled ~= '' then return 'conflict' end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 'ok'
"""

# KEYS: the session's hash, sessions-end. ARGV: now score, now (ISO 8601). Returns 1 if the session is live at now
# (last_seen moved forward to now if later: the end, the key's expiry and the sessions-end score with it), else 0.
_TOUCH_SESSION = """
local s = redis.call('HMGET', KEYS[1], 'last_seen_score', 'idle_seconds', 'absolute_score', 'ends_score', 'member')
if not s[1] then return 0 end
local now = tonumber(ARGV[1])
if now >= tonumber(s[4]) then return 0 end
if now > tonumber(s[1]) then
  local ends = math.min(tonumber(s[3]), now + tonumber(s[2]) * 1000000)
  local ms = (ends - ends % 1000) / 1000
  if ends % 1000 > 0 then ms = ms + 1 end
  local score = string.format('%d', ends)
  redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[2], 'last_seen_score', ARGV[1], 'ends_score', score)
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', ms))
  redis.call('ZADD', KEYS[2], score, s[5])
end
return 1
"""

# KEYS: the session's hash, the subject's session set, sessions-end. ARGV: the member the caller read from the
# hash, session_hash. Returns 1 when deleted, 0 when there is no such session, 'retry' when the hash changed.
_DELETE_SESSION = """
local member = redis.call('HGET', KEYS[1], 'member')
if not member then return 0 end
if member ~= ARGV[1] then return 'retry' end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

# KEYS: sessions-end, then per due entry: the session's hash, its subject's session set. ARGV: now score, then per
# entry: member, session_hash. Returns how many entries it removed (one another purger removed first is not
# counted). A session_hash added again since the entry's key expired keeps what belongs to that live session.
_PURGE_SESSIONS = """
local now = tonumber(ARGV[1])
local deleted = 0
for m = 0, (#ARGV - 1) / 2 - 1 do
  local member, id = ARGV[2 + m * 2], ARGV[3 + m * 2]
  local key, set_key = KEYS[2 + m * 2], KEYS[3 + m * 2]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) <= now then
    -- The entry's score is the session's end (they change together), so a hash holding this member has ended;
    -- one holding another member is another subject's session, left as it is.
    if redis.call('HGET', key, 'member') == member then redis.call('DEL', key) end
    redis.call('SREM', set_key, id)
    redis.call('ZREM', KEYS[1], member)
    deleted = deleted + 1
  end
end
return deleted
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


def _open_json(value: dict) -> bytes:
    """JSON without its closing brace, for a script to complete with a field only it knows (an index).
    json.dumps escapes every non-ASCII character, so the script concatenates plain ASCII."""
    return _dumps(value)[:-1]


def _key_body(r: KeyRecord) -> bytes:
    # log_index and retired_log_index are the store's to set; the caller's values are not taken.
    return _open_json({
        "kid": r.kid,
        "alg": r.alg,
        "public_jwk": r.public_jwk,
        "encrypted_private_key": base64.b64encode(r.encrypted_private_key).decode("ascii"),
        "created_at": _iso(r.created_at),
        "status": r.status,
        "purpose": r.purpose,
        "retired_at": _iso(r.retired_at),
    })


def _key_from_json(raw: bytes, retirement: bytes | None) -> KeyRecord:
    d = json.loads(raw)
    status, retired_at, retired_log_index = d["status"], d["retired_at"], None
    if retirement is not None:
        r = json.loads(retirement)
        status, retired_at, retired_log_index = "retired", r["retired_at"], r["retired_log_index"]
    return KeyRecord(
        d["kid"], d["alg"], d["public_jwk"], base64.b64decode(d["encrypted_private_key"]),
        _from_iso(d["created_at"]), status, d["purpose"], _from_iso(retired_at), d["log_index"], retired_log_index,
    )


def _keys_from_pairs(flat: list) -> list[KeyRecord]:
    return [_key_from_json(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _trust_field(issuer: str, credential_type: str) -> str:
    # A credential type name has no space (schema.py: PascalCase ASCII), so the first space splits the field.
    return f"{credential_type} {issuer}"


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


def _tenant_json(r: TenantRecord) -> bytes:
    return _dumps({"tenant_id": r.tenant_id, "name": r.name, "role": r.role, "created_at": _iso(r.created_at)})


def _tenant_from_json(raw: bytes) -> TenantRecord:
    d = json.loads(raw)
    return TenantRecord(d["tenant_id"], d["name"], d["role"], _from_iso(d["created_at"]))


def _api_key_json(r: ApiKeyRecord) -> bytes:
    return _dumps({
        "key_id": r.key_id,
        "tenant_id": r.tenant_id,
        "key_hash": r.key_hash,
        "created_at": _iso(r.created_at),
        "revoked_at": _iso(r.revoked_at),
    })


def _api_key_from_json(raw: bytes) -> ApiKeyRecord:
    d = json.loads(raw)
    return ApiKeyRecord(
        d["key_id"], d["tenant_id"], d["key_hash"], _from_iso(d["created_at"]), _from_iso(d["revoked_at"])
    )


def _credential_body(r: CredentialRecord) -> bytes:
    return _open_json({
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
        d["leaf_index"],
    )


def _checkpoint_json(r: CheckpointRecord) -> bytes:
    return _dumps({
        "size": r.size,
        "root_hash": base64.b64encode(r.root_hash).decode("ascii"),
        "note": r.note,
        "created_at": _iso(r.created_at),
    })


def _checkpoint_from_json(raw: bytes) -> CheckpointRecord:
    d = json.loads(raw)
    return CheckpointRecord(d["size"], base64.b64decode(d["root_hash"]), d["note"], _from_iso(d["created_at"]))


def _fixed_of(r: VerifierTransaction) -> list[str]:
    """The fields a swap never changes, after request_id, in _SWAP_TRANSACTION's order."""
    return [r.tenant_id, r.policy, r.nonce, r.state, _iso(r.created_at), _iso(r.expires_at), _iso(r.purge_at)]


def _sealed_fields(sealed: bytes, sealed_until: datetime | None) -> tuple[str, str, str]:
    """sealed_until's hash field, its score field, and the sealed zset score ('': not in the zset)."""
    if sealed_until is None:
        return "", "", ""
    score = str(_score(sealed_until))
    return _iso(sealed_until), score, score if sealed else ""


def _transaction_fields(r: VerifierTransaction, details: str) -> list[object]:
    # The version is the store's to set: 0 when added.
    fixed = _fixed_of(r)
    until, until_score, _ = _sealed_fields(r.sealed, r.sealed_until)
    return [
        "request_id", r.request_id, "tenant_id", fixed[0], "policy", fixed[1], "nonce", fixed[2], "state", fixed[3],
        "created_at", fixed[4], "expires_at", fixed[5], "purge_at", fixed[6], "purge_score", _score(r.purge_at),
        "status", r.status, "version", 0, "details", details, "sealed", r.sealed,
        "sealed_until", until, "sealed_score", until_score,
    ]


def _transaction_from_fields(fields: Mapping[bytes, bytes], now: datetime) -> VerifierTransaction:
    f = {_text(k): v for k, v in fields.items()}

    def text(name: str) -> str:
        return f[name].decode("utf-8")

    # A hash written before sealed_until existed has no such field.
    sealed_until = _from_iso(text("sealed_until")) if f.get("sealed_until") else None
    record = VerifierTransaction(
        text("request_id"), text("tenant_id"), text("policy"), text("nonce"), text("state"),
        _from_iso(text("created_at")), _from_iso(text("expires_at")), _from_iso(text("purge_at")), text("status"),
        int(f["version"]), json.loads(f["details"]), f["sealed"], sealed_until,
    )
    return without_due_sealed(record, now)


def _transaction_from_flat(flat: list, now: datetime) -> VerifierTransaction:
    return _transaction_from_fields(dict(zip(flat[::2], flat[1::2])), now)


def _purge_member(r: VerifierTransaction) -> bytes:
    # json.dumps escapes every non-ASCII character: the member is ASCII whatever the ids hold.
    return json.dumps([r.request_id, r.tenant_id, r.nonce], separators=(",", ":")).encode()


def _expiry_ms(score: int) -> int:
    """An epoch-microseconds instant as a PEXPIREAT argument, rounded up: a key outlives it, never the reverse."""
    return -(-score // 1000)


def _resident_from_fields(fields: Mapping[bytes, bytes]) -> ResidentRecord:
    f = {_text(k): v for k, v in fields.items()}
    return ResidentRecord(
        _text(f["resident_id"]), f["sealed"], _text(f["rrn_index"]), _from_iso(_text(f["created_at"])),
        _text(f["status"]),
    )


def _account_fields(r: AccountRecord) -> list[object]:
    return [
        "subject", r.subject, "password_hash", r.password_hash, "created_at", _iso(r.created_at),
        "totp_sealed", r.totp_sealed, "disabled_at", _iso(r.disabled_at) or "",
    ]


def _account_from_fields(fields: Mapping[bytes, bytes]) -> AccountRecord:
    f = {_text(k): v for k, v in fields.items()}
    return AccountRecord(
        _text(f["subject"]), _text(f["password_hash"]), _from_iso(_text(f["created_at"])), f["totp_sealed"],
        _from_iso(_text(f["disabled_at"]) or None),
    )


def _session_member(session_hash: str, subject: str) -> bytes:
    # json.dumps escapes every non-ASCII character: the member is ASCII whatever the hash and subject hold.
    return json.dumps([session_hash, subject], separators=(",", ":")).encode()


def _session_from_fields(fields: Mapping[bytes, bytes]) -> SessionRecord:
    f = {_text(k): _text(v) for k, v in fields.items()}
    return SessionRecord(
        f["session_hash"], f["subject"], _from_iso(f["created_at"]), _from_iso(f["last_seen_at"]),
        int(f["idle_seconds"]), _from_iso(f["absolute_expires_at"]),
    )


def _append_args(appends: Sequence[LogAppend]) -> list[bytes | str]:
    args: list[bytes | str] = []
    for a in appends:
        c = a.credential
        if c is None:
            args += [a.leaf_hash + a.entry, "", "", ""]
        else:
            args += [a.leaf_hash + a.entry, c.credential_id, c.digest, _credential_body(c)]
    return args


def _node_field(level: int, index: int) -> str:
    return f"{level}:{index}"


# ReadOnlyError: we are talking to a replica (e.g. mid-failover); as with a lost connection, retrying later
# is the remedy.
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailable("Redis is unreachable") from exc


def _joined(shares: list[list[int]]) -> list[int]:
    return [c for share in shares for c in share]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _call_token() -> str:
    return uuid.uuid4().hex


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
                # retried: the script may have run, and a second run would report a false conflict. (Log writes
                # are safe to retry either way: they carry their own call key, see _LOG_PRELUDE.)
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1, (redis.exceptions.ConnectionError,)),
            )
        except ValueError:
            # from None: redis-py's message may quote parts of the URL, which can carry a password.
            raise ConfigurationError("The Redis URL is not valid") from None
        self._prefix = prefix = "{" + namespace + "}:"
        self._k_keys = prefix + "keys"
        self._k_keys_order = prefix + "keys:order"
        self._k_keys_retired = prefix + "keys:retired"
        self._k_tokens_by_hash = prefix + "tokens:by_hash"
        self._k_tokens_by_id = prefix + "tokens:by_id"
        self._k_tokens_order = prefix + "tokens:order"
        self._k_trust = prefix + "trust"
        self._k_tenants = prefix + "tenants"
        self._k_tenants_order = prefix + "tenants:order"
        self._k_api_keys_by_hash = prefix + "api_keys:by_hash"
        self._k_api_keys_by_id = prefix + "api_keys:by_id"
        self._k_credentials = prefix + "credentials"
        self._k_by_digest = prefix + "credentials:by_digest"
        self._k_log_size = prefix + "log:size"
        self._k_leaves = prefix + "log:leaves"
        self._k_by_hash = prefix + "log:by_hash"
        self._k_nodes = prefix + "log:nodes"
        self._k_checkpoints = prefix + "log:checkpoints"
        self._k_notes = prefix + "log:checkpoints:notes"
        self._k_halted = prefix + "log:halted"
        self._add_keys_if_none = self._client.register_script(_ADD_KEYS_IF_NONE)
        self._rotate_keys = self._client.register_script(_ROTATE_KEYS)
        self._list_keys = self._client.register_script(_LIST_KEYS)
        self._add_token = self._client.register_script(_ADD_TOKEN)
        self._revoke_token = self._client.register_script(_REVOKE_TOKEN)
        self._list = self._client.register_script(_LIST)
        self._add_tenant = self._client.register_script(_ADD_TENANT)
        self._add_api_key = self._client.register_script(_ADD_API_KEY)
        self._take_rate_token = self._client.register_script(_TAKE_RATE_TOKEN)
        self._append_log = self._client.register_script(_APPEND_LOG)
        self._add_checkpoint = self._client.register_script(_ADD_CHECKPOINT)
        self._checkpoints = self._client.register_script(_CHECKPOINTS)
        self._credential_by_digest = self._client.register_script(_CREDENTIAL_BY_DIGEST)
        self._k_status_open = prefix + "status:open"
        self._k_vtx_purge = prefix + "vtx-purge"
        self._k_vtx_sealed = prefix + "vtx-sealed"
        self._add_transaction = self._client.register_script(_ADD_TRANSACTION)
        self._swap_transaction = self._client.register_script(_SWAP_TRANSACTION)
        self._purge_transactions = self._client.register_script(_PURGE_TRANSACTIONS)
        self._drop_expired_sealed = self._client.register_script(_DROP_EXPIRED_SEALED)
        self._allocate_status = self._client.register_script(_ALLOCATE_STATUS)
        self._change_status = self._client.register_script(_CHANGE_STATUS)
        self._publish_status = self._client.register_script(_PUBLISH_STATUS)
        self._k_residents_order = prefix + "residents:order"
        self._k_residents_by_rrn = prefix + "residents:by_rrn"
        self._k_sessions_end = prefix + "sessions-end"
        self._add_residents = self._client.register_script(_ADD_RESIDENTS)
        self._resident_page = self._client.register_script(_RESIDENT_PAGE)
        self._set_resident_status = self._client.register_script(_SET_RESIDENT_STATUS)
        self._add_enrollment_code = self._client.register_script(_ADD_ENROLLMENT_CODE)
        self._consume_enrollment_code = self._client.register_script(_CONSUME_ENROLLMENT_CODE)
        self._add_account = self._client.register_script(_ADD_ACCOUNT)
        self._set_password = self._client.register_script(_SET_PASSWORD)
        self._disable_account = self._client.register_script(_DISABLE_ACCOUNT)
        self._delete_sessions_of = self._client.register_script(_DELETE_SESSIONS_OF)
        self._add_session = self._client.register_script(_ADD_SESSION)
        self._touch_session = self._client.register_script(_TOUCH_SESSION)
        self._delete_session = self._client.register_script(_DELETE_SESSION)
        self._purge_sessions = self._client.register_script(_PURGE_SESSIONS)
        self._lock = threading.Lock()
        self._groups = ProcessGroups(self._commit_appends)  # one per process: a fork may copy a group mid-commit

    def _log_keys(self) -> list[str]:
        """The keys of _LOG_PRELUDE, with a fresh call key."""
        return [self._k_log_size, self._k_leaves, self._k_by_hash, self._k_halted,
                self._prefix + "log:call:" + _call_token()]

    def _group(self) -> GroupCommit:
        return self._groups.get()

    @property
    def commits(self) -> int:
        """append_log pipelines run by this process (fewer than calls when group commit merges them)."""
        return self._group().commits

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

    # keys

    def _key_script_keys(self) -> list[str]:
        return [*self._log_keys(), self._k_keys, self._k_keys_order, self._k_keys_retired]

    def add_keys_if_none(self, records: Sequence[KeyRecord], entries: Sequence[LogAppend] = ()) -> list[KeyRecord]:
        if entries and len(entries) != len(records):
            raise ValueError("entries must be empty or one per key record")
        check_appends(entries)
        args: list[object] = []
        for i, r in enumerate(records):
            entry = entries[i].leaf_hash + entries[i].entry if entries else ""
            args += [r.kid, _score(r.created_at), _key_body(r), entry]
        with _translated():
            result = self._add_keys_if_none(keys=self._key_script_keys(), args=args)
        if result == _CONFLICT:
            raise StoreConflict("The key batch repeats a kid")
        if result == _HALTED:
            raise LogHalted()
        return _keys_from_pairs(result)

    def list_keys(self) -> list[KeyRecord]:
        with _translated():
            result = self._list_keys(keys=[self._k_keys, self._k_keys_order, self._k_keys_retired])
        return _keys_from_pairs(result)

    def rotate_keys(
        self,
        new: Sequence[KeyRecord],
        retire: Sequence[str],
        added_entries: Sequence[LogAppend],
        retired_entries: Sequence[LogAppend],
        at: datetime,
    ) -> list[KeyRecord]:
        check_rotation(new, retire, added_entries, retired_entries)
        args: list[object] = [_iso(at), len(new)]
        for r, e in zip(new, added_entries):
            args += [r.kid, _score(r.created_at), r.status, _key_body(r), e.leaf_hash + e.entry]
        for kid, e in zip(retire, retired_entries):
            args += [kid, e.leaf_hash + e.entry]
        with _translated():
            result = self._rotate_keys(keys=self._key_script_keys(), args=args)
        if result == _CONFLICT:
            raise StoreConflict("A new kid exists, or a key to retire is not an active key")
        if result == _HALTED:
            raise LogHalted()
        return _keys_from_pairs(result)

    # tokens

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

    # trust registry (one hash: HSETNX and HDEL are atomic single-key operations)

    def add_trust(self, record: TrustRecord) -> bool:
        with _translated():
            return bool(self._client.hsetnx(self._k_trust, _trust_field(record.issuer, record.credential_type),
                                            _iso(record.added_at)))

    def remove_trust(self, issuer: str, credential_type: str) -> bool:
        with _translated():
            return bool(self._client.hdel(self._k_trust, _trust_field(issuer, credential_type)))

    def list_trust(self) -> list[TrustRecord]:
        with _translated():
            items = self._client.hgetall(self._k_trust)
        records = []
        for field, added_at in items.items():
            credential_type, issuer = field.decode("utf-8").split(" ", 1)
            records.append(TrustRecord(issuer, credential_type, _from_iso(added_at.decode("ascii"))))
        return sorted(records, key=lambda r: (r.credential_type, r.issuer))

    # verifier tenants and API keys

    def _k_tenant_keys(self, tenant_id: str) -> str:
        return self._prefix + "api_keys:of:" + tenant_id

    def add_tenant(self, record: TenantRecord) -> None:
        args = [record.tenant_id, _score(record.created_at), _tenant_json(record)]
        with _translated():
            result = self._add_tenant(keys=[self._k_tenants, self._k_tenants_order], args=args)
        if result == _CONFLICT:
            raise StoreConflict("A tenant with this id exists")

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        with _translated():
            raw = self._client.hget(self._k_tenants, tenant_id)
        return None if raw is None else _tenant_from_json(raw)

    def list_tenants(self) -> list[TenantRecord]:
        with _translated():
            raws = self._list(keys=[self._k_tenants_order, self._k_tenants])
        return [_tenant_from_json(raw) for raw in raws]

    def add_api_key(self, record: ApiKeyRecord) -> None:
        args = [record.key_id, record.key_hash, _score(record.created_at), _api_key_json(record), record.tenant_id]
        keys = [self._k_api_keys_by_hash, self._k_api_keys_by_id, self._k_tenant_keys(record.tenant_id),
                self._k_tenants]
        with _translated():
            result = self._add_api_key(keys=keys, args=args)
        if result == _CONFLICT:
            raise StoreConflict("An API key with this id or hash exists, or its tenant does not")

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        with _translated():
            raw = self._client.hget(self._k_api_keys_by_hash, key_hash)
        return None if raw is None else _api_key_from_json(raw)

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        # The token script fits: both records are JSON with a revoked_at member, found by hash through their id.
        with _translated():
            found = self._revoke_token(keys=[self._k_api_keys_by_hash, self._k_api_keys_by_id], args=[key_id, _iso(at)])
        return found == 1

    def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        with _translated():
            raws = self._list(
                keys=[self._k_tenant_keys(tenant_id), self._k_api_keys_by_hash, self._k_api_keys_by_id]
            )
        return [_api_key_from_json(raw) for raw in raws]

    # verifier transactions

    def _k_vtx(self, request_id: str) -> str:
        return self._prefix + "vtx:" + request_id

    def _k_vtx_nonce(self, nonce: str) -> str:
        return self._prefix + "vtx-nonce:" + nonce

    def _k_vtx_of(self, tenant_id: str) -> str:
        return self._prefix + "vtx-of:" + tenant_id

    def add_transaction(self, record: VerifierTransaction) -> None:
        r = record
        details = check_transaction(r)
        purge_score = _score(r.purge_at)
        expire_ms = -(-purge_score // 1000)  # rounded up: the keys outlive purge_at, never the reverse
        keys = [self._k_vtx(r.request_id), self._k_vtx_nonce(r.nonce), self._k_vtx_of(r.tenant_id), self._k_vtx_purge,
                self._k_vtx_sealed]
        indexed = _sealed_fields(r.sealed, r.sealed_until)[2]
        args = [r.request_id, expire_ms, _score(r.created_at), purge_score, _purge_member(r), indexed,
                *_transaction_fields(r, details)]
        with _translated():
            result = self._add_transaction(keys=keys, args=args)
        if result == _CONFLICT:
            raise StoreConflict("A transaction with this request_id or nonce exists")

    def get_transaction(self, request_id: str, now: datetime) -> VerifierTransaction | None:
        moment = _score(now)
        with _translated():
            fields = self._client.hgetall(self._k_vtx(request_id))
        if not fields or int(fields[b"purge_score"]) <= moment:
            return None
        return _transaction_from_fields(fields, now)

    def swap_transaction(
        self, record: VerifierTransaction, expected_version: int, now: datetime
    ) -> VerifierTransaction | None:
        r = record
        details = check_transaction(r)
        check_version(expected_version, now)
        # Sealed data already past its time is not written at all.
        sealed, sealed_until = (b"", None) if sealed_is_due(r, now) else (r.sealed, r.sealed_until)
        args = [_score(now), str(expected_version), *_fixed_of(r), r.status, details, sealed,
                str(expected_version + 1), *_sealed_fields(sealed, sealed_until), r.request_id]
        with _translated():
            result = self._swap_transaction(keys=[self._k_vtx(r.request_id), self._k_vtx_sealed], args=args)
        if result == _FIXED:
            raise ValueError("a swap may change a transaction's status, details, sealed data and sealed_until only")
        if result in (_UNKNOWN, _STALE):
            return None
        if not isinstance(result, list):
            raise StoreError("Redis gave an unexpected answer to a transaction swap")
        return _transaction_from_flat(result, now)

    def purge_transactions(self, now: datetime, limit: int = 1000) -> int:
        moment = _score(now)
        if limit <= 0:
            return 0  # a zset LIMIT with a negative count means "all"
        with _translated():
            members = self._client.zrangebyscore(self._k_vtx_purge, "-inf", moment, start=0, num=clamp_int64(limit))
        if not members:
            return 0
        keys, args = [self._k_vtx_purge, self._k_vtx_sealed], [moment]
        for member in members:
            request_id, tenant_id, nonce = json.loads(member)
            keys += [self._k_vtx(request_id), self._k_vtx_nonce(nonce), self._k_vtx_of(tenant_id)]
            args += [member, request_id, tenant_id, nonce]
        with _translated():
            return int(self._purge_transactions(keys=keys, args=args))

    def drop_expired_sealed(self, now: datetime, limit: int = 1000) -> int:
        moment = _score(now)
        cleared = 0
        # Entries whose hash expired are removed uncounted: read again until ``limit`` are cleared or none is due.
        while cleared < limit:
            wanted = limit - cleared
            with _translated():
                members = self._client.zrangebyscore(
                    self._k_vtx_sealed, "-inf", moment, start=0, num=clamp_int64(wanted)
                )
            if not members:
                break
            ids = [_text(member) for member in members]
            keys = [self._k_vtx_sealed, *(self._k_vtx(request_id) for request_id in ids)]
            with _translated():
                cleared += int(self._drop_expired_sealed(keys=keys, args=[moment, *ids]))
            if len(members) < wanted:
                break
        return cleared

    def list_transactions(self, tenant_id: str, now: datetime, limit: int = 100) -> list[VerifierTransaction]:
        moment = _score(now)
        out: list[VerifierTransaction] = []
        if limit <= 0:
            return out
        # Newest first: ZREVRANGEBYSCORE orders by score (created_at), then member (request_id), both descending.
        # Pages continue from the last score read (skipping the members already read at that score), so that
        # transactions added meanwhile, all newer, shift nothing. The zset may still hold request_ids whose keys
        # expired, or that were added again for another tenant: they are skipped, and pages are read until
        # ``limit`` records are found or the zset ends.
        page = min(limit, _HMGET_CHUNK) + 16
        top: int | str = "+inf"
        skip = 0
        while len(out) < limit:
            with _translated():
                rows = self._client.zrevrangebyscore(
                    self._k_vtx_of(tenant_id), top, "-inf", start=skip, num=page, withscores=True
                )
                pipe = self._client.pipeline(transaction=False)
                for request_id, _ in rows:
                    pipe.hgetall(self._k_vtx(_text(request_id)))
                found = pipe.execute() if rows else []
            for fields in found:
                if fields and _text(fields[b"tenant_id"]) == tenant_id and int(fields[b"purge_score"]) > moment:
                    out.append(_transaction_from_fields(fields, now))
            if len(rows) < page:
                break
            last = int(rows[-1][1])
            same = sum(1 for _, score in rows if int(score) == last)
            skip = skip + same if top == last else same
            top = last
        return out[:limit]

    # residents, enrollment codes, accounts and sessions

    def _k_resident(self, resident_id: str) -> str:
        return self._prefix + "resident:" + resident_id

    def _k_enroll(self, code_hash: str) -> str:
        return self._prefix + "enroll:" + code_hash

    def _k_account(self, subject: str) -> str:
        return self._prefix + "account:" + subject

    def _k_session(self, session_hash: str) -> str:
        return self._prefix + "session:" + session_hash

    def _k_sessions_of(self, subject: str) -> str:
        return self._prefix + "sessions-of:" + subject

    def add_residents(self, records: Sequence[ResidentRecord]) -> None:
        for r in records:
            check_resident(r)
        if not records:
            return
        keys, args = [self._k_residents_by_rrn, self._k_residents_order], []
        for r in records:
            keys.append(self._k_resident(r.resident_id))
            args += [r.resident_id, r.rrn_index, _score(r.created_at), r.sealed, _iso(r.created_at), r.status]
        with _translated():
            result = self._add_residents(keys=keys, args=args)
        if result == _CONFLICT:
            raise StoreConflict("A resident with this id or RRN index exists or repeats in the batch")

    def get_resident(self, resident_id: str) -> ResidentRecord | None:
        with _translated():
            fields = self._client.hgetall(self._k_resident(resident_id))
        return _resident_from_fields(fields) if fields else None

    def find_resident_by_rrn_index(self, rrn_index: str) -> ResidentRecord | None:
        with _translated():
            resident_id = self._client.hget(self._k_residents_by_rrn, rrn_index)
        # Residents are never deleted: the hash the index names exists.
        return None if resident_id is None else self.get_resident(_text(resident_id))

    def list_residents(self, limit: int = 100, after: str | None = None) -> list[ResidentRecord]:
        if limit <= 0:
            return []
        with _translated():
            ids = self._resident_page(
                keys=[self._k_residents_order], args=[clamp_int64(limit), int(after is not None), after or ""]
            )
            pipe = self._client.pipeline(transaction=False)
            for resident_id in ids:
                pipe.hgetall(self._k_resident(_text(resident_id)))
            found = pipe.execute() if ids else []
        return [_resident_from_fields(fields) for fields in found if fields]

    def set_resident_status(self, resident_id: str, status: str, at: datetime) -> bool:
        check_resident_status(status)
        with _translated():
            found = self._set_resident_status(keys=[self._k_resident(resident_id)], args=[status, _iso(at)])
        return found == 1

    def add_enrollment_code(self, record: EnrollmentCodeRecord) -> None:
        r = record
        check_enrollment_code(r)
        expires_score = _score(r.expires_at)
        args = [_expiry_ms(expires_score), "code_hash", r.code_hash, "resident_id", r.resident_id,
                "created_at", _iso(r.created_at), "expires_at", _iso(r.expires_at), "expires_score", expires_score,
                "used_at", _iso(r.used_at) or ""]
        with _translated():
            result = self._add_enrollment_code(keys=[self._k_enroll(r.code_hash), self._k_resident(r.resident_id)],
                                               args=args)
        if result == _CONFLICT:
            raise StoreConflict("An enrollment code with this hash exists, or its resident does not")

    def consume_enrollment_code(self, code_hash: str, now: datetime) -> str | None:
        moment, at = _score(now), _iso(now)
        key = self._k_enroll(code_hash)
        for _ in range(_READ_AGAIN_ATTEMPTS):
            # The resident's key is read first, so that the script declares every key it touches.
            with _translated():
                resident_id = self._client.hget(key, "resident_id")
                if resident_id is None:
                    return None
                resident_id = _text(resident_id)
                result = self._consume_enrollment_code(
                    keys=[key, self._k_resident(resident_id)], args=[moment, at, resident_id]
                )
            if result == _OK:
                return resident_id
            if result != _RETRY:
                return None
        raise StoreError("The enrollment code kept changing under the consumer")

    def add_account(self, record: AccountRecord) -> None:
        check_account(record)
        with _translated():
            result = self._add_account(keys=[self._k_account(record.subject)], args=_account_fields(record))
        if result == _CONFLICT:
            raise StoreConflict("The subject has an account")

    def get_account(self, subject: str) -> AccountRecord | None:
        with _translated():
            fields = self._client.hgetall(self._k_account(subject))
        return _account_from_fields(fields) if fields else None

    def set_password(self, subject: str, password_hash: str) -> bool:
        if not isinstance(password_hash, str):
            raise ValueError("a password hash must be a string")
        with _translated():
            return self._set_password(keys=[self._k_account(subject)], args=[password_hash]) == 1

    def _end_sessions(self, subject: str, script, keys: list[str], args: list[object]) -> object:
        """Run a script built on _END_SESSIONS over the sessions the subject's set holds, reading the set again
        while it changes between the read and the script."""
        set_key = self._k_sessions_of(subject)
        for _ in range(_READ_AGAIN_ATTEMPTS):
            with _translated():
                hashes = sorted(_text(h) for h in self._client.smembers(set_key))
            session_keys, session_args = [], []
            for session_hash in hashes:
                session_keys.append(self._k_session(session_hash))
                session_args += [session_hash, _session_member(session_hash, subject)]
            with _translated():
                result = script(keys=[*keys, *session_keys], args=[*args, *session_args])
            if result != _RETRY:
                return result
        raise StoreError("The subject's sessions kept changing while they were being ended")

    def disable_account(self, subject: str, at: datetime) -> bool:
        keys = [self._k_account(subject), self._k_sessions_of(subject), self._k_sessions_end]
        result = self._end_sessions(subject, self._disable_account, keys, [_iso(at), subject])
        return result != _UNKNOWN

    def add_session(self, record: SessionRecord) -> None:
        r = record
        ends = _score(check_session(r))
        member = _session_member(r.session_hash, r.subject)
        keys = [self._k_session(r.session_hash), self._k_sessions_of(r.subject), self._k_sessions_end,
                self._k_account(r.subject)]
        args = [r.session_hash, member, ends, _expiry_ms(ends),
                "session_hash", r.session_hash, "subject", r.subject, "created_at", _iso(r.created_at),
                "last_seen_at", _iso(r.last_seen_at), "last_seen_score", _score(r.last_seen_at),
                "idle_seconds", r.idle_seconds, "absolute_expires_at", _iso(r.absolute_expires_at),
                "absolute_score", _score(r.absolute_expires_at), "ends_score", ends, "member", member]
        with _translated():
            result = self._add_session(keys=keys, args=args)
        if result == _CONFLICT:
            raise StoreConflict("A session with this hash exists, or the subject's account is disabled")

    def get_session(self, session_hash: str, now: datetime) -> SessionRecord | None:
        moment = _score(now)
        with _translated():
            fields = self._client.hgetall(self._k_session(session_hash))
        if not fields or int(fields[b"ends_score"]) <= moment:
            return None
        return _session_from_fields(fields)

    def touch_session(self, session_hash: str, now: datetime) -> bool:
        args = [_score(now), _iso(now)]
        with _translated():
            return self._touch_session(keys=[self._k_session(session_hash), self._k_sessions_end], args=args) == 1

    def delete_session(self, session_hash: str) -> bool:
        key = self._k_session(session_hash)
        for _ in range(_READ_AGAIN_ATTEMPTS):
            with _translated():
                subject, member = self._client.hmget(key, ["subject", "member"])
                if subject is None:
                    return False
                result = self._delete_session(
                    keys=[key, self._k_sessions_of(_text(subject)), self._k_sessions_end], args=[member, session_hash]
                )
            if result != _RETRY:
                return result == 1
        raise StoreError("The session kept changing while it was being deleted")

    def delete_sessions_of(self, subject: str) -> int:
        keys = [self._k_sessions_of(subject), self._k_sessions_end]
        return int(self._end_sessions(subject, self._delete_sessions_of, keys, [subject]))

    def purge_sessions(self, now: datetime, limit: int = 1000) -> int:
        moment = _score(now)
        if limit <= 0:
            return 0  # a zset LIMIT with a negative count means "all"
        with _translated():
            members = self._client.zrangebyscore(self._k_sessions_end, "-inf", moment, start=0, num=clamp_int64(limit))
        if not members:
            return 0
        keys, args = [self._k_sessions_end], [moment]
        for member in members:
            session_hash, subject = json.loads(member)
            keys += [self._k_session(session_hash), self._k_sessions_of(subject)]
            args += [member, session_hash]
        with _translated():
            return int(self._purge_sessions(keys=keys, args=args))

    # rate limiting (one script per take: the check and the count are one unit)

    def take_rate_token(self, bucket: str, limit: int, window_seconds: int, now: datetime) -> bool:
        window = rate_window(bucket, limit, window_seconds, now)
        with _translated():
            taken = self._take_rate_token(
                keys=[self._prefix + "rate:" + bucket], args=[window, limit, 2 * window_seconds]
            )
        return taken == 1

    # credentials


    def purge_rate_counters(self, now: datetime, limit: int = 10000) -> int:
        # Each counter key expires with its window (EXPIRE in the take script): nothing is left to purge.
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("naive datetime: the store needs timezone-aware times")
        return 0
    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        with _translated():
            raw = self._client.hget(self._k_credentials, credential_id)
        return None if raw is None else _credential_from_json(raw)

    def get_credential_by_digest(self, digest: str) -> CredentialRecord | None:
        with _translated():
            raw = self._credential_by_digest(keys=[self._k_credentials, self._k_by_digest], args=[digest])
        return None if raw is None else _credential_from_json(raw)

    # transparency log

    def append_log(self, appends: Sequence[LogAppend]) -> list[int]:
        if not appends:
            return []
        check_appends(appends)
        # Arguments are built (and naive datetimes refused) in the caller's thread, before joining a group.
        keys = [*self._log_keys(), self._k_credentials, self._k_by_digest]
        first = self._group().submit((keys, _append_args(appends)))
        return list(range(first, first + len(appends)))

    def _commit_appends(self, batch: list[tuple[list[str], list]]) -> list[Outcome]:
        """One pipeline for the group; every call stays its own script run, atomic on its own. With appendfsync
        always, Redis fsyncs once for all the writes it read in one go and replies after that fsync."""
        replies: list[object] = [None] * len(batch)
        pending = list(range(len(batch)))
        with _translated():
            for _ in range(2):
                pipe = self._client.pipeline(transaction=False)
                for i in pending:
                    keys, args = batch[i]
                    pipe.evalsha(self._append_log.sha, len(keys), *keys, *args)
                for i, reply in zip(pending, pipe.execute(raise_on_error=False)):
                    replies[i] = reply
                # NOSCRIPT means that call did not run at all (the script cache is empty after a restart or a
                # SCRIPT FLUSH), so running it again once the script is loaded cannot append twice.
                pending = [i for i in pending if isinstance(replies[i], redis.exceptions.NoScriptError)]
                if not pending:
                    break
                self._client.script_load(_APPEND_LOG)
        return [_append_outcome(reply) for reply in replies]

    def log_size(self) -> int:
        with _translated():
            return int(self._client.get(self._k_log_size) or 0)

    def read_leaves(self, start: int, end: int) -> list[LogLeaf]:
        if start < 0:
            raise ValueError("start must not be negative")
        stop = min(end, self.log_size())  # leaves and size are written together, so [0, size) all exist
        if start >= stop:
            return []
        with _translated():
            pipe = self._client.pipeline(transaction=False)
            for first in range(start, stop, _HMGET_CHUNK):
                pipe.hmget(self._k_leaves, list(range(first, min(first + _HMGET_CHUNK, stop))))
            values = [value for chunk in pipe.execute() for value in chunk]
        leaves = []
        for index, value in zip(range(start, stop), values):
            if value is None:
                raise StoreError(f"Log leaf {index} is missing from the store")
            leaves.append(LogLeaf(index, value[HASH_SIZE:], value[:HASH_SIZE]))
        return leaves

    def read_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        leaf_ids = [(level, index) for level, index in ids if level == 0]
        node_ids = [(level, index) for level, index in ids if level != 0]
        with _translated():
            # One round trip: the two lookups travel in one pipeline.
            pipe = self._client.pipeline(transaction=False)
            if leaf_ids:
                pipe.hmget(self._k_leaves, [index for _, index in leaf_ids])
            if node_ids:
                pipe.hmget(self._k_nodes, [_node_field(level, index) for level, index in node_ids])
            replies = pipe.execute()
        found: dict[NodeId, bytes] = {}
        if leaf_ids:
            found.update((i, v[:HASH_SIZE]) for i, v in zip(leaf_ids, replies.pop(0)) if v is not None)
        if node_ids:
            found.update((i, v) for i, v in zip(node_ids, replies.pop(0)) if v is not None)
        return found

    def find_leaf_index(self, leaf_hash: bytes) -> int | None:
        with _translated():
            index = self._client.hget(self._k_by_hash, leaf_hash)
        return None if index is None else int(index)

    def latest_checkpoint(self) -> CheckpointRecord | None:
        with _translated():
            raws = self._checkpoints(keys=[self._k_checkpoints, self._k_notes], args=["latest"])
        return _checkpoint_from_json(raws[0]) if raws else None

    def list_checkpoints(self, after_size: int = -1, limit: int = 1000) -> list[CheckpointRecord]:
        if limit <= 0:
            return []  # a zset LIMIT with a negative count means "all"
        with _translated():
            raws = self._checkpoints(
                keys=[self._k_checkpoints, self._k_notes], args=[int(after_size), clamp_int64(limit)]
            )
        return [_checkpoint_from_json(raw) for raw in raws]

    def add_checkpoint(
        self, checkpoint: CheckpointRecord, nodes: Mapping[NodeId, bytes], previous_size: int | None
    ) -> bool:
        check_checkpoint(checkpoint, nodes, previous_size)
        leaves = [(index, value) for (level, index), value in nodes.items() if level == 0]
        args: list[object] = ["" if previous_size is None else str(previous_size), str(checkpoint.size),
                              _checkpoint_json(checkpoint), len(leaves)]
        for index, value in leaves:
            args += [index, value]
        for (level, index), value in nodes.items():
            if level > 0:
                args += [_node_field(level, index), value]
        keys = [self._k_log_size, self._k_checkpoints, self._k_notes, self._k_nodes,
                self._prefix + "log:call:" + _call_token(), self._k_leaves, self._k_halted]
        with _translated():
            result = self._add_checkpoint(keys=keys, args=args)
        if result == _CONFLICT:
            raise StoreConflict("A subtree hash differs from the one stored")
        return result == 1

    def halt_log(self, reason: str, at: datetime) -> None:
        value = json.dumps({"reason": reason, "at": _iso(at)})
        with _translated():
            self._client.set(self._k_halted, value, nx=True)  # NX keeps the first reason

    def log_halted(self) -> str | None:
        with _translated():
            raw = self._client.get(self._k_halted)
        return None if raw is None else json.loads(raw)["reason"]

    def resume_log(self) -> None:
        with _translated():
            self._client.delete(self._k_halted)

    # status lists

    def _k_status(self, list_id: str) -> str:
        return self._prefix + "status:" + list_id

    def allocate_status(
        self, purposes: Sequence[str], list_size: int, candidates: Sequence[int]
    ) -> list[StatusAllocation]:
        check_allocation(purposes, list_size, candidates)
        # The script takes each purpose once; a batch with repeats runs as consecutive units of distinct purposes.
        out: list[StatusAllocation] = []
        chunk: list[str] = []
        shares = candidate_shares(candidates, len(purposes))
        start = 0
        for i, purpose in enumerate(purposes):
            if purpose in chunk:
                out += self._allocate_distinct(chunk, list_size, _joined(shares[start:i]))
                chunk, start = [], i
            chunk.append(purpose)
        return out + self._allocate_distinct(chunk, list_size, _joined(shares[start:]))

    def _allocate_distinct(
        self, purposes: Sequence[str], list_size: int, candidates: Sequence[int]
    ) -> list[StatusAllocation]:
        for _ in range(_ALLOCATION_ATTEMPTS):
            with _translated():
                open_ids = [_text(v) if v is not None else "" for v in self._client.hmget(self._k_status_open, purposes)]
            keys, args = [self._k_status_open], [list_size, len(candidates), *candidates]
            for purpose, open_id in zip(purposes, open_ids):
                fresh = secrets.token_hex(8)
                current = self._k_status(open_id or fresh)
                new = self._k_status(fresh)
                keys += [current, current + ":allocated", new, new + ":allocated", new + ":bits"]
                args += [purpose, open_id, fresh]
            with _translated():
                result = self._allocate_status(keys=keys, args=args)
            if result != _RETRY:
                return [
                    StatusAllocation(_text(result[i * 2]), purpose, int(result[i * 2 + 1]))
                    for i, purpose in enumerate(purposes)
                ]
            # Another caller opened a new list since the read above: read again (rare, once per full list).
        raise StoreError("The status list allocation kept racing other writers")

    def change_status(self, list_id: str, index: int, value: int, entry: LogAppend) -> StatusChange:
        check_status_change(list_id, index, value, entry)
        meta = self._k_status(list_id)
        keys = [*self._log_keys(), meta, meta + ":bits", meta + ":history"]
        with _translated():
            result = self._change_status(keys=keys, args=[index, value, entry.leaf_hash + entry.entry])
        if isinstance(result, int):
            return StatusChange(True, result)
        if result == _SAME:
            return StatusChange(False, None)
        if result == _UNKNOWN:
            raise ValueError("unknown status list")
        if result == _OUT_OF_RANGE:
            raise ValueError("the status index is outside the list")
        if result == _CONFLICT:
            raise StoreConflict("A revocation is permanent")
        if result == _HALTED:
            raise LogHalted()
        raise StoreError("Redis gave an unexpected answer to a status change")

    def get_status_list(self, list_id: str) -> StatusListRecord | None:
        meta = self._k_status(list_id)
        with _translated():
            pipe = self._client.pipeline(transaction=True)  # MULTI/EXEC: the fields and bits of one moment
            pipe.hgetall(meta)
            pipe.get(meta + ":bits")
            fields, bits = pipe.execute()
        if not fields:
            return None
        fields = {_text(k): v for k, v in fields.items()}
        published = fields.get("published")
        return StatusListRecord(
            list_id,
            _text(fields["purpose"]),
            int(fields["size"]),
            bits or b"",
            int(fields["version"]),
            None if published is None else _text(published),
            int(fields["published_version"]),
        )

    def publish_status_list(self, list_id: str, version: int, credential: str) -> bool:
        if not isinstance(credential, str) or isinstance(version, bool) or not isinstance(version, int):
            raise ValueError("publishing needs an integer version and the credential as text")
        with _translated():
            stored = self._publish_status(keys=[self._k_status(list_id)], args=[clamp_int64(version), credential])
        return stored == 1

    def status_history(self, list_id: str, index: int) -> list[int]:
        with _translated():
            raw = self._client.hget(self._k_status(list_id) + ":history", str(index))
        return [] if raw is None else [int(leaf) for leaf in raw.split()]


def _append_outcome(reply: object) -> Outcome:
    if isinstance(reply, int):
        return reply, None
    if reply == _CONFLICT:
        return None, StoreConflict("A credential id or digest exists or repeats in the batch")
    if reply == _HALTED:
        return None, LogHalted()
    error: StoreError = (
        StoreUnavailable("Redis is unreachable") if isinstance(reply, redis.exceptions.ReadOnlyError)
        else StoreError("Redis refused the log append")
    )
    if isinstance(reply, BaseException):
        error.__cause__ = reply
    return None, error
