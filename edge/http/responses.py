"""HTTP answers every router shares: the error shape, JSON through orjson, body limits.

Every error a client can cause is a 4xx with a sentence in ``detail``. Large JSON answers
are serialized once with orjson, not through FastAPI's encoder, which costs several times
more on the 5,000-student picture.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.errors import AuthError, ReportError, StorageError, TapError

SYNC_BODY = 8 * 1024 * 1024  # a push of 2,000 events is about 1.5 MB


class Problem(BaseModel):
    """An error answer: ``detail`` is a sentence saying what is wrong."""

    detail: str


class BodyLimit:
    """Refuse request bodies larger than the limit with 413, before the app sees them.

    A declared Content-Length is checked first; a chunked body (no length) is read up
    to the limit and refused as soon as it passes it, then replayed to the app.
    """

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths or {}  # larger limits for some paths (sync batches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body's size, then pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        too_large = JSONResponse({"detail": f"the request body is larger than {limit} bytes"}, 413)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            size += len(message.get("body", b""))
            if size > limit:
                await too_large(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)


def json_response(content: Any, status: int = 200) -> Response:
    """Answer ``content`` as JSON, serialized once by orjson."""
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error a client can cause with its status and a sentence in ``detail``."""

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": str(exc)}, exc.status, headers=headers)

    @app.exception_handler(TapError)
    async def _tap_error(request: Request, exc: TapError) -> Response:
        return JSONResponse({"detail": str(exc)}, exc.status)

    @app.exception_handler(ReportError)
    async def _report_error(request: Request, exc: ReportError) -> Response:
        return JSONResponse({"detail": str(exc)}, exc.status)

    @app.exception_handler(StorageError)
    async def _storage_error(request: Request, exc: StorageError) -> Response:
        return JSONResponse({"detail": str(exc)}, 503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                where = (error.get("loc") or ("", "?"))[-1]  # pydantic's JSON mode gives no loc
                reason = error.get("ctx", {}).get("error", "broken")
                problems.append(
                    f"the body is not valid JSON ({reason}"
                    + (f" near character {where})" if isinstance(where, int) else ")")
                )
                continue
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {error.get('msg', 'is not valid')}")
        return JSONResponse({"detail": "; ".join(problems) or "the request is not valid"}, 422)
