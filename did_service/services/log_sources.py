"""Where an audit reads a log from: a running service over HTTP, or a store directly.

Both only fetch; every check happens in core.tlog.audit, which trusts neither source.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

from did_service.core import tlog
from did_service.errors import ConfigurationError, DidServiceError
from did_service.storage.base import Store

PAGE = 1000
TIMEOUT_SECONDS = 30


class SourceError(DidServiceError):
    code = "log_source_unavailable"
    status = 503
    title = "The log could not be read"


class HttpLogSource:
    """A did_service log API at ``base_url`` (e.g. https://id.jeju.example/log/v1). The operator picks the URL."""

    def __init__(self, base_url: str) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigurationError("the log URL must be http(s)")
        self._base = base_url.rstrip("/")

    def _get(self, path: str, **params: int | str) -> bytes:
        url = f"{self._base}/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
                return response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise SourceError(f"GET {path} failed: {exc}") from exc

    def json(self, path: str, **params: int | str) -> dict:
        try:
            value = json.loads(self._get(path, **params))
        except ValueError as exc:
            raise SourceError(f"GET {path} did not return JSON") from exc
        if not isinstance(value, dict):
            raise SourceError(f"GET {path} did not return a JSON object")
        return value

    def verifier_key(self) -> str:
        """What the log says its key is: for pinning on first use only; an audit never takes it from the source."""
        return self._get("key").decode("utf-8").strip()

    def checkpoints(self) -> Iterator[str]:
        after = -1
        while True:
            params = {"after": after} if after >= 0 else {}
            page = self.json("checkpoints", **params).get("checkpoints", [])
            if not isinstance(page, list):
                raise SourceError("GET checkpoints returned a malformed page")
            if not page:
                return
            for item in page:
                if not isinstance(item, dict) or not isinstance(item.get("checkpoint"), str) or not _size(item.get("tree_size")) > after:
                    raise SourceError("GET checkpoints returned a malformed or out-of-order item")
                yield item["checkpoint"]
                after = item["tree_size"]

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        while start < end:
            page = self.json("get-entries", start=start, end=end - 1).get("entries", [])
            if not page:
                return
            for item in page:
                yield _b64(item.get("leaf_input") if isinstance(item, dict) else None)
            start += len(page)

    def inclusion_path(self, leaf_index: int, tree_size: int) -> list[bytes]:
        answer = self.json("get-entry-and-proof", leaf_index=leaf_index, tree_size=tree_size)
        path = answer.get("audit_path")
        if not isinstance(path, list):
            raise SourceError("GET get-entry-and-proof returned no audit path")
        return [_b64(h) for h in path]


def _size(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -2


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise SourceError("the log returned a malformed base64 value")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise SourceError("the log returned a malformed base64 value") from exc


class StoreLogSource:
    """A store opened directly (for the operator's own audit). The verifier key is never taken from it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def checkpoints(self) -> Iterator[str]:
        after = -1
        while page := self._store.list_checkpoints(after_size=after, limit=PAGE):
            for record in page:
                yield record.note
            after = page[-1].size

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        while start < end:
            leaves = self._store.read_leaves(start, min(end, start + 10 * PAGE))
            if not leaves:
                return
            for leaf in leaves:
                yield leaf.entry
            start += len(leaves)

    def inclusion_path(self, leaf_index: int, tree_size: int) -> list[bytes]:
        nodes = self._store.read_nodes(tlog.inclusion_node_ids(leaf_index, tree_size))
        try:
            return tlog.inclusion_proof(leaf_index, tree_size, nodes)
        except KeyError as exc:
            raise SourceError(f"stored subtree hashes for leaf {leaf_index} are missing") from exc
