"""Monitoring routes: labelled feedback, windowed metrics, drift, history, events, a check that
acts, and ``/ws/metrics`` (live metrics, drift, events and traffic for connected clients).

    POST /v1/monitoring/{model}/feedback   {"prediction_id": "...", "label": "..."} or a list
    GET  /v1/monitoring/{model}/report     metrics over the window, traffic, drift, latest events
    GET  /v1/monitoring/{model}/history    metric snapshots, oldest first
    GET  /v1/monitoring/{model}/events     degradation, drift and the actions taken
    GET  /v1/monitoring/{model}/drift      per-column tests against the export's reference sample
    POST /v1/monitoring/{model}/check      judge metrics and drift now, acting as the policy says
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from modelserve.families import family_of
from modelserve.monitor.service import Monitor
from modelserve.repository import ConfigValidationError, check_model_name
from modelserve.serving.catalog import Served
from modelserve.serving.errors import NotFoundError, PayloadTooLargeError, UnprocessableError
from modelserve.serving.params import ModelName, unicode_text
from modelserve.serving.services import Services, Svc

router = APIRouter(prefix="/v1/monitoring")
ws_router = APIRouter()
MAX_ID_CHARS = 64
WS_SEND_TIMEOUT_S = 10.0
_METRICS = ("accuracy", "precision", "recall", "f1")
Row = dict[str, Any]


def model_name(model: ModelName) -> str:
    """The repository's rule for model names (a folder name: no '..', no NUL): anything else is a
    422 naming the rule, not an empty history of a model that cannot exist."""
    try:
        return check_model_name(model)
    except ConfigValidationError as exc:
        raise UnprocessableError(str(exc)) from exc


MonitoredName = Annotated[str, Depends(model_name)]


class FeedbackResponse(BaseModel):
    model: str
    accepted: int  # labels stored
    version: str | None  # the served version, whose labelled window was judged after them
    metrics: Row | None  # weighted accuracy/precision/recall/f1 and n over that window
    degraded: bool
    action: Row | None = None  # what degradation triggered, as the policy says
    reason: str | None = None  # why nothing was judged (too few labels)


class ReportResponse(BaseModel):
    model: str
    served_version: str | None
    window: Row  # every version's labelled predictions: size, metrics, by_version
    served_window: Row  # the served version's alone
    thresholds: Row
    traffic: Row
    drift: Row
    f1_trend: list[float | None]
    average: dict[str, float] | None  # each metric's mean over the recorded snapshots
    events: list[Row]
    actions: dict[str, str]
    jobs_running: bool
    dropped_records: int


class HistoryResponse(BaseModel):
    model: str
    snapshots: list[Row]


class EventsResponse(BaseModel):
    model: str
    events: list[Row]


class DriftResponse(BaseModel, extra="allow"):
    model: str
    status: str  # ok / drifted / insufficient / unavailable / unknown
    version: str | None = None


class CheckResponse(BaseModel):
    model: str
    quality: Row
    drift: Row


def _is_unicode(value: str) -> bool:
    """False for a lone surrogate: valid in JSON, not storable as text (the text routes' check)."""
    try:
        unicode_text(value)
    except ValueError:
        return False
    return True


def parse_feedback(body: Any, classes: list[str], max_items: int) -> dict[str, str]:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise UnprocessableError("body must be a feedback object or a non-empty list of them")
    if len(items) > max_items:
        raise PayloadTooLargeError(f"{len(items)} feedback items in one request; the limit is {max_items}")
    labels: dict[str, str] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UnprocessableError(f"item {i}: expected an object with prediction_id and label")
        extra = sorted(set(item) - {"prediction_id", "label"})
        if extra:
            raise UnprocessableError(f"item {i}: unknown field '{extra[0]}'")
        pid, label = item.get("prediction_id"), item.get("label")
        if not isinstance(pid, str) or not pid or len(pid) > MAX_ID_CHARS or not _is_unicode(pid):
            raise UnprocessableError(
                f"item {i}: prediction_id must be a string of 1-{MAX_ID_CHARS} characters"
            )
        if not isinstance(label, str) or not _is_unicode(label):
            raise UnprocessableError(f"item {i}: label must be a string (one of the model's classes)")
        if classes and label not in classes:
            raise UnprocessableError(f"item {i}: label '{label}' is not a class of the model ({classes})")
        if pid in labels:
            raise UnprocessableError(f"item {i}: prediction_id '{pid}' given twice")
        labels[pid] = label
    return labels


@router.post(
    "/{model}/feedback",
    response_model=FeedbackResponse,
    summary="Labels for earlier predictions; judges the window after",
)
async def feedback(svc: Svc, model: MonitoredName, body: Any = Body(...)) -> FeedbackResponse:
    monitor = svc.monitoring()
    labels = parse_feedback(body, await _feedback_classes(svc, model), svc.settings.max_records)
    missing, verdict = await monitor.feedback(model, labels)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise NotFoundError(
            f"{len(missing)} prediction id(s) of '{model}' not found (none labelled): {shown}"
        )
    return FeedbackResponse(model=model, accepted=len(labels), **(verdict or {}))


async def _feedback_classes(svc: Services, model: str) -> list[str]:
    """The labels feedback may give the model's predictions, as its family says (empty: any)."""
    version = await svc.catalog.served_version(model)
    served = Served(name=model, version=version, contract=svc.catalog.contract(model, version))
    family = family_of(served.contract)
    if family is None or family.feedback_classes is None:
        why = family.monitoring if family is not None else "raw tensors only"
        raise NotFoundError(f"model '{model}' is {served.contract.label}: it records no predictions ({why})")
    return list(family.feedback_classes(served, svc.catalog))


async def _listed(svc: Services, monitor: Monitor, model: str) -> None:
    """History and events exist for a model of the repository or one with recorded predictions
    (it may have been retired since); any other name is a 404, not an empty list."""
    if svc.catalog.repository.has_model(model) or (await monitor.traffic(model))["predictions"]:
        return
    raise NotFoundError(f"model '{model}' is not in the repository and has no recorded predictions")


async def _known(monitor: Monitor, model: str) -> dict[str, Any]:
    traffic = await monitor.traffic(model)
    if not traffic["predictions"]:
        raise NotFoundError(f"no predictions of '{model}' recorded")
    return traffic


@router.get(
    "/{model}/report",
    response_model=ReportResponse,
    summary="Metrics over the window, traffic, drift and latest events",
)
async def report(
    svc: Svc,
    model: MonitoredName,
    window: int | None = Query(default=None, ge=1, le=100_000),
    since_s: float | None = Query(default=None, gt=0, description="only labels of the last N seconds"),
) -> ReportResponse:
    monitor = svc.monitoring()
    await monitor.flush()
    traffic = await _known(monitor, model)
    policy = monitor.policy.for_model(model)
    size = window or policy.window
    served = await monitor.served_version(model)
    history = await monitor.history(model, limit=50)
    return ReportResponse(
        model=model,
        served_version=served,
        window=await monitor.window(model, size=size, since_s=since_s),
        served_window=await monitor.window(model, size=size, version=served, since_s=since_s),
        thresholds=policy.model_dump(mode="json", include={"f1_threshold", "min_labelled", "window"}),
        traffic=traffic,
        drift=await monitor.drift(model),
        f1_trend=[h["f1"] for h in history],
        average={k: sum(h[k] for h in history) / len(history) for k in _METRICS} if history else None,
        events=await monitor.events(model, limit=10),
        actions={"on_degradation": policy.on_degradation, "on_drift": policy.on_drift},
        jobs_running=model in monitor.jobs_running(),
        dropped_records=monitor.dropped,
    )


@router.get("/{model}/history", response_model=HistoryResponse, summary="Metric snapshots, oldest first")
async def history(
    svc: Svc, model: MonitoredName, limit: int = Query(default=100, ge=1, le=10_000)
) -> HistoryResponse:
    monitor = svc.monitoring()
    await _listed(svc, monitor, model)
    return HistoryResponse(model=model, snapshots=await monitor.history(model, limit=limit))


@router.get(
    "/{model}/events",
    response_model=EventsResponse,
    summary="Degradation, drift and what was done about them",
)
async def events(
    svc: Svc, model: MonitoredName, limit: int = Query(default=100, ge=1, le=10_000)
) -> EventsResponse:
    monitor = svc.monitoring()
    await _listed(svc, monitor, model)
    return EventsResponse(model=model, events=await monitor.events(model, limit=limit))


@router.get(
    "/{model}/drift",
    response_model=DriftResponse,
    summary="Per-column drift tests against the export's reference sample",
)
async def drift(
    svc: Svc,
    model: MonitoredName,
    version: str | None = Query(default=None, pattern=r"^\d{1,9}$"),
    window: int | None = Query(default=None, ge=1, le=100_000),
) -> DriftResponse:
    monitor = svc.monitoring()
    await _known(monitor, model)
    if version is not None:
        version = str(int(version))  # "01" is version 1
        if not svc.catalog.repository.has_version(model, version):
            raise NotFoundError(f"'{model}' has no version {version} in the repository")
    return DriftResponse(model=model, **await monitor.drift(model, version=version, window=window))


@router.post(
    "/{model}/check",
    response_model=CheckResponse,
    summary="Judge metrics and drift now; act as the policy says",
)
async def check(svc: Svc, model: MonitoredName) -> CheckResponse:
    monitor = svc.monitoring()
    await monitor.flush()
    await _known(monitor, model)
    return CheckResponse(**await monitor.check(model))


@ws_router.websocket("/ws/metrics")
async def live(websocket: WebSocket, svc: Svc, model: str | None = None) -> None:
    """Streams ``{"type": "metrics"|"drift"|"event"|"traffic", "model": ..., ...}`` messages.
    A browser cannot set headers on a WebSocket: the API key may come as ``?api_key=`` (checked,
    and redacted from the access log, by ``api.auth``)."""
    monitor = svc.monitor
    if monitor is None:
        await websocket.close(code=1011, reason="monitoring is off")
        return
    model = model or None  # ?model= (empty) means every model, as no parameter does
    await websocket.accept()
    sub = monitor.hub.subscribe(model)
    await websocket.send_json({"type": "hello", "model": model, "subscribers": len(monitor.hub)})

    async def send() -> None:
        # A client that stops reading: once the socket's buffers are full a send waits; past
        # WS_SEND_TIMEOUT_S it is closed as one that fell behind (the hub drops it past 256).
        with contextlib.suppress(TimeoutError):
            while (message := await sub.next()) is not None:
                await asyncio.wait_for(websocket.send_json(message), WS_SEND_TIMEOUT_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                websocket.close(code=1013, reason="too slow: fell behind the updates"), 1.0
            )

    async def receive() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass  # clients have nothing to say; reading is how a disconnect shows

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        monitor.hub.unsubscribe(sub)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, Exception):
                await task
