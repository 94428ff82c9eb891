"""The error the query functions raise for arguments a user can get wrong."""

from __future__ import annotations

from gis.errors import CommandCenterError


class QueryError(CommandCenterError):
    """A query's arguments are unusable (bad bbox, unknown status, empty period …)."""

    http_status = 400
