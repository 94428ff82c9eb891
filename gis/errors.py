"""Typed errors with a meaning for the person who sees them.

Each error carries a Chinese message (the default UI language), an English one, and the HTTP
status an API maps it to. Messages are scrubbed of credentials when built, so an error can be
shown or logged as it is.
"""

from __future__ import annotations

from gis.scrub import scrub


class CommandCenterError(Exception):
    """Base of every error a user may see. ``str()`` gives ``中文 / English``."""

    http_status = 500

    def __init__(self, zh: str, en: str | None = None) -> None:
        self.zh = scrub(zh)
        self.en = scrub(en if en is not None else zh)
        super().__init__(self.zh if self.zh == self.en else f"{self.zh} / {self.en}")

    def message(self, language: str = "zh") -> str:
        """The message in ``language`` ("zh" or "en")."""
        return self.en if language == "en" else self.zh


class DatabaseUnavailable(CommandCenterError):
    """The database cannot be reached (not started, wrong URL, restarting)."""

    http_status = 503


class SetupError(CommandCenterError):
    """Something outside the project is missing (a system package, a binary, permissions)."""

    http_status = 500


class ImportValidationError(CommandCenterError):
    """A file to import is unusable; ``problems`` lists ``(row, column, message)``.

    Row numbers count data rows from 1 (the first feature or the first line after a header).
    """

    http_status = 422

    def __init__(self, zh: str, en: str | None = None,
                 problems: list[tuple[int | None, str | None, str]] | None = None) -> None:
        super().__init__(zh, en)
        self.problems = problems or []


class NotFound(CommandCenterError):
    http_status = 404


class ConstraintViolation(CommandCenterError):
    """The database refused a change (invalid geometry, outside the district, A/B rule)."""

    http_status = 409
