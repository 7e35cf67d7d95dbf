"""What the SQLite and Redis stores share: argument checks that must fail before anything is written, and
leader/follower group commit for the threads of one process."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from did_service.errors import StoreConflict, StoreError
from did_service.storage.base import CheckpointRecord, KeyRecord, LogAppend, NodeId

HASH_SIZE = 32  # SHA-256: leaf and node hashes
STATUS_PURPOSES = ("revocation", "suspension")
# The largest status list a store creates: 2**27 bits is 16 MiB, the verifier's cap on a decompressed list.
MAX_STATUS_LIST_SIZE = 2**27
_INT64_MAX = 2**63 - 1  # SQLite integers are 64-bit; a larger bound binds as an OverflowError


def clamp_int64(value: int) -> int:
    return max(-_INT64_MAX, min(value, _INT64_MAX))


def check_hash(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")
    return value


def check_appends(appends: Sequence[LogAppend]) -> None:
    """Argument errors, raised before anything is written."""
    for append in appends:
        if not isinstance(append.entry, bytes):
            raise ValueError("a log entry must be bytes")
        check_hash(append.leaf_hash, "a leaf hash")
        if append.credential is not None and not append.credential.credential_id:
            raise ValueError("a credential needs an id")


def check_checkpoint(checkpoint: CheckpointRecord, nodes: Mapping[NodeId, bytes], previous_size: int | None) -> None:
    """Argument errors, raised before anything is written: what the arguments alone show to be wrong."""
    check_hash(checkpoint.root_hash, "a root hash")
    if checkpoint.size < 0 or (previous_size is not None and checkpoint.size <= previous_size):
        raise ValueError("checkpoint sizes must strictly increase")
    for (level, index), value in nodes.items():
        check_hash(value, "a node hash")
        # Only complete subtrees inside the checkpoint's tree: a node reaching past its size would be a guess.
        if level < 0 or index < 0 or (index + 1) << level > checkpoint.size:
            raise ValueError("a node must be a complete subtree within the checkpoint's size")


def check_rotation(new: Sequence[KeyRecord], retire: Sequence[str], added: Sequence[LogAppend],
                   retired: Sequence[LogAppend]) -> None:
    if len(added) != len(new) or len(retired) != len(retire):
        raise ValueError("one log entry per new key and per retired key is needed")
    check_appends([*added, *retired])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_allocation(purposes: Sequence[str], list_size: int, candidates: Sequence[int]) -> None:
    """Argument errors of allocate_status, raised before anything is written."""
    if not purposes:
        raise ValueError("at least one status purpose is needed")
    if any(p not in STATUS_PURPOSES for p in purposes):
        raise ValueError(f"status purposes must be values of {STATUS_PURPOSES}")
    if not _is_int(list_size) or list_size < 8 or list_size % 8 or list_size > MAX_STATUS_LIST_SIZE:
        raise ValueError(f"a status list size must be a multiple of 8 in [8, {MAX_STATUS_LIST_SIZE}]")
    if not candidates or any(not _is_int(c) or not 0 <= c < list_size for c in candidates):
        raise ValueError("candidates must be a non-empty sequence of indexes in [0, list_size)")


def candidate_shares(candidates: Sequence[int], allocations: int) -> list[list[int]]:
    """The caller's random candidates split evenly among a batch's allocations, in order (all of them when there
    are fewer candidates than allocations), so each allocation looks at a handful, not the whole batch's."""
    per = len(candidates) // allocations
    if per == 0:
        return [list(candidates)] * allocations
    return [list(candidates[i * per : (i + 1) * per]) for i in range(allocations)]


def check_status_change(list_id: str, index: int, value: int, entry: LogAppend) -> None:
    """Argument errors of change_status that the arguments alone show, raised before anything is written (the
    list's own size is checked by the store)."""
    if not isinstance(list_id, str) or not list_id:
        raise ValueError("a status list id must be a non-empty string")
    if not _is_int(index) or index < 0:
        raise ValueError("a status index must be a non-negative integer")
    if not _is_int(value) or value not in (0, 1):
        raise ValueError("a status value must be 0 or 1")
    if entry.credential is not None:
        raise ValueError("a status log entry carries no credential record")
    check_appends([entry])


# --- group commit -------------------------------------------------------------------------------------------


@dataclass
class _Request:
    payload: Any
    done: bool = False
    result: Any = None
    error: Exception | None = None


# (result, None) or (None, the exception this call alone failed with), one per payload, in order.
Outcome = tuple[Any, Exception | None]


class GroupCommit:
    """Leader/follower group commit for the threads of one process (shared by the SQLite and Redis stores).

    A caller queues its request. If no commit is running it becomes the leader at once and commits everything
    queued, its own request included, so a lone caller never waits for company. Callers arriving meanwhile
    wait; when the leader is done, one of them leads the next group with everything queued by then. A request
    therefore waits at most for the commit in progress (there is no timer), and the group size adapts to the
    load. ``commit`` gets the payloads of one group and returns one Outcome per payload only after the group
    is durable; it raises StoreError/StoreConflict when the whole group failed (nothing of it written).
    """

    def __init__(self, commit: Callable[[list[Any]], list[Outcome]]) -> None:
        self._commit = commit
        self._cv = threading.Condition()
        self._queue: list[_Request] = []
        self._leading = False
        self.commits = 0  # groups committed: an observable measure of the grouping

    def queued(self) -> int:
        """Requests waiting for the next group (for tests that stage a group)."""
        with self._cv:
            return len(self._queue)

    def submit(self, payload: Any) -> Any:
        request = _Request(payload)
        with self._cv:
            self._queue.append(request)
            while not request.done:
                if self._leading:
                    self._cv.wait()
                    continue
                self._leading = True
                batch, self._queue = self._queue, []
                outcomes: list[Outcome] | None = None
                self._cv.release()
                try:
                    outcomes = self._run(batch)
                finally:
                    self._cv.acquire()
                    self._leading = False
                    for i, member in enumerate(batch):
                        # outcomes is None only if _run raised something unexpected: that exception propagates
                        # from the leader, and the others in its group must not wait forever.
                        member.result, member.error = (
                            outcomes[i] if outcomes is not None else (None, StoreError("The group commit failed"))
                        )
                        member.done = True
                    self._cv.notify_all()
        if request.error is not None:
            raise request.error
        return request.result

    def _run(self, batch: list[_Request]) -> list[Outcome]:
        try:
            outcomes = self._commit([r.payload for r in batch])
        except (StoreError, StoreConflict) as exc:
            # Each caller raises its own exception object: one object raised in several threads would collect
            # all of their tracebacks.
            return [(None, _copy_error(exc)) for _ in batch]
        self.commits += 1  # only the leader runs this
        return outcomes


def _copy_error(exc: StoreError | StoreConflict) -> Exception:
    copy = type(exc)(exc.detail)
    copy.__cause__ = exc
    return copy


class ProcessGroups:
    """One GroupCommit per process: a store built before a fork must not hand its queue to the child."""

    def __init__(self, commit: Callable[[list[Any]], list[Outcome]]) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._groups: dict[int, GroupCommit] = {}

    def get(self) -> GroupCommit:
        pid = os.getpid()
        group = self._groups.get(pid)
        if group is None:
            with self._lock:
                group = self._groups.setdefault(pid, GroupCommit(self._commit))
        return group
