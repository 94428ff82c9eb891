"""Shared page chrome: title, navigation by role, language switch, user and logout.

Navigation is plain links that carry the language on (``?lang=en``): every page is its own
URL and its own Bokeh session, so the language travels with the browser, not with the server.
"""

from __future__ import annotations

import html

import panel as pn

from command_center.app.auth import ROLE_LABELS, can_open, pages_for
from command_center.app.i18n import other, t
from command_center.app.login import LOGIN_URL, LOGOUT_URL
from command_center.app.state import SessionState

DARK_BG, PANEL_BG, TEXT, MUTED, ACCENT = "#0b1526", "#13223a", "#e6edf7", "#9fb3cf", "#1f6feb"

HEADER_CSS = f"""
.cc-header {{ display:flex; align-items:center; gap:18px; padding:6px 14px;
  background:{PANEL_BG}; color:{TEXT}; font-family:"Noto Sans CJK SC","Microsoft YaHei",
  sans-serif; border-bottom:1px solid #22385a; }}
.cc-header .title {{ font-size:18px; font-weight:600; margin-right:12px; }}
.cc-header a {{ color:{MUTED}; text-decoration:none; padding:4px 8px; border-radius:4px; }}
.cc-header a.active {{ background:{ACCENT}; color:white; }}
.cc-header .spacer {{ flex:1; }}
.cc-header .user {{ color:{MUTED}; font-size:13px; }}
"""

BODY_CSS = f"body {{ background:{DARK_BG}; color:{TEXT}; margin:0; }}"


def header_html(state: SessionState, page: str) -> str:
    """The header bar as HTML for ``page`` (pages the role may not open are not linked)."""
    lang = state.language
    links = []
    for name in pages_for(state.user.role if state.user else ""):
        cls = ' class="active"' if name == page else ""
        links.append(f'<a{cls} href="/{name}?lang={lang}">{t("page_" + name, lang)}</a>')
    who = ""
    if state.user:
        role = ROLE_LABELS.get(state.user.role, (state.user.role, state.user.role))
        who = (f'<span class="user">{html.escape(state.user.display_name)} · '
               f'{role[1] if lang == "en" else role[0]}</span>'
               f'<a href="{LOGOUT_URL}">{t("logout", lang)}</a>')
    switch = f'<a class="lang" href="/{page}?lang={other(lang)}">{t("language", lang)}</a>'
    return (f'<div class="cc-header"><span class="title">{t("app_title", lang)}</span>'
            f'{"".join(links)}<span class="spacer"></span>{switch}{who}</div>')


def chrome(state: SessionState, page: str, main: pn.viewable.Viewable) -> pn.Column:
    """The page: header on top, ``main`` filling the rest of the window."""
    header = pn.pane.HTML(header_html(state, page), stylesheets=[HEADER_CSS],
                          sizing_mode="stretch_width", margin=0)
    return pn.Column(header, main, sizing_mode="stretch_both", margin=0,
                     styles={"background": DARK_BG})


def message_page(state: SessionState, page: str, key: str) -> pn.Column:
    """A page that only says something (forbidden, being built, database down)."""
    box = pn.pane.HTML(f'<div style="padding:40px;font-size:18px;color:{TEXT}">'
                       f'{html.escape(t(key, state.language))}</div>',
                       sizing_mode="stretch_width")
    return chrome(state, page, box)


def guard(state: SessionState, page: str) -> pn.Column | None:
    """A refusal page when the session may not open ``page``; None when it may.

    The HTTP layer already keeps anonymous visitors out; this is the role check.
    """
    if state.user is None:
        return pn.Column(pn.pane.HTML(f'<a href="{LOGIN_URL}">{t("login", state.language)}'
                                      "</a>"))
    if not can_open(state.user.role, page):
        return message_page(state, page, "forbidden")
    return None
