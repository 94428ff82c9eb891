"""Tornado handlers of the Open311 GeoReport v2 intake API (JSON only).

Every answer is ``application/json`` with ``X-Content-Type-Options: nosniff``: text a reporter
sent (``<script>`` included) comes back as JSON string data, never as a page. Every error is
the Open311 error body ``[{"code": 400, "description": "中文 / English"}]``; bad input is a 4xx,
never a 5xx, and an unexpected failure is logged scrubbed and answered without a traceback.
Bodies are streamed and counted: past ``api.max_body_bytes`` the rest is read and dropped and
the answer is 413, so a huge upload neither fills memory nor breaks the connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import tornado.web
from tornado import httputil

from command_center.api.open311 import (
    RequestFilter,
    created_json,
    definition_json,
    intake_from_args,
    query_requests,
    service_json,
)
from gis.errors import CommandCenterError, DatabaseUnavailable
from gis.loop.intake import IntakeInvalid, validate
from gis.scrub import log_request_error, scrub

log = logging.getLogger(__name__)
access_log = logging.getLogger("command_center.api.access")

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("请求无效", "bad request"),
    403: ("缺少或无效的 api_key", "missing or invalid api_key"),
    404: ("未找到", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
    413: ("请求体过大", "request body too large"),
    415: ("请求体格式不支持：请用表单或 JSON", "unsupported body: send a form or JSON"),
    503: ("数据库暂时不可用，请稍后重试", "the database is unavailable, try again shortly"),
}


CODE = re.compile(r"[A-Za-z0-9_.\-]{1,48}")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Method, path (never the query: it may hold an api_key), status, time."""
    request = handler.request
    access_log.info("%d %s %s %.1fms", handler.get_status(), request.method,
                    scrub(request.path), 1000.0 * request.request_time())


def dump(body: Any) -> bytes:
    """UTF-8 JSON; a lone surrogate a client sent comes back as its ``\\udXXX`` escape."""
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")


class ApiError(tornado.web.HTTPError):
    """An error answer with its own ``中文 / English`` text."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(status)
        self.zh, self.en = scrub(zh), scrub(en)


class BaseHandler(tornado.web.RequestHandler):
    """JSON answers, Open311 error bodies, scrubbed logging, ``?lang=en``."""

    def initialize(self, services: Any) -> None:
        self.services = services

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    @property
    def lang(self) -> str:
        return "en" if self.get_query_argument("lang", "zh") == "en" else "zh"

    def send(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dump(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError) or (
                isinstance(value, CommandCenterError) and value.http_status < 500):
            return  # the caller's mistake, answered with its message: not a server error
        log_request_error(log, self.request.method, self.request.path, typ, value)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, CommandCenterError):
            # A typed error that escaped a handler (the service list reloading while the
            # database is down: DatabaseUnavailable) carries its status; Tornado made it 500.
            status_code = exc.http_status
            self.set_status(status_code)
        if isinstance(exc, ApiError) or (isinstance(exc, CommandCenterError)
                                         and status_code < 500):
            zh, en = exc.zh, exc.en
        else:
            zh, en = MESSAGES.get(status_code, ("服务器内部错误", "internal server error"))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dump([{"code": status_code, "description": f"{zh} / {en}"}]))

    def fail(self, status: int, zh: str | None = None, en: str | None = None) -> NoReturn:
        if zh is None or en is None:
            zh, en = MESSAGES[status]
        raise ApiError(status, zh, en)

    async def blocking(self, fn: Any, *args: Any) -> Any:
        """Run a database call on the reader threads; a dead database becomes 503."""
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.services.readers, fn, *args)
        except (DatabaseUnavailable, sa.exc.OperationalError):
            self.fail(503)

    async def client(self, key: Any) -> Any:
        """The API client holding ``key``; 403 for a missing, unknown or disabled key."""
        if not isinstance(key, str) or not key or len(key) > 200:
            self.fail(403)
        known, client = self.services.keys.cached(key)
        if not known:
            client = await self.blocking(self.services.keys.lookup, key)
        if client is None:
            self.fail(403)
        return client


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        self.fail(404)


class ServicesHandler(BaseHandler):
    async def get(self) -> None:
        services = await self.services.current_services()
        self.send([service_json(s, self.lang) for s in services.values()])


class ServiceDefinitionHandler(BaseHandler):
    async def get(self, code: str) -> None:
        services = await self.services.current_services()
        if code not in services:
            self.fail(404, f"没有该类别：{code[:40]}", f"no such service: {code[:40]}")
        self.send(definition_json(services[code], self.lang))


def _parse_time(value: str | None, name: str, timezone: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} 不是有效的时间（例如 2026-11-20T09:00:00+08:00）",
                       f"{name} is not a valid date-time (e.g. 2026-11-20T09:00:00+08:00)"
                       ) from None
    if not 1900 <= parsed.year <= 2200:
        raise ApiError(400, f"{name} 超出范围（1900–2200 年）",
                       f"{name} is out of range (years 1900-2200)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(timezone))


@tornado.web.stream_request_body
class RequestsHandler(BaseHandler):
    """``GET requests.json`` (search) and ``POST requests.json`` (a new report)."""

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_large = False
        length = self.request.headers.get("Content-Length")
        limit = self.services.settings.api.max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            self._too_large = True

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.services.settings.api.max_body_bytes:
            self._too_large = True
            self._chunks.clear()  # keep reading (and dropping) so the 413 arrives cleanly
        elif not self._too_large:
            self._chunks.append(chunk)

    def _arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {k: v[-1].decode("utf-8", "replace")
                                for k, v in self.request.query_arguments.items()}
        body = b"".join(self._chunks)
        ctype = self.request.headers.get("Content-Type", "")
        if not body:
            return args
        if ctype.split(";")[0].strip().lower() == "application/json":
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                self.fail(400, "JSON 格式错误", "the body is not valid JSON")
            if not isinstance(data, dict):
                self.fail(400, "JSON 请求体必须是对象", "the JSON body must be an object")
            args.update(data)
            return args
        if not ctype or ctype.split(";")[0].strip().lower() in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            fields: dict[str, list[bytes]] = {}
            httputil.parse_body_arguments(ctype or "application/x-www-form-urlencoded", body,
                                          fields, {}, self.request.headers)
            try:
                args.update({k: v[-1].decode("utf-8") for k, v in fields.items()})
            except UnicodeDecodeError:
                self.fail(400, "表单不是有效的 UTF-8", "the form is not valid UTF-8")
            return args
        self.fail(415)
        return args

    async def post(self) -> None:
        if self._too_large:
            limit = self.services.settings.api.max_body_bytes
            self.fail(413, f"请求体过大：最多 {limit} 字节",
                      f"request body too large: at most {limit} bytes")
        args = self._arguments()
        client = await self.client(args.get("api_key"))
        services = await self.services.current_services()
        try:
            intake = intake_from_args(args, client.channel, client.name, client.id)
            intake = validate(intake, services, self.services.limits)
            result = await self.services.writer.submit(intake)
        except IntakeInvalid as exc:
            raise ApiError(400, exc.zh, exc.en) from None
        except DatabaseUnavailable:
            self.fail(503)
        self.send([created_json(result, self.services.sla.timezone, self.lang)], 201)

    async def get(self) -> None:
        if self._too_large:
            self.fail(413)
        services = self.services
        if services.settings.api.read_requires_key:
            await self.client(self.get_query_argument("api_key", None))
        tz = services.sla.timezone
        ids = self.get_query_argument("service_request_id", None)
        codes = self.get_query_argument("service_code", None)
        status = self.get_query_argument("status", None)
        states = set((status or "").split(",")) - {""}
        if not states <= {"open", "closed"}:
            self.fail(400, "status 只能是 open 或 closed", "status must be open or closed")
        filt = RequestFilter(
            ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
            service_codes=[c.strip() for c in codes.split(",") if c.strip()] if codes else None,
            start=_parse_time(self.get_query_argument("start_date", None), "start_date", tz),
            end=_parse_time(self.get_query_argument("end_date", None), "end_date", tz),
            status=states.pop() if len(states) == 1 else None)
        if filt.start and filt.end and filt.start > filt.end:
            self.fail(400, "start_date 晚于 end_date", "start_date is after end_date")
        self.send(await self.blocking(services.requests, filt, self.lang))


class RequestHandler(BaseHandler):
    """``GET requests/{id}.json``: one request, as a one-element array."""

    async def get(self, code: str) -> None:
        services = self.services
        if not CODE.fullmatch(code):
            self.fail(404, "没有该请求", "no such service request")
        if services.settings.api.read_requires_key:
            await self.client(self.get_query_argument("api_key", None))
        found = await self.blocking(services.requests, RequestFilter(ids=[code]), self.lang)
        if not found:
            self.fail(404, f"没有该请求：{code[:60]}", f"no such service request: {code[:60]}")
        self.send(found)


class OpenApiHandler(BaseHandler):
    def get(self) -> None:
        self.send(self.services.openapi)


class HealthHandler(BaseHandler):
    def get(self) -> None:
        stats = self.services.writer.stats
        sweeper = self.services.sweeper
        self.send({"ok": True, "batches": stats.batches, "written": stats.written,
                   "largest_batch": stats.largest_batch, "sweeps": sweeper.runs})


def routes(services: Any) -> list[tuple[str, type[BaseHandler], dict[str, Any]]]:
    """The URL table under ``/open311/v2/``."""
    args = {"services": services}
    base = "/open311/v2"
    code = r"([^/]{1,100})"
    return [(rf"{base}/services\.json", ServicesHandler, args),
            (rf"{base}/services/{code}\.json", ServiceDefinitionHandler, args),
            (rf"{base}/requests\.json", RequestsHandler, args),
            (rf"{base}/requests/{code}\.json", RequestHandler, args),
            (rf"{base}/openapi\.json", OpenApiHandler, args),
            (rf"{base}/health", HealthHandler, args)]


def make_app(services: Any) -> tornado.web.Application:
    """The tornado application of the intake API."""
    return tornado.web.Application(
        routes(services), log_function=log_request, default_handler_class=NotFoundHandler,
        default_handler_args={"services": services}, compress_response=False, xheaders=False)


__all__ = ["ApiError", "make_app", "query_requests"]
