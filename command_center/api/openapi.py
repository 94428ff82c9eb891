"""The OpenAPI 3.0 description of the intake API, served at ``/open311/v2/openapi.json``.

Written by hand next to the handlers and held true to them by a fuzz test
(``tests/test_open311_api.py``: schemathesis sends what this document allows and checks every
answer against it). Limits (body size, description length) come from the settings.
"""

from __future__ import annotations

from typing import Any

from command_center.api.open311 import DEFAULT_DAYS, MAX_RESULTS
from gis.catalog import EVENT_PRIORITIES
from gis.loop.intake import TEXT_LIMITS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid input (Open311 error body) / 请求无效",
            403: "Missing or invalid api_key / api_key 无效",
            404: "Not found / 未找到", 413: "Body too large / 请求体过大",
            415: "Body neither form nor JSON / 请求体格式不支持",
            503: "Database unavailable / 数据库不可用"}
    return {str(c): _json(_ref("Errors"), text[c]) for c in codes}


_LANG = {"name": "lang", "in": "query", "required": False,
         "description": "Language of names and notes: zh (default) or en.",
         "schema": {"type": "string", "enum": ["zh", "en"]}}
_JURISDICTION = {"name": "jurisdiction_id", "in": "query", "required": False,
                 "description": "Accepted and ignored (one jurisdiction per server).",
                 "schema": {"type": "string"}}
_KEY_QUERY = {"name": "api_key", "in": "query", "required": False,
              "description": "Needed unless api.read_requires_key is false.",
              "schema": {"type": "string"}}
_NULLABLE_STR = {"type": "string", "nullable": True}
_DATETIME = {"type": "string", "format": "date-time"}


def _schemas(description_max: int) -> dict[str, Any]:
    request_props: dict[str, Any] = {
        "service_request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": {"type": "string"},
        "service_name": {"type": "string"}, "service_code": {"type": "string"},
        "description": {"type": "string"}, "agency_responsible": _NULLABLE_STR,
        "service_notice": _NULLABLE_STR, "requested_datetime": _DATETIME,
        "updated_datetime": _DATETIME,
        "expected_datetime": {**_DATETIME, "nullable": True},
        "address": _NULLABLE_STR, "address_id": _NULLABLE_STR, "zipcode": _NULLABLE_STR,
        "lat": {"type": "number"}, "long": {"type": "number"}, "media_url": _NULLABLE_STR,
        "channel": {"type": "string", "description": "Extension: the intake channel."},
        "grid": {**_NULLABLE_STR, "description": "Extension: the grid code."},
        "duplicate_of": {**_NULLABLE_STR,
                         "description": "Extension: the request this one was merged into."}}
    return {
        "Errors": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["code", "description"],
            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}},
        "Service": {"type": "object", "required": [
            "service_code", "service_name", "description", "metadata", "type", "keywords",
            "group"], "properties": {
            "service_code": {"type": "string"}, "service_name": {"type": "string"},
            "description": {"type": "string"}, "metadata": {"type": "boolean"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": {"type": "string"}, "group": {"type": "string"}}},
        "ServiceDefinition": {"type": "object", "required": ["service_code", "attributes"],
                              "properties": {"service_code": {"type": "string"},
                                             "attributes": {"type": "array",
                                                            "items": _ref("Attribute")}}},
        "Attribute": {"type": "object", "required": [
            "variable", "code", "datatype", "required", "order", "description", "values"],
            "properties": {
            "variable": {"type": "boolean"}, "code": {"type": "string"},
            "datatype": {"type": "string", "enum": [
                "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]},
            "required": {"type": "boolean"}, "datatype_description": {"type": "string"},
            "order": {"type": "integer"}, "description": {"type": "string"},
            "values": {"type": "array", "items": {
                "type": "object", "required": ["key", "name"],
                "properties": {"key": {"type": "string"}, "name": {"type": "string"}}}}}},
        "ServiceRequest": {"type": "object", "required": list(request_props),
                           "properties": request_props},
        "Created": {"type": "object", "required": [
            "service_request_id", "service_notice", "account_id", "expected_datetime",
            "grid", "duplicates"], "properties": {
            "service_request_id": {"type": "string"}, "service_notice": {"type": "string"},
            "account_id": _NULLABLE_STR, "expected_datetime": _DATETIME,
            "grid": _NULLABLE_STR,
            "duplicates": {"type": "array", "description": "Extension: open requests of the "
                           "same service nearby, offered for merging.", "items": {
                "type": "object", "required": ["service_request_id", "distance_m", "status",
                                               "requested_datetime"],
                "properties": {"service_request_id": {"type": "string"},
                               "distance_m": {"type": "number"},
                               "status": {"type": "string", "enum": ["open", "closed"]},
                               "requested_datetime": _DATETIME}}}}},
        "NewRequest": {"type": "object", "required": ["api_key", "service_code", "lat", "long"],
                       "properties": {
            "api_key": {"type": "string"}, "service_code": {"type": "string"},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "address_string": {"type": "string", "maxLength": TEXT_LIMITS["address"]},
            "description": {"type": "string", "maxLength": description_max},
            "media_url": {"type": "string", "maxLength": TEXT_LIMITS["media_url"]},
            "email": {"type": "string", "maxLength": TEXT_LIMITS["reporter_email"]},
            "first_name": {"type": "string", "maxLength": 30},
            "last_name": {"type": "string", "maxLength": 30},
            "phone": {"type": "string", "maxLength": TEXT_LIMITS["reporter_phone"]},
            "device_id": {"type": "string"}, "account_id": {"type": "string"},
            "jurisdiction_id": {"type": "string"},
            "attribute[priority]": {"type": "string", "enum": list(EVENT_PRIORITIES)},
            "attribute[title]": {"type": "string", "maxLength": TEXT_LIMITS["title"]},
            "attribute[external_id]": {"type": "string",
                                       "maxLength": TEXT_LIMITS["external_id"]}}},
    }


def openapi_document(max_body_bytes: int, description_max: int) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the ``/open311/v2`` API."""
    code = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "事件受理接口 / Event intake API (Open311 GeoReport v2)",
                 "version": "2.0",
                 "description": "Open311 GeoReport v2 (JSON) for every intake channel. "
                 f"Bodies larger than {max_body_bytes} bytes get 413."},
        "servers": [{"url": "/open311/v2"}],
        "paths": {
            "/services.json": {"get": {
                "summary": "Service list (event categories) / 事件类别",
                "parameters": [_LANG, _JURISDICTION],
                "responses": {"200": _json({"type": "array", "items": _ref("Service")},
                                           "The services"), **_errors(503)}}},
            "/services/{code}.json": {"get": {
                "summary": "Service definition / 类别属性",
                "parameters": [code, _LANG, _JURISDICTION],
                "responses": {"200": _json(_ref("ServiceDefinition"), "The definition"),
                              **_errors(404, 503)}}},
            "/requests.json": {
                "get": {
                    "summary": f"Search service requests (default: last {DEFAULT_DAYS} "
                               f"days, at most {MAX_RESULTS})",
                    "parameters": [
                        _KEY_QUERY, _LANG, _JURISDICTION,
                        {"name": "service_request_id", "in": "query", "required": False,
                         "description": "Comma-separated ids; other filters are then "
                         "ignored.", "schema": {"type": "string"}},
                        {"name": "service_code", "in": "query", "required": False,
                         "description": "Comma-separated service codes.",
                         "schema": {"type": "string"}},
                        {"name": "start_date", "in": "query", "required": False,
                         "schema": _DATETIME},
                        {"name": "end_date", "in": "query", "required": False,
                         "schema": _DATETIME},
                        {"name": "status", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": ["open", "closed",
                                                              "open,closed"]}}],
                    "responses": {"200": _json({"type": "array", "maxItems": MAX_RESULTS,
                                                "items": _ref("ServiceRequest")},
                                               "Matching requests, newest first"),
                                  **_errors(400, 403, 503)}},
                "post": {
                    "summary": "Submit a service request / 上报事件",
                    "parameters": [_LANG],
                    "requestBody": {"required": True, "content": {
                        "application/x-www-form-urlencoded": {"schema": _ref("NewRequest")},
                        "application/json": {"schema": _ref("NewRequest")}}},
                    "responses": {"201": _json({"type": "array", "minItems": 1, "maxItems": 1,
                                                "items": _ref("Created")}, "Created"),
                                  **_errors(400, 403, 413, 415, 503)}}},
            "/requests/{code}.json": {"get": {
                "summary": "One service request / 单个事件",
                "parameters": [code, _KEY_QUERY, _LANG, _JURISDICTION],
                "responses": {"200": _json({"type": "array", "minItems": 1, "maxItems": 1,
                                            "items": _ref("ServiceRequest")}, "The request"),
                              **_errors(403, 404, 503)}}},
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")}}},
            "/health": {"get": {
                "summary": "Liveness and writer counters",
                "responses": {"200": _json({"type": "object", "required": ["ok"],
                                            "properties": {"ok": {"type": "boolean"}}},
                                           "Alive")}}},
        },
        "components": {"schemas": _schemas(description_max)},
    }
