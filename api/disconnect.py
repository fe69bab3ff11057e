"""A request whose client has gone is cancelled, as a plain ASGI middleware.

uvicorn tells an application that its client left only through ``receive()``; a route that has
read its body never calls it again, so without this a heavy request ran to its end for nobody
(keywords of a 10 KB text: seconds of Triton CPU after the client left). Once the body is read,
a watcher waits on ``receive()``; ``http.disconnect`` before the answer has started cancels the
route's task, and with it the Triton calls it is waiting on (parts not yet sent are never sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()
        answering = gone = False

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read.set()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal answering
            answering = True  # from here the answer is on its way: let it finish
            await send(message)

        route = asyncio.ensure_future(self.app(scope, tracked_receive, tracked_send))

        async def watch() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            nonlocal gone
            if not answering and not route.done():
                gone = True
                logger.info("%s %s: client disconnected; cancelled", scope["method"], scope["path"])
                route.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await route
        except asyncio.CancelledError:
            if not gone:
                raise  # this task itself was cancelled (shutdown), not the route for a gone client
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
