"""The error the report builders raise for input a user can get wrong."""

from __future__ import annotations

from gis.errors import CommandCenterError


class ReportError(CommandCenterError):
    """A report's period or area is unusable (bad period text, unknown area code …)."""

    http_status = 400
