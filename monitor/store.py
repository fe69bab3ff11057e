"""Where monitoring keeps its records: SQLAlchemy Core over SQLite (the embedded default, one file)
or PostgreSQL (several API replicas sharing one store: ``postgresql+psycopg://user:pw@host/db``).

Tables: ``predictions`` (one row per predicted record, with the encoded inputs drift needs and the
label feedback fills in), ``metric_snapshots`` (the history), ``events`` (degradation, drift and
what was done about them) and ``action_leases`` (one replica acts on an event, and not again within
the cool-down). Times are Unix seconds. The calls are blocking: the API runs them in threads.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from modelserve.monitor.errors import StoreError

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("version", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    # The encoded row as served (float32 bytes, NaN for missing): 30 floats as JSON cost ~30 µs of
    # the API's CPU per prediction, as bytes ~1 µs, and NaN needs no stand-in.
    Column("features", LargeBinary, nullable=False),
    Column("prediction", String(256), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("label", String(256), nullable=True),
    Column("labelled_at", Float, nullable=True),
    Index("ix_predictions_model_created", "model", "created_at"),
    Index("ix_predictions_model_labelled", "model", "labelled_at"),
    Index("ix_predictions_model_version", "model", "version"),
)

snapshots = Table(
    "metric_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(128), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("window", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("accuracy", Float, nullable=False),
    Column("precision", Float, nullable=False),
    Column("recall", Float, nullable=False),
    Column("f1", Float, nullable=False),
    Column("versions", JSON, nullable=False),  # versions the window's predictions came from
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(128), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
)

leases = Table(
    "action_leases",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", Float, nullable=False),
)


@dataclass(frozen=True, kw_only=True)
class PredictionRecord:
    id: str
    model: str
    version: str
    created_at: float
    latency_ms: float
    features: bytes  # float32, as the tensor Triton got
    prediction: str
    confidence: float


@dataclass(frozen=True, kw_only=True)
class Labelled:
    version: str
    prediction: str
    label: str


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # No WAL, no mmap: WAL's index is mapped from the -shm file, and a damaged one (truncated,
    # read-only) killed the API process with SIGBUS. Plain file I/O makes a damaged store an
    # error the API answers around, never a crash. Writes come in batches (every flush_s).
    cursor.execute("PRAGMA journal_mode=TRUNCATE")
    cursor.execute("PRAGMA mmap_size=0")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = parsed.render_as_string(hide_password=True)
        self._raw_url = url
        # SQLite: the database file, so a deleted or replaced file is noticed (``file_changed``).
        self.path: Path | None = None
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            self.path = Path(parsed.database)
        self.engine: Engine
        try:
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                self.engine = create_engine(url, connect_args={"check_same_thread": False})
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
            self._create_tables()
        except (SQLAlchemyError, ImportError, OSError) as exc:
            raise StoreError(f"monitoring store {self.url}: {exc}") from exc
        self._identity = self._file_identity()

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat() if self.path is not None else None
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino) if stat is not None else None

    def file_changed(self) -> str | None:
        """Why the SQLite file is not the one this store opened (deleted, replaced, emptied), else
        None. SQLite keeps writing to an unlinked file, lost at restart."""
        if self.path is None:
            return None
        now = self._file_identity()
        if now == self._identity:
            with contextlib.suppress(OSError):
                if self.path.stat().st_size == 0:  # emptied in place: its tables are gone
                    return f"{self.path} was truncated to 0 bytes"
            return None
        return f"{self.path} was deleted" if now is None else f"{self.path} was replaced"

    def reopen(self) -> None:
        """A fresh database at the same URL (after ``file_changed``)."""
        self.engine.dispose()
        fresh = Store(self._raw_url)
        self.engine, self._identity = fresh.engine, fresh._identity

    def _create_tables(self) -> None:
        try:
            metadata.create_all(self.engine)
        except (IntegrityError, OperationalError, ProgrammingError):
            # Two replicas or API workers creating the same table at once: the loser fails
            # (PostgreSQL: a catalogue insert; SQLite: "table ... already exists"), and the
            # tables exist now. Anything else fails again here, with its own message.
            metadata.create_all(self.engine)
        for index in predictions.indexes:  # create_all skips indexes of a table that exists already
            with contextlib.suppress(SQLAlchemyError):
                index.create(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    # --- predictions and feedback -------------------------------------------------------------

    def add_predictions(self, records: Sequence[PredictionRecord]) -> None:
        if not records:
            return
        rows = [
            {
                "id": r.id,
                "model": r.model,
                "version": r.version,
                "created_at": r.created_at,
                "latency_ms": r.latency_ms,
                "features": r.features,
                "prediction": r.prediction,
                "confidence": r.confidence,
            }
            for r in records
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(predictions), rows)

    def label(self, model: str, labels: Mapping[str, str], *, at: float | None = None) -> list[str]:
        """Set the labels of ``model``'s predictions by id, all or none: returns the unknown ids
        (and changes nothing) when any id is not a prediction of ``model``."""
        return self.label_many(model, [labels], at=at)[0]

    def label_many(
        self, model: str, requests: Sequence[Mapping[str, str]], *, at: float | None = None
    ) -> list[list[str]]:
        """Several feedback requests in one transaction; each is all or none on its own (its unknown
        ids are returned in its slot and none of its labels written)."""
        at = time.time() if at is None else at
        wanted = sorted({pid for labels in requests for pid in labels})
        rows: list[dict[str, Any]] = []
        missing: list[list[str]] = []
        with self.engine.begin() as conn:
            known: set[str] = set()
            for start in range(0, len(wanted), 500):  # bounded IN lists
                chunk = wanted[start : start + 500]
                # By primary key alone, the model checked here: with ``model = ?`` in the query
                # SQLite walked the model's whole index (0.5 s at a million predictions).
                query = select(predictions.c.id, predictions.c.model).where(predictions.c.id.in_(chunk))
                known.update(pid for pid, owner in conn.execute(query) if owner == model)
            for labels in requests:
                absent = [i for i in labels if i not in known]
                missing.append(absent)
                if not absent:
                    rows += [{"pid": pid, "label": label} for pid, label in labels.items()]
            if rows:
                statement = (
                    update(predictions)
                    .where(predictions.c.id == bindparam("pid"))
                    .values(label=bindparam("label"), labelled_at=at)
                )
                conn.execute(statement, rows)
        return missing

    def prune(self, model: str, *, before: float, keep: int) -> int:
        """Delete ``model``'s predictions older than ``before`` and all but its ``keep`` latest;
        returns how many went."""
        mine = predictions.c.model == model
        with self.engine.begin() as conn:
            gone = conn.execute(delete(predictions).where(mine, predictions.c.created_at < before)).rowcount
            cutoff = conn.scalar(
                select(predictions.c.created_at)
                .where(mine)
                .order_by(predictions.c.created_at.desc())
                .offset(keep)
                .limit(1)
            )
            if cutoff is not None:
                gone += conn.execute(
                    delete(predictions).where(mine, predictions.c.created_at <= cutoff)
                ).rowcount
            conn.execute(delete(snapshots).where(snapshots.c.model == model, snapshots.c.created_at < before))
            conn.execute(delete(events).where(events.c.model == model, events.c.created_at < before))
        return int(gone or 0)

    def labelled(
        self, model: str, *, limit: int, since: float | None = None, version: str | None = None
    ) -> list[Labelled]:
        """The ``limit`` most recently labelled predictions of ``model`` (of one ``version``)."""
        query = select(predictions.c.version, predictions.c.prediction, predictions.c.label).where(
            predictions.c.model == model, predictions.c.labelled_at.is_not(None)
        )
        if version is not None:
            query = query.where(predictions.c.version == version)
        if since is not None:
            query = query.where(predictions.c.labelled_at >= since)
        query = query.order_by(predictions.c.labelled_at.desc(), predictions.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [Labelled(version=v, prediction=p, label=lb) for v, p, lb in conn.execute(query)]

    def live_features(self, model: str, version: str, *, limit: int) -> np.ndarray:
        """The inputs of the ``limit`` latest predictions ``version`` made, [n, F] (NaN: missing)."""
        query = (
            select(predictions.c.features)
            .where(predictions.c.model == model, predictions.c.version == version)
            .order_by(predictions.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [np.frombuffer(f, dtype=np.float32) for (f,) in conn.execute(query)]
        return np.stack(rows).astype(np.float64) if rows else np.empty((0, 0))

    def traffic(self, model: str, *, latest: int = 1000) -> dict[str, Any]:
        # One query per index that covers it: a single SELECT of all four aggregates read every
        # row of the table (1.7 s at a million predictions here).
        mine = predictions.c.model == model
        with self.engine.connect() as conn:
            total, first, last = conn.execute(
                select(
                    func.count(), func.min(predictions.c.created_at), func.max(predictions.c.created_at)
                ).where(mine)
            ).one()
            labelled = conn.scalar(select(func.count()).where(mine, predictions.c.labelled_at.is_not(None)))
            latencies = list(
                conn.scalars(
                    select(predictions.c.latency_ms)
                    .where(predictions.c.model == model)
                    .order_by(predictions.c.created_at.desc())
                    .limit(latest)
                )
            )
            versions: dict[Any, Any] = dict(
                conn.execute(
                    select(predictions.c.version, func.count())
                    .where(predictions.c.model == model)
                    .group_by(predictions.c.version)
                ).all()
            )
        pcts = np.percentile(latencies, [50, 95, 99]).tolist() if latencies else [None] * 3
        return {
            "predictions": int(total),
            "labelled": int(labelled or 0),
            "by_version": {str(k): int(v) for k, v in versions.items()},
            "first_at": first,
            "last_at": last,
            "latency_ms": dict(zip(("p50", "p95", "p99"), pcts, strict=True)) | {"over": len(latencies)},
        }

    def models(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.scalars(select(predictions.c.model).distinct()))

    def count(self, model: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).where(predictions.c.model == model)) or 0)

    # --- history, events, leases --------------------------------------------------------------

    def add_snapshot(
        self, model: str, window: int, metrics: Mapping[str, Any], versions: Sequence[str]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(snapshots).values(
                    model=model,
                    created_at=time.time(),
                    window=window,
                    versions=list(versions),
                    **{k: metrics[k] for k in ("n", "accuracy", "precision", "recall", "f1")},
                )
            )

    def history(self, model: str, *, limit: int) -> list[dict[str, Any]]:
        query = (
            select(snapshots).where(snapshots.c.model == model).order_by(snapshots.c.id.desc()).limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        return rows[::-1]  # oldest first, as a trend reads

    def add_event(self, model: str, kind: str, detail: Mapping[str, Any]) -> dict[str, Any]:
        row = {"model": model, "created_at": time.time(), "kind": kind, "detail": dict(detail)}
        with self.engine.begin() as conn:
            row["id"] = conn.execute(insert(events).values(**row)).inserted_primary_key[0]  # type: ignore[index]
        return row

    def events(self, model: str, *, limit: int) -> list[dict[str, Any]]:
        query = select(events).where(events.c.model == model)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(events.c.id.desc()).limit(limit))]
        return rows[::-1]

    def try_lease(self, model: str, holder: str, seconds: float) -> bool:
        """Take ``model``'s action lease for ``seconds`` unless another holder has it: atomic on
        SQLite and PostgreSQL alike (a conditional UPDATE, else an INSERT the primary key guards)."""
        now = time.time()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(leases)
                .where(leases.c.model == model, leases.c.until < now)
                .values(holder=holder, until=now + seconds)
            ).rowcount
            if taken:
                return True
            if conn.scalar(select(leases.c.model).where(leases.c.model == model)) is not None:
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(leases).values(model=model, holder=holder, until=now + seconds))
        except IntegrityError:
            return False  # another replica inserted it first
        return True
