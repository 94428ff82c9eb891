"""Pages still being built (指挥大屏 wall, 事件 events, 规划 planning): chrome and role check
now, content from the next iteration."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from command_center.app.context import AppContext, start_session
from command_center.app.layout import guard, message_page


def make_page(name: str) -> Callable[[AppContext], pn.viewable.Viewable]:
    """A page function for ``name`` that checks the role and says it is being built."""

    def page(app: AppContext) -> pn.viewable.Viewable:
        state = start_session(app)
        return guard(state, name) or message_page(state, name, "under_construction")

    page.__name__ = f"{name}_page"
    return page
