"""The embedding cache: SQLite rows keyed by an image's sha256, one file per pack and precision.

It only saves time, so it never costs correctness (see EmbeddingCache).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from medmir.core.errors import MedmirError
from medmir.core.fsutil import sha256_file
from medmir.model.manifest import MANIFEST_FILE
from medmir.model.pack import ModelPack, Precision


class CacheWarning(UserWarning):
    """The embedding cache was damaged or unusable; indexing went on and re-embedded what it could not trust."""


# Rows are unit vectors; beyond what `medmir verify` accepts a row is damage, not rounding.
NORM_TOLERANCE = 1e-3
_SCHEMA = "CREATE TABLE IF NOT EXISTS emb (sha TEXT PRIMARY KEY, vec BLOB NOT NULL)"


class CacheDamaged(Exception):
    """The cache file is not a usable SQLite database of ours (checked before any row is trusted)."""


class EmbeddingCache:
    """sha256 of image bytes -> float32 vector, one SQLite file per (pack, precision).

    `key_suffix` replaces the precision in the file name, for other backends whose vectors differ slightly
    (e.g. "torch-bf16-exact"), so they never share rows with the onnxruntime cache.

    The cache only saves time, so it never costs correctness: a damaged file is moved aside (NAME.corrupt-TIME,
    kept for inspection) and replaced by an empty one; a row that is not a finite unit vector of the pack's width
    reads as absent, so its image is embedded again; a database error during the run turns the cache off.
    Each of these is reported as a CacheWarning naming the file.
    """

    def __init__(self, folder: Path, pack: ModelPack, precision: Precision, key_suffix: str | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        key = sha256_file(pack.dir / MANIFEST_FILE)[:16]
        self.path = folder / f"{key}-{key_suffix or precision}.sqlite"
        self.dim = pack.embed_dim
        self.bad_rows: Counter[str] = Counter()
        self.db: sqlite3.Connection | None = self._open()

    def _open(self) -> sqlite3.Connection | None:
        try:
            return _connect_checked(self.path)
        except (CacheDamaged, sqlite3.DatabaseError) as exc:
            if not _is_damage(exc):
                _warn(f"{self.path}: cannot use the embedding cache ({exc}); continuing without it")
                return None
            damage = exc
        moved = quarantine(self.path)
        _warn(f"{self.path}: the embedding cache is damaged ({damage}); moved it to {moved.name} and started an "
              "empty cache")  # fmt: skip
        try:
            return _connect_checked(self.path)
        except (CacheDamaged, sqlite3.DatabaseError) as exc:
            _warn(f"{self.path}: cannot create an empty embedding cache ({exc}); continuing without it")
            return None

    def get(self, sha: str) -> np.ndarray | None:
        if self.db is None:
            return None
        with self._guard("reading"):
            row = self.db.execute("SELECT vec FROM emb WHERE sha = ?", (sha,)).fetchone()
            if row is None:
                return None
            problem = row_problem(row[0], self.dim)
            if problem is None:
                return np.frombuffer(row[0], dtype="<f4")
            self.bad_rows[problem] += 1
        return None

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        rows = [(sha, np.asarray(v, dtype="<f4").tobytes()) for sha, v in items]
        rows = [r for r in rows if row_problem(r[1], self.dim) is None]  # never store what get() would refuse
        if self.db is None or not rows:
            return
        with self._guard("writing"), self.db:
            self.db.executemany("INSERT OR REPLACE INTO emb (sha, vec) VALUES (?, ?)", rows)

    def is_empty(self) -> bool:
        if self.db is None:
            return True
        with self._guard("reading"):
            return self.db.execute("SELECT EXISTS (SELECT 1 FROM emb)").fetchone()[0] == 0
        return True

    def report_bad_rows(self) -> None:
        """One warning for the rows get() refused since the last call."""
        if self.bad_rows:
            what = ", ".join(f"{n} {problem}" for problem, n in self.bad_rows.most_common())
            _warn(f"{self.path}: {self.bad_rows.total()} cached embedding(s) unusable ({what}); embedding those "
                  "images again")  # fmt: skip
            self.bad_rows.clear()

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """A database error mid-run (damage, a full disk, a lock held too long) turns the cache off, never the run."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            self.close()
            note = "continuing without the cache"
            if _is_damage(exc):
                try:
                    note = f"moved it to {quarantine(self.path).name}; {note}"
                except MedmirError as stuck:  # the next run's open check says so again
                    note = f"{stuck}; {note}"
            _warn(f"{self.path}: {what} the embedding cache failed ({exc}); {note}")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def _connect_checked(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    try:
        db.execute(_SCHEMA)
        problems = [str(r[0]) for r in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise CacheDamaged("; ".join(problems[:3]))
        columns = [r[1] for r in db.execute("PRAGMA table_info(emb)")]
        if columns != ["sha", "vec"]:
            raise CacheDamaged(f"table emb has columns {columns}, expected ['sha', 'vec']")
    except BaseException:
        db.close()
        raise
    return db


def _is_damage(exc: BaseException) -> bool:
    """Damage to the file itself, as opposed to a lock, a full disk or a permission (which moving would not fix)."""
    if isinstance(exc, CacheDamaged):
        return True
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"


def row_problem(blob: object, dim: int) -> str | None:
    """Why a cached row cannot be used as a `dim`-wide embedding, or None when it can."""
    if not isinstance(blob, bytes):
        return "not a byte string"
    if len(blob) != dim * 4:
        return "of the wrong length"
    vec = np.frombuffer(blob, dtype="<f4")
    if not np.isfinite(vec).all():
        return "with NaN or infinite values"
    if abs(float(np.linalg.norm(vec.astype(np.float64))) - 1) > NORM_TOLERANCE:
        return "not of unit length"
    return None


def quarantine(path: Path) -> Path:
    """Rename a damaged file (and any SQLite journal beside it) to NAME.corrupt-TIME: set aside, never deleted."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        for suffix in ("", "-journal", "-wal", "-shm"):
            src = path.with_name(path.name + suffix)
            if src.exists():
                src.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise MedmirError(f"{path}: damaged, and cannot be moved aside ({exc.strerror}); move or delete it") from exc
    return target


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)
