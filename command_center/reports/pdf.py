"""The report as PDF: the print variant of the HTML, printed by headless Chromium.

Chromium lays out Chinese text with the system's Noto Sans CJK (``fonts-noto-cjk``) and keeps
it as text, so the PDF can be searched and copied. The page is A4 (CSS ``@page``), each
section starts on a new page, and the maps are static SVG (a printed page cannot pan). The
browser runs with a throwaway profile and every host name resolving nowhere: the print HTML
links nothing, and this makes sure nothing is fetched even so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from command_center.reports.html import render_html
from gis.errors import CommandCenterError, SetupError
from gis.reports.model import Report
from gis.scrub import scrub

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--no-pdf-header-footer",
                 "--host-resolver-rules=MAP * ~NOTFOUND"]


def find_chromium() -> str:
    """The Chromium binary: ``CC_CHROMIUM`` when set, else the first on ``PATH``.

    Raises
    ------
    SetupError
        When there is none (``apt-get install chromium``).
    """
    configured = os.environ.get("CC_CHROMIUM")
    if configured:
        if not Path(configured).exists():
            raise SetupError(f"CC_CHROMIUM 指向的文件不存在：{configured}",
                             f"CC_CHROMIUM points to a missing file: {configured}")
        return configured
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise SetupError("生成 PDF 需要 Chromium（apt-get install chromium）",
                     "PDF export needs Chromium: apt-get install chromium")


def html_to_pdf(html_text: str, out: Path, *, timeout_s: float = 180) -> Path:
    """Print ``html_text`` to ``out`` with headless Chromium."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="cc-report-pdf-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(html_text, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        cmd = [chromium, *CHROMIUM_ARGS, f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--print-to-pdf={target}", source.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise CommandCenterError(f"Chromium 生成 PDF 超时（{timeout_s:.0f} 秒）",
                                     f"Chromium did not print the PDF in {timeout_s:.0f} s"
                                     ) from None
        if not target.exists() or target.stat().st_size == 0:
            tail = scrub((done.stderr or "").strip().splitlines()[-1:] or [""])
            raise CommandCenterError(f"Chromium 未能生成 PDF（退出码 {done.returncode}）：{tail}",
                                     f"Chromium printed no PDF (exit {done.returncode}): {tail}")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), out)
    return out


def write_pdf(report: Report, path: Path, lang: str = "zh") -> Path:
    """Write the report as an A4 PDF to ``path`` (sections on their own pages).

    Examples
    --------
    >>> write_pdf(report, Path("shizhong-2026-10.pdf"))  # doctest: +SKIP
    """
    return html_to_pdf(render_html(report, lang, variant="print"), path)
