"""``command-center cameras add``: a real camera in one line.

The stream URLs are built from the vendor's template (:func:`video.camera.vendor_url`); the
password is read from an environment variable named on the command line, never from the
command line itself, where ``ps`` and shell history would keep it.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

import sqlalchemy as sa
import typer
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from command_center.context import engine_or_exit, settings_or_exit
from gis.catalog import CAMERA_SOURCES
from gis.db import session_scope
from gis.errors import CommandCenterError
from gis.models import Camera
from gis.queries import grid_for_point
from gis.scrub import register_secret

Vendor = Literal["hikvision", "dahua", "generic"]


def add_camera(
    code: Annotated[str, typer.Argument(help="摄像机编码 / camera code (stable, unique).")],
    host: Annotated[str, typer.Option("--host", help="摄像机、NVR或国标平台地址 / camera, NVR "
                                      "or GB/T 28181 platform address.")],
    lon: Annotated[float, typer.Option("--lon", help="经度 WGS84 / longitude (WGS84).")],
    lat: Annotated[float, typer.Option("--lat", help="纬度 WGS84 / latitude (WGS84).")],
    name: Annotated[str, typer.Option("--name", help="名称 / name shown on walls.")] = "",
    vendor: Annotated[str, typer.Option(
        "--vendor", help="厂商 / hikvision, dahua or generic (then --path).")] = "hikvision",
    source: Annotated[str, typer.Option(
        "--source", help="来源 / skynet, community or courtyard.")] = "community",
    channel: Annotated[int, typer.Option("--channel", min=1, help="通道 / channel.")] = 1,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="RTSP 端口.")] = 554,
    path: Annotated[str | None, typer.Option(
        "--path", help="generic 厂商的流路径 / stream path for generic (main stream).")] = None,
    sub_path: Annotated[str | None, typer.Option(
        "--sub-path", help="generic 厂商的子码流路径 / sub-stream path for generic.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="用户名 / user name.")] = None,
    password_env: Annotated[str | None, typer.Option(
        "--password-env", help="保存密码的环境变量名 / name of the environment variable "
        "holding the password.")] = None,
    azimuth: Annotated[float, typer.Option("--azimuth",
                                           help="朝向（度） / azimuth in degrees.")] = 0.0,
    fov: Annotated[float, typer.Option("--fov", min=1, max=360,
                                       help="视场角 / field-of-view angle.")] = 90.0,
    range_m: Annotated[float, typer.Option("--range", min=1, max=2000,
                                           help="可视距离（米） / range in metres.")] = 60.0,
) -> None:
    """Add or update a real camera in one line; its URLs come from the vendor template."""
    from video.camera import vendor_url

    if vendor not in ("hikvision", "dahua", "generic"):
        raise CommandCenterError(f"未知厂商 {vendor}", f"unknown vendor {vendor}")
    if source not in CAMERA_SOURCES:
        raise CommandCenterError(f"未知来源 {source}", f"unknown source {source}")
    if vendor == "generic" and not path:
        raise CommandCenterError("generic 厂商需要 --path", "vendor generic needs --path")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise CommandCenterError(f"环境变量 {password_env} 未设置",
                                     f"environment variable {password_env} is not set")
        register_secret(password)
    auth = {"user": user, "password": password, "channel": channel, "port": port}
    main = vendor_url(vendor, host, "main", path=path, **auth)  # type: ignore[arg-type]
    sub = (vendor_url(vendor, host, "sub", path=sub_path, **auth)  # type: ignore[arg-type]
           if vendor != "generic" or sub_path else None)
    settings = settings_or_exit()
    engine = engine_or_exit(settings)
    with session_scope(engine) as session:
        grid = grid_for_point(session, lon, lat)
        camera = session.scalar(sa.select(Camera).where(Camera.code == code))
        created = camera is None
        if camera is None:
            camera = Camera(code=code)
            session.add(camera)
        camera.name_zh = name or camera.name_zh or code
        camera.source, camera.vendor = source, vendor
        camera.geom = from_shape(Point(lon, lat), 4326)
        camera.azimuth_deg, camera.fov_deg, camera.range_m = azimuth % 360, fov, range_m
        camera.main_url, camera.sub_url = main, sub
        camera.grid_id = grid.id if grid is not None else None
        try:
            session.flush()
        except sa.exc.IntegrityError as exc:
            # The database's own message is already bilingual (see the migrations).
            first = str(exc.orig).splitlines()[0]
            raise CommandCenterError(f"数据库拒绝 / refused: {first}") from None
    verb = "已添加 / added" if created else "已更新 / updated"
    typer.echo(f"{verb} {code}: {main} (子码流 / sub: {sub or '—'}), "
               f"网格 / grid: {grid.code if grid else '—'}")
