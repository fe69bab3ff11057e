"""Promote, roll back, retire and reconcile model versions across Triton replicas (explicit model
control is per server, so every step reaches every replica).

A promotion never lets a broken version answer, and never drops a request:

1. load the new version *beside* the served one on every replica (Triton's load API with a
   version-policy override; the served version keeps answering throughout);
2. verify it on every replica: ready, a warm-up, then a parity sample (``modelserve.ops.verify``);
3. switch once: ``lifecycle.json`` names it the served version (the API follows within its TTL);
4. after a grace period, unload the old one on every replica unless ``keep_previous``, and persist
   the version policy in config.pbtxt so a restarted replica serves the same.

A failure on any replica before step 3 restores every replica's previous version set and raises
``LifecycleError`` naming the replica. ``reconcile`` brings replicas that joined late, restarted or
drifted to the persisted version set.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from modelserve.client import ClientError, ModelNotFoundError, TritonClient
from modelserve.ops.errors import LifecycleError
from modelserve.ops.verify import verify
from modelserve.repository import LifecycleState, ModelRepository
from modelserve.repository.config import config_to_json

logger = logging.getLogger(__name__)
Fleet = TritonClient | Sequence[TritonClient]
Repo = ModelRepository | Path


@dataclass(frozen=True, kw_only=True)
class Outcome:
    name: str
    action: str
    version: int
    previous: list[int]
    loaded: list[int]  # versions loaded afterwards (on the first replica; ``replicas`` has each)
    max_abs_diff: float = 0.0
    replicas: dict[str, list[int]] = field(default_factory=dict)


def _fleet(clients: Fleet) -> list[TritonClient]:
    fleet = [clients] if isinstance(clients, TritonClient) else list(clients)
    if not fleet:
        raise LifecycleError("no Triton server given")
    return fleet


def ready_versions(client: TritonClient, name: str) -> list[int]:
    return sorted(
        int(e.version)
        for e in client.repository_index()
        if e.name == name and e.state == "READY" and e.version.isdigit()
    )


def _load(
    client: TritonClient,
    name: str,
    versions: set[int],
    repository: ModelRepository | None = None,
    *,
    from_repository: bool = False,
) -> None:
    """Load exactly ``versions``, keeping the replica's live config, or the repository's where it
    never loaded the model or ``from_repository`` (reconcile: the files are the truth there)."""
    config = None
    if not from_repository:
        with contextlib.suppress(ModelNotFoundError):
            config = client.config(name)
    if config is None:
        if repository is None:
            raise ModelNotFoundError(f"{name} is not loaded on {client.url} and no repository was given")
        config = repository.config(name)
    config.version_policy.Clear()
    config.version_policy.specific.versions.extend(sorted(versions))
    client.load(name, config=config_to_json(config))


def _restore(clients: Sequence[TritonClient], name: str, before: Sequence[list[int]]) -> None:
    for client, versions in zip(clients, before, strict=False):
        try:
            if ready_versions(client, name) != versions:
                _load(client, name, set(versions))
        except ClientError as exc:  # report the first failure, not this one
            logger.warning("could not restore %s on %s to %s: %s", name, client.url, versions, exc)


def promote(
    clients: Fleet,
    repository: Repo,
    name: str,
    version: int,
    *,
    action: str = "promote",
    keep_previous: bool = False,
    grace_s: float = 2.0,
    samples: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    fleet = _fleet(clients)
    repo = ModelRepository.of(repository)
    if not repo.has_version(name, version):
        raise LifecycleError(f"{name} has no version {version} in {repo.root}")
    state = repo.lifecycle(name)
    if version in state.retired:
        raise LifecycleError(f"{name} v{version} is retired")
    before: list[list[int]] = []
    for client in fleet:
        current = ready_versions(client, name)
        if not current:
            raise LifecycleError(
                f"{name} is not loaded on {client.url}; load it first (modelserve models load)"
            )
        before.append(current)
    served = state.served if state.served in before[0] else before[0][-1]
    if version == served:
        raise LifecycleError(
            f"{name} v{version} is already the served version (to bring replicas back to it: "
            "modelserve models reconcile)"
        )
    if state.served != served:
        # Pin what serves now: without a served version the API takes the newest loaded one, and
        # would start sending requests to the new version as soon as one replica had loaded it.
        state.served = served
        repo.save_lifecycle(name, state)
    worst = 0.0
    for i, client in enumerate(fleet):
        try:
            _load(client, name, {*before[i], version})
            if not client.is_model_ready(name, str(version)):
                raise LifecycleError(f"{name} v{version} loaded but is not ready")
            worst = max(worst, verify(client, repo, name, version, samples=samples))
        except (ClientError, LifecycleError, OSError, ValueError) as exc:
            _restore(fleet[: i + 1], name, before)
            where = f" on {client.url}" if len(fleet) > 1 else ""
            # Triton appends a Python backend's traceback ("At: ..."): it stays in the server log.
            reason = str(exc).split("\nAt:")[0].strip()
            raise LifecycleError(
                f"{name} v{version} was not {action}d: {reason}{where}; still serving v{served}"
            ) from exc
    # The versions served before, most recent last, each once and never the one serving now.
    state.previous = [v for v in state.previous if v not in (version, served)] + [served]
    state.served = version
    state.record(action, version, replaced=served, max_abs_diff=worst, replicas=len(fleet))
    repo.save_lifecycle(name, state)  # the switch: the API follows within its cache TTL
    sleep(grace_s)  # calls that resolved the old version finish before it goes
    final = {version, served} if keep_previous else {version}
    for client, current in zip(fleet, before, strict=True):
        if final != {*current, version}:
            _load(client, name, final)
    repo.persist_versions(name, final)
    return _outcome(fleet, name, action, version, [served], worst)


def _outcome(
    fleet: Sequence[TritonClient],
    name: str,
    action: str,
    version: int,
    previous: list[int],
    worst: float = 0.0,
) -> Outcome:
    replicas = {client.url: ready_versions(client, name) for client in fleet}
    first = next(iter(replicas.values()))
    return Outcome(
        name=name,
        action=action,
        version=version,
        previous=previous,
        loaded=first,
        max_abs_diff=worst,
        replicas=replicas,
    )


def rollback(
    clients: Fleet,
    repository: Repo,
    name: str,
    version: int | None = None,
    *,
    keep_previous: bool = False,
    grace_s: float = 2.0,
) -> Outcome:
    """Back to ``version``, or to the version served before the current one."""
    repo = ModelRepository.of(repository)
    state = repo.lifecycle(name)
    if version is None:
        earlier = [v for v in state.previous if v != state.served and v not in state.retired]
        if not earlier:
            raise LifecycleError(f"{name} has no earlier served version to roll back to")
        version = earlier[-1]
    return promote(
        clients, repo, name, version, action="rollback", keep_previous=keep_previous, grace_s=grace_s
    )


def retire(clients: Fleet, repository: Repo, name: str, version: int) -> Outcome:
    """Unload a version that is not the served one (on every replica) and keep it from being
    promoted again."""
    fleet = _fleet(clients)
    repo = ModelRepository.of(repository)
    if not repo.has_version(name, version):
        raise LifecycleError(f"{name} has no version {version} in {repo.root}")
    state = repo.lifecycle(name)
    first = ready_versions(fleet[0], name)
    served = state.served if state.served in first else (first[-1] if first else None)
    if version == served:
        raise LifecycleError(f"{name} v{version} is the served version; promote another one first")
    for client in fleet:
        current = ready_versions(client, name)
        if version in current:
            _load(client, name, set(current) - {version})
    persisted = repo.persisted_versions(name)
    if version in persisted:
        repo.persist_versions(name, persisted - {version})
    if version not in state.retired:
        state.retired.append(version)
    state.record("retire", version)
    repo.save_lifecycle(name, state)
    return _outcome(fleet, name, "retire", version, [])


def reconcile(clients: Fleet, repository: Repo, name: str, *, samples: int = 4) -> Outcome:
    """Every replica to the persisted version set (the served version, and the kept one), each
    newly loaded version verified. For a replica that joined late, restarted, or drifted."""
    fleet = _fleet(clients)
    repo = ModelRepository.of(repository)
    state: LifecycleState = repo.lifecycle(name)
    wanted = repo.persisted_versions(name) or ({state.served} if state.served is not None else set())
    wanted -= set(state.retired)
    if not wanted:
        raise LifecycleError(f"{name} has no served version recorded (lifecycle.json, config.pbtxt)")
    served = state.served if state.served in wanted else max(wanted)
    worst = 0.0
    changed = 0
    for client in fleet:
        current = set(ready_versions(client, name))
        if current == wanted:
            continue
        _load(client, name, wanted, repo, from_repository=True)
        for version in sorted(wanted - current):
            if not client.is_model_ready(name, str(version)):
                raise LifecycleError(f"{name} v{version} did not become ready on {client.url}")
            worst = max(worst, verify(client, repo, name, version, samples=samples))
        changed += 1
    if changed:  # logged, not recorded: reconcile changes servers, never files (read-only mounts)
        logger.info("reconcile %s: %d replica(s) brought to %s", name, changed, sorted(wanted))
    return _outcome(fleet, name, "reconcile", served, [], worst)


def served_version(repository: Repo, name: str, ready: Sequence[int]) -> int:
    """The version the API serves: the recorded one where it is among ``ready``, else the newest."""
    served = ModelRepository.of(repository).served_version(name)
    return served if served is not None and served in ready else ready[-1]


def apply_config(
    client: TritonClient, repository: Repo, name: str, config: mc.ModelConfig, *, samples: int = 4
) -> Outcome:
    """A new serving config (instances, batching, threads; same files) for the model's served
    version: reload it on the server with the config as override (Triton keeps answering with the
    old instances until the new ones are ready), verify it (ready, warm-up, parity vs ORT), and only
    then write it as config.pbtxt. On a failure the previous live config is loaded again and
    ``LifecycleError`` says so; the file is untouched."""
    repo = ModelRepository.of(repository)
    path = repo.config_path(name)
    if not path.is_file():
        raise LifecycleError(f"{path} does not exist: apply needs the repository that holds {name}")
    previous = client.config(name)
    versions = ready_versions(client, name)
    if not versions:
        raise LifecycleError(f"{name} is not loaded on {client.url}; load it first (modelserve models load)")
    served = served_version(repo, name, versions)
    try:
        client.load(name, config=config_to_json(config))
        if not client.is_model_ready(name, str(served)):
            raise LifecycleError(f"{name} v{served} loaded with the new config but is not ready")
        worst = verify(client, repo, name, served, samples=samples)
    except (ClientError, LifecycleError, OSError, ValueError) as exc:
        with contextlib.suppress(ClientError):
            client.load(name, config=config_to_json(previous))
        raise LifecycleError(
            f"{name}'s new config was not applied: {exc}; the previous config serves"
        ) from exc
    repo.write_config(name, config)
    return _outcome([client], name, "apply-config", served, [served], worst)


def reconcile_all(clients: Fleet, repository: Repo, *, samples: int = 4) -> list[Outcome]:
    """``reconcile`` for every model of the repository with a served version on record; the others
    (never promoted) serve whatever their config loads at start-up and have nothing to restore."""
    fleet = _fleet(clients)
    repo = ModelRepository.of(repository)
    names = [n for n in repo.names() if repo.config_path(n).is_file()]
    recorded = [n for n in names if repo.persisted_versions(n) or repo.lifecycle(n).served]
    return [reconcile(fleet, repo, n, samples=samples) for n in recorded]


__all__ = [
    "LifecycleState",
    "Outcome",
    "apply_config",
    "promote",
    "ready_versions",
    "reconcile",
    "reconcile_all",
    "retire",
    "rollback",
    "verify",
]
