"""Description templates of demo events, per category, as grid workers and callers word them.

``{place}`` is a courtyard or a road address, ``{road}`` a road name. A template is picked at
random and completed with a closing phrase, e.g. ``桂湖小区门口垃圾堆放未清运，群众反映强烈。``
"""

from __future__ import annotations

import numpy as np

TEMPLATES: dict[str, tuple[str, ...]] = {
    "sanitation": (
        "{place}门口垃圾堆放未清运", "{place}附近绿化带内有生活垃圾乱倒", "{road}沿线垃圾桶满溢",
        "{place}楼道堆放杂物", "{place}化粪池满溢污水外流", "{road}路面有建筑渣土散落",
        "{place}旁公厕卫生差无人打扫", "{place}背街小巷积存垃圾",
    ),
    "city_appearance": (
        "{road}人行道占道经营", "{place}附近流动摊贩占道", "{road}共享单车乱停放堵塞人行道",
        "{place}外墙违规张贴小广告", "{place}楼顶疑似违章搭建", "{road}门店出店经营",
        "{road}户外广告牌破损", "{place}空地私搭乱建",
    ),
    "security_hazard": (
        "{place}单元门禁损坏", "{road}路灯不亮存在安全隐患", "{place}周边有可疑人员徘徊",
        "{place}监控探头损坏", "{place}围墙破损有人翻越", "{road}夜间有人聚集饮酒滋事",
    ),
    "dispute": (
        "{place}邻里因楼上漏水发生纠纷", "{place}业主与物业因停车费产生矛盾",
        "{road}商户与顾客发生消费纠纷", "{place}住户反映欠薪问题请求协调",
        "{place}居民因噪音发生口角", "{place}家庭矛盾需调解",
    ),
    "infrastructure": (
        "{road}井盖缺失", "{road}路面塌陷坑洼", "{place}雨水管网堵塞", "{road}人行道地砖破损",
        "{place}化粪池盖板破损", "{road}护栏损坏", "{place}自来水管爆裂", "{road}排水沟堵塞积水",
    ),
    "livelihood": (
        "{place}独居老人需要上门探访", "{place}居民咨询低保申请", "{place}停水未提前通知",
        "{place}居民咨询医保缴费", "{place}困难家庭申请临时救助", "{place}电梯停运影响老人出行",
    ),
    "safety_production": (
        "{road}沿街门店违规存放液化气罐", "{place}电动车楼道充电", "{road}工地未设置围挡",
        "{place}消防通道被占用", "{place}灭火器过期未更换", "{road}餐馆后厨用火不规范",
    ),
    "pollution": (
        "{road}餐饮油烟扰民", "{place}附近夜间施工噪音扰民", "{road}附近河道漂浮垃圾",
        "{road}工地扬尘严重", "{place}附近有人焚烧垃圾", "{road}污水直排雨水管",
    ),
    "market": (
        "{road}门店无证经营", "{road}农贸市场缺斤短两", "{road}小卖部销售过期食品",
        "{road}药店无处方销售处方药", "{place}附近有人非法行医",
    ),
    "traffic": (
        "{road}交叉口信号灯故障", "{road}公交站牌损坏", "{place}门口车辆违停堵塞消防通道",
        "{road}交通标线模糊", "{road}减速带损坏",
    ),
}

_CLOSINGS = ("", "", "，请尽快处理。", "，群众反映强烈。", "，已现场拍照。", "，请相关部门核实。",
             "，影响居民正常生活。", "，多次反映未解决。")


def describe(rng: np.random.Generator, category: str, place: str, road: str) -> str:
    """One event description of ``category`` at ``place`` (on ``road``)."""
    options = TEMPLATES[category]
    text = options[int(rng.integers(len(options)))].format(place=place, road=road)
    closing = _CLOSINGS[int(rng.integers(len(_CLOSINGS)))]
    return text + (closing or "。")
