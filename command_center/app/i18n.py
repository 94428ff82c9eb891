"""Interface strings in Simplified Chinese (the default) and English.

The language belongs to the browser session: it comes from the page URL (``?lang=en``), then
from the ``cc_lang`` cookie the login page and the switch set, then from ``ui.language`` in
the settings. Navigation links carry it on, so every page a user opens speaks the same
language. Domain labels (statuses, sources, categories) come from :mod:`gis.catalog`.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
LANG_COOKIE = "cc_lang"

STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("网格化服务管理指挥中心", "Grid Governance Command Center"),
    "page_wall": ("指挥大屏", "Command wall"),
    "page_map": ("地图", "Map"),
    "page_events": ("事件", "Events"),
    "page_planning": ("规划", "Planning"),
    "page_reports": ("报表", "Reports"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong user name or password"),
    "login_throttled": ("尝试过于频繁，请稍后再试", "Too many attempts, try again later"),
    "login_form_expired": ("表单已过期，请重新登录", "The form expired, please log in again"),
    "forbidden": ("您的角色无权访问此页面", "Your role may not open this page"),
    "under_construction": ("此页面正在建设中", "This page is being built"),
    "layers": ("图层", "Layers"),
    "legend": ("图例", "Legend"),
    "basemap": ("底图", "Basemap"),
    "event_details": ("事件详情", "Event details"),
    "click_event_hint": ("点击地图上的事件查看详情和附近监控",
                         "Click an event on the map for its details and nearby cameras"),
    "category": ("类别", "Category"),
    "source": ("来源", "Source"),
    "grid": ("网格", "Grid"),
    "worker_a": ("A岗网格员", "Grid worker A"),
    "worker_b": ("B岗网格员", "Grid worker B"),
    "status": ("状态", "Status"),
    "deadline": ("办理时限", "Deadline"),
    "time_left": ("剩余时间", "Time left"),
    "overdue_by": ("已超时", "Overdue by"),
    "no_deadline": ("无时限", "no deadline"),
    "address": ("地址", "Address"),
    "nearest_cameras": ("附近监控", "Nearby cameras"),
    "no_cameras": ("300 米内没有监控", "No camera within 300 m"),
    "enlarge": ("放大", "Enlarge"),
    "put_on_wall": ("上墙", "Put on wall"),
    "on_wall": ("已上墙", "On the wall"),
    "offline": ("离线", "offline"),
    "no_picture": ("无画面", "no picture"),
    "relay_down": ("视频服务不可用", "Video relay unavailable"),
    "camera_live": ("实时画面", "Live view"),
    "close": ("关闭", "Close"),
    "meters": ("米", "m"),
    "hours": ("小时", "h"),
    "minutes": ("分钟", "min"),
    "events_binned": ("事件较多，按区域汇总显示（放大查看单个事件）",
                      "Many events: shown as bins (zoom in for single events)"),
    "events_points": ("显示单个事件", "Showing single events"),
    "count": ("数量", "Count"),
    "light_green": ("正常", "on time"),
    "light_yellow": ("即将超时", "due soon"),
    "light_red": ("已超时", "overdue"),
    "light_none": ("无时限", "no deadline"),
    "db_error": ("数据库暂时不可用，请稍后刷新", "The database is unavailable; reload later"),
    "export_failed_file": ("报表导出失败.txt", "report-export-failed.txt"),
    "not_found": ("未找到该事件", "Event not found"),
    "language": ("English", "中文"),
    # wall
    "tour": ("轮巡", "tour"),
    "updated": ("更新于", "updated"),
    "kpi_today": ("今日事件", "events today"),
    "kpi_open": ("未结事件", "open events"),
    "kpi_red": ("红灯·超时", "red · overdue"),
    "kpi_yellow": ("黄灯·将超时", "yellow · due soon"),
    "kpi_on_time": ("按期办结率(30天)", "on-time rate (30 d)"),
    "kpi_cameras": ("监控在线率", "cameras online"),
    "newest_events": ("最新事件", "Newest events"),
    "heatmap": ("事件热力", "Event heatmap"),
    "heat_24h": ("近24小时", "last 24 h"),
    "heat_7d": ("近7天", "last 7 days"),
    "no_alert": ("暂无紧急或超时事件", "No urgent or overdue event"),
    "alert_cameras": ("紧急/超时事件附近监控", "Cameras near the urgent/overdue event"),
    # events page
    "filters": ("筛选", "Filters"),
    "all": ("全部", "all"),
    "light": ("三色灯", "Light"),
    "street": ("街道", "Street"),
    "period": ("时间", "Period"),
    "period_24h": ("近24小时", "last 24 h"),
    "period_7d": ("近7天", "last 7 days"),
    "period_30d": ("近30天", "last 30 days"),
    "period_365d": ("近一年", "last year"),
    "period_all": ("全部时间", "any time"),
    "code": ("编号", "Code"),
    "priority": ("紧急程度", "Priority"),
    "reported_at": ("上报时间", "Reported"),
    "department": ("责任部门", "Department"),
    "shown_of": ("显示 {shown} 条，共 {total} 条", "showing {shown} of {total}"),
    "timeline": ("办理过程", "Timeline"),
    "no_log": ("暂无办理记录", "No entries yet"),
    "actor": ("操作人", "By"),
    "pick_event_hint": ("点击表格中的事件查看详情、办理过程和附近监控",
                        "Click an event in the table for its details, timeline and cameras"),
    # event loop: actions, board, supervision, reminders (command_center/app/loop_ui.py …)
    "actions": ("办理", "Actions"),
    "description": ("事件描述", "Description"),
    "no_actions": ("当前状态下您没有可执行的操作", "No action for you in this status"),
    "note": ("说明", "Note"),
    "note_needed": ("必填：说明处理情况或原因", "Required: what was done, or why"),
    "note_optional": ("说明（可选；派往非默认部门时必填）",
                      "Note (optional; required when not the default department)"),
    "reason": ("原因", "Reason"),
    "target_department": ("派往部门", "Send to department"),
    "default_mark": ("（默认）", " (default)"),
    "action_done": ("已办理", "Done"),
    "possible_duplicates": ("可能重复（50 米内、24 小时内同类未结事件）",
                            "Possible duplicates (same category, open, within 50 m and 24 h)"),
    "merge_into": ("合并到", "Merge into"),
    "merged_into": ("已作为重复合并到", "Merged as a duplicate into"),
    "supervised_flag": ("督办中", "supervised"),
    "tab_list": ("事件列表", "Events"),
    "tab_board": ("三灯一牌", "Three-light board"),
    "tab_supervision": ("督办", "Supervision"),
    "tab_reminders": ("提醒", "Reminders"),
    "level_department": ("按部门", "by department"),
    "level_street": ("按街道", "by street"),
    "level_grid": ("按网格", "by grid"),
    "area": ("单位", "Area"),
    "open_n": ("未结", "Open"),
    "supervised_n": ("督办", "Supervised"),
    "closed_n": ("本月办结", "Closed (month)"),
    "on_time_n": ("按期办结", "On time"),
    "on_time_rate": ("按期办结率", "On-time rate"),
    "district_total": ("全区合计", "District total"),
    "refresh": ("刷新", "Refresh"),
    "no_supervised": ("暂无督办事件", "No supervised event"),
    "supervised_at": ("督办时间", "Supervised at"),
    "no_reminders": ("暂无未读提醒", "No unread reminder"),
    "reminder_due_soon": ("即将超时，请尽快办理", "due soon: please act"),
    "mark_all_read": ("全部标为已读", "Mark all read"),
    # planning page
    "renovation": ("老旧院落改造", "Courtyard renovation"),
    "batch": ("改造批次", "Batch"),
    "no_batch": ("未列入批次", "no batch"),
    "survey": ("问卷调查", "Survey"),
    "willing_rate": ("改造意愿率", "Willing to renovate"),
    "satisfaction": ("满意度(1-5)", "Satisfaction (1-5)"),
    "priorities": ("居民最关心的改造内容", "What residents want first"),
    "responses": ("问卷数", "Responses"),
    "courtyards_n": ("院落数", "Courtyards"),
    "households": ("户数", "Households"),
    # reports page
    "area_kind": ("区域层级", "Area level"),
    "area_pick": ("区域", "Area"),
    "kind_district": ("全区", "district"),
    "kind_street": ("街道", "street"),
    "kind_community": ("社区", "community"),
    "kind_grid": ("网格", "grid"),
    "report_period": ("统计周期（如 2026-10、2026-Q3）", "Period (e.g. 2026-10, 2026-Q3)"),
    "make_report": ("生成报表", "Make report"),
    "export_format": ("导出格式", "Export format"),
    "download": ("下载", "Download"),
}


def normalize(language: str | None, default: Language = "zh") -> Language:
    """``language`` if it is one we speak, else ``default``."""
    return language if language in LANGUAGES else default  # type: ignore[return-value]


def t(key: str, language: str = "zh") -> str:
    """The string ``key`` in ``language``; the key itself when unknown (never an error).

    Examples
    --------
    >>> t("page_map"), t("page_map", "en")
    ('地图', 'Map')
    """
    pair = STRINGS.get(key)
    if pair is None:
        return key
    return pair[1] if language == "en" else pair[0]


def other(language: str) -> Language:
    """The language the switch offers."""
    return "zh" if language == "en" else "en"
