"""Basemaps: where the map tiles come from, and the datum our WGS84 layers must be shifted to.

Chinese commercial tiles (Gaode/Amap) are drawn in GCJ-02, which is offset from WGS84 by a few
hundred metres here; drawing our WGS84 layers on them unshifted puts every event in the wrong
street. So a basemap carries a ``shift`` applied to every coordinate at draw time
(:func:`gis.coords.wgs84_to_gcj02`); the database keeps WGS84.

Tiles are images the browser fetches from the tile server (the internet, or an intranet tile
server through ``custom``); every script, style sheet and font comes from our own server.
Settings: ``map.basemap``, ``map.tianditu_key`` and ``map.custom_url`` when the settings have a
``map`` section; otherwise OpenStreetMap, no Tianditu, no custom URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gis.coords import wgs84_to_gcj02
from layers.build import Shift

_TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
             "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
             "&TILEMATRIX={{Z}}&TILEROW={{Y}}&TILECOL={{X}}&tk={key}")


@dataclass(frozen=True)
class Basemap:
    """A tile source: XYZ URL templates drawn bottom-up, and the datum shift it needs."""

    code: str
    zh: str
    en: str
    urls: tuple[str, ...]
    attribution: str = ""
    shift: Shift | None = None

    def label(self, language: str) -> str:
        """The name in ``language``."""
        return self.en if language == "en" else self.zh


def _map_settings(settings: Any) -> tuple[str, str | None, str | None]:
    section = settings.map
    key = section.tianditu_key.get_secret_value() if section.tianditu_key else None
    return section.basemap, key or None, section.custom_url or None


def available_basemaps(settings: Any) -> dict[str, Basemap]:
    """The basemaps this deployment offers, by code (``none`` is always there)."""
    _, tianditu_key, custom_url = _map_settings(settings)
    maps = {
        "osm": Basemap("osm", "OpenStreetMap", "OpenStreetMap",
                       ("https://tile.openstreetmap.org/{Z}/{X}/{Y}.png",),
                       "© OpenStreetMap contributors"),
        "gaode": Basemap("gaode", "高德地图", "Gaode (Amap)",
                         ("https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1"
                          "&scale=1&style=8&x={X}&y={Y}&z={Z}",),
                         "© 高德地图 AutoNavi", shift=wgs84_to_gcj02),
    }
    if tianditu_key:
        maps["tianditu"] = Basemap(
            "tianditu", "天地图", "Tianditu",
            (_TIANDITU.format(s=0, layer="vec", key=tianditu_key),
             _TIANDITU.format(s=1, layer="cva", key=tianditu_key)), "© 天地图 Tianditu")
    if custom_url:
        maps["custom"] = Basemap("custom", "内网底图", "Intranet tiles", (custom_url,))
    maps["none"] = Basemap("none", "无底图", "No basemap", ())
    return maps


def default_basemap(settings: Any) -> str:
    """The configured default basemap code (falls back to ``osm``)."""
    code, _, _ = _map_settings(settings)
    return code if code in available_basemaps(settings) else "osm"
