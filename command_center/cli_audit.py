"""``command-center audit verify``: check the hash chain of the event log."""

from __future__ import annotations

import sqlalchemy as sa
import typer

from command_center.context import engine_or_exit, settings_or_exit


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group to ``app``."""
    audit = typer.Typer(help="审计日志 / audit log.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def verify() -> None:
        """校验事件日志哈希链，报告第一处断链 / verify the event log's hash chain."""
        from gis.loop.audit import verify_chain

        engine = engine_or_exit(settings_or_exit())
        with engine.connect() as conn:
            # One snapshot for the whole walk, even while officers keep writing.
            conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            report = verify_chain(conn)
        if report.ok:
            typer.echo(f"审计链完整：{report.rows} 行，末行 {report.last_id} / audit chain intact: "
                       f"{report.rows} rows, last row {report.last_id}")
            return
        assert report.broken is not None
        typer.secho(f"审计链断裂 / audit chain broken: {report.broken}", fg=typer.colors.RED,
                    err=True)
        typer.echo(f"broken_row={report.broken.log_id}")
        raise typer.Exit(1)
