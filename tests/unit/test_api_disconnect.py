"""CancelOnDisconnect: a route whose client left is cancelled; one whose answer started, or whose
client stays, runs to its end."""

from __future__ import annotations

import asyncio

from modelserve.api.disconnect import CancelOnDisconnect

SCOPE = {"type": "http", "method": "POST", "path": "/v1/text/m/keywords"}


def _client(leaves_after_s: float | None):  # type: ignore[no-untyped-def]
    """uvicorn's receive: the body, then (only once the client leaves) http.disconnect."""
    sent = False

    async def receive():  # type: ignore[no-untyped-def]
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        if leaves_after_s is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(leaves_after_s)
        return {"type": "http.disconnect"}

    return receive


def _route(log: list[str], work_s: float):  # type: ignore[no-untyped-def]
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await receive()
        try:
            await asyncio.sleep(work_s)  # a Triton call, or parts of one
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        log.append("finished")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _sent(message):  # type: ignore[no-untyped-def]
    pass


def test_a_route_whose_client_left_is_cancelled() -> None:
    log: list[str] = []
    asyncio.run(CancelOnDisconnect(_route(log, 30))(SCOPE, _client(0.05), _sent))
    assert log == ["cancelled"]


def test_a_route_whose_client_stays_finishes() -> None:
    log: list[str] = []
    asyncio.run(CancelOnDisconnect(_route(log, 0.05))(SCOPE, _client(None), _sent))
    assert log == ["finished"]


def test_an_answer_already_started_is_not_cut() -> None:
    log: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.2)  # the client leaves now, while the body is on its way
        log.append("finished")
        await send({"type": "http.response.body", "body": b"ok"})

    asyncio.run(CancelOnDisconnect(app)(SCOPE, _client(0.05), _sent))
    assert log == ["finished"]


def test_shutdown_cancelling_the_server_task_still_cancels() -> None:
    """The middleware swallows only the cancellation it caused."""
    log: list[str] = []

    async def main() -> bool:
        task = asyncio.ensure_future(CancelOnDisconnect(_route(log, 30))(SCOPE, _client(None), _sent))
        await asyncio.sleep(0.05)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(main()) and log == ["cancelled"]
