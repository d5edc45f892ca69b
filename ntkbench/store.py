"""Content-addressed, checksummed, atomic cache of computed results.

An entry's address is the SHA-256 of what determines it, as canonical JSON: a readable
name, its parameters, a digest of the code that computes it (`ntkbench.code_digest`) and the
versions of the packages that change numbers, so that neither a code change nor an upgrade
reads results computed before it. Its value is a flat dict of numbers and arrays, stored as
an .npz payload behind its own SHA-256, written to a temporary file and renamed into place,
so that a killed run never leaves a half entry behind and a damaged entry is found,
reported and recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

Value = dict[str, Any]


def address(name: str, params: dict, code: str, versions: dict[str, str | None]) -> str:
    """Hex SHA-256 of the canonical JSON of an entry's name, parameters, code digest and
    package versions."""
    text = json.dumps({"name": name, "params": params, "code": code, "versions": versions},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _encode(value: Value) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in value.items()})
    payload = buf.getvalue()
    return hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _decode(blob: bytes) -> Value:
    digest, _, payload = blob.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ValueError("checksum mismatch")
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {k: data[k][()] if data[k].ndim == 0 else data[k] for k in data.files}


class Store:
    """Results cache in `root` (created on first write). `None` root disables caching."""

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root is not None else None
        self.events: list[str] = []

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> Value | None:
        """The entry at `key`, or None if absent or damaged (a damaged one is removed)."""
        if self.root is None:
            return None
        path = self._path(key)
        try:
            return _decode(path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, OSError, EOFError) as err:
            self.events.append(f"cache entry {path} was damaged ({err}); recomputed")
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, value: Value) -> None:
        if self.root is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_encode(value))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
