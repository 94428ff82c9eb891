"""Chinese names for the demo district: people, streets, communities, roads and courtyards.

The lists are written for Neijiang's Shizhong District so the demo reads like the real place
(the streets and towns are the real ones; communities, roads and courtyards are plausible
inventions). Every generator takes a numpy ``Generator`` so the same seed gives the same names.
"""

from __future__ import annotations

import numpy as np

# Real sub-districts (街道) and towns (镇) of Shizhong District, core first: the generator
# names the most central street after the first entry, and so on outwards.
STREET_NAMES: tuple[tuple[str, str], ...] = (
    ("城东街道", "Chengdong Subdistrict"),
    ("玉溪街道", "Yuxi Subdistrict"),
    ("牌楼街道", "Pailou Subdistrict"),
    ("城西街道", "Chengxi Subdistrict"),
    ("乐贤街道", "Lexian Subdistrict"),
    ("壕子口街道", "Haozikou Subdistrict"),
    ("白马镇", "Baima Town"),
    ("史家镇", "Shijia Town"),
    ("凌家镇", "Lingjia Town"),
    ("朝阳镇", "Chaoyang Town"),
    ("永安镇", "Yong'an Town"),
    ("全安镇", "Quan'an Town"),
)

# Stems for urban community (社区) and village (村) names; each is used once per seed.
COMMUNITY_STEMS: tuple[str, ...] = (
    "桂湖", "玉溪", "梅家山", "大千", "西林", "沱江", "花园", "新华", "交通", "民族",
    "水井", "三元", "东兴", "桐梓", "甜城", "红旗", "胜利", "公园", "文英", "翔龙",
    "邱家湾", "牌楼", "乐贤", "汉安", "太白", "凤凰", "金鹅", "兴隆", "清溪", "和平",
    "茶园", "柏林", "梨园", "书院", "北街", "南街", "红星", "建设", "人民", "幸福",
    "和谐", "育才", "锦绣", "阳光", "滨江", "长江", "友谊", "前进", "光明", "火花",
)
VILLAGE_STEMS: tuple[str, ...] = (
    "石桥", "杨柳", "月亮湾", "双桥", "龙门", "松林", "白塔", "青龙", "白鹤", "高桥",
    "黄桷", "观音", "张家坝", "李子湾", "团结", "五星", "新桥", "碑木", "靖民", "四合",
    "天宫", "堰塘", "竹林", "桃园", "盐井", "油房", "宝山", "狮子", "柑子园", "莲花",
    "白果", "大佛", "楠木", "桂花", "长河", "板桥", "插旗", "铁佛", "回龙", "万家",
)

ROAD_NAMES: tuple[str, ...] = (
    "交通路", "民族路", "新江路", "中央路", "玉溪路", "梅家山路", "汉安大道", "甜城大道",
    "大千路", "西林大道", "公园街", "北街", "南街", "东兴街", "桂湖街", "文英街", "沱江路",
    "滨江路", "胜利路", "红旗路", "和平街", "花园路", "翔龙路", "三元路", "水井巷",
    "太白路", "凤凰路", "书院街", "牌楼路", "乐贤路", "壕子口路", "城西路", "新华路",
)

COURTYARD_KINDS: tuple[str, ...] = ("小区", "院落", "宿舍", "家属院", "大院", "住宅区")
COURTYARD_OWNERS: tuple[str, ...] = (
    "供电局", "糖厂", "纺织厂", "粮食局", "建筑公司", "百货公司", "铁路", "水泥厂", "机械厂",
    "卫生局", "教育局", "税务局", "邮电局", "农机厂", "肉联厂", "酒厂", "化工厂", "运输公司",
    "商业局", "电力公司", "自来水公司", "二中", "人民医院", "印刷厂", "银行", "供销社",
)

# Common surnames, roughly by frequency in Sichuan (weights need not sum to one).
_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.0), ("李", 7.0), ("张", 6.0), ("刘", 5.5), ("陈", 5.0), ("杨", 4.5), ("黄", 3.0),
    ("赵", 2.5), ("周", 2.5), ("吴", 2.0), ("徐", 1.8), ("孙", 1.5), ("胡", 1.5), ("朱", 1.3),
    ("高", 1.3), ("林", 1.0), ("何", 2.0), ("郭", 1.2), ("马", 1.0), ("罗", 2.2), ("梁", 0.9),
    ("宋", 0.9), ("郑", 0.9), ("谢", 1.0), ("唐", 1.2), ("韩", 0.6), ("曹", 0.7), ("许", 0.8),
    ("邓", 1.3), ("冯", 0.8), ("曾", 1.0), ("彭", 1.0), ("蒋", 0.8), ("蔡", 0.6), ("贾", 0.5),
    ("丁", 0.5), ("魏", 0.6), ("薛", 0.4), ("叶", 0.5), ("余", 0.8), ("潘", 0.5), ("杜", 0.7),
    ("钟", 0.6), ("汪", 0.4), ("田", 0.6), ("任", 0.6), ("姜", 0.4), ("范", 0.5), ("廖", 0.7),
)
_GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强红梅海燕晓东丹玲"
    "飞鹏俊斌婷雪莉琴云莲欣宇浩然子涵梓萱一诺嘉怡思远文博雨桐佳琪晨曦佳慧德明春燕小龙"
)

_SURNAME_CHARS = [s for s, _ in _SURNAMES]
_SURNAME_P = np.array([w for _, w in _SURNAMES]) / sum(w for _, w in _SURNAMES)


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` Chinese personal names: a surname by frequency and one or two given characters."""
    surnames = rng.choice(len(_SURNAME_CHARS), size=n, p=_SURNAME_P)
    lengths = rng.choice([1, 2], size=n, p=[0.3, 0.7])
    chars = rng.integers(0, len(_GIVEN_CHARS), size=(n, 2))
    return [
        _SURNAME_CHARS[s] + "".join(_GIVEN_CHARS[c] for c in chars[i, :k])
        for i, (s, k) in enumerate(zip(surnames, lengths, strict=True))
    ]


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct fictional mobile numbers of the form ``139xxxxxxxx``."""
    picked = rng.choice(100_000_000, size=n, replace=False)
    return [f"139{p:08d}" for p in picked]


def community_names(rng: np.random.Generator, n: int, village: bool = False) -> list[str]:
    """``n`` distinct community (or village) name stems, without the 社区/村 suffix."""
    stems = list(VILLAGE_STEMS if village else COMMUNITY_STEMS)
    order = rng.permutation(len(stems))
    names = [stems[i] for i in order]
    # More communities than stems: add a compass qualifier rather than repeat a name.
    extra = ["东", "西", "南", "北", "新", "老"]
    k = 0
    while len(names) < n:
        names.append(stems[order[k % len(stems)]] + extra[(k // len(stems)) % len(extra)])
        k += 1
    return names[:n]


def courtyard_name(rng: np.random.Generator, road: str, number: int, used: set[str]) -> str:
    """A courtyard name such as 糖厂家属院 or 交通路128号院, unique within ``used``."""
    for _ in range(20):
        style = rng.random()
        if style < 0.45:
            owner = COURTYARD_OWNERS[rng.integers(len(COURTYARD_OWNERS))]
            kind = COURTYARD_KINDS[rng.integers(2, len(COURTYARD_KINDS))]
            name = f"{owner}{kind}"
        elif style < 0.75:
            name = f"{road}{number}号院"
        else:
            stem = COMMUNITY_STEMS[rng.integers(len(COMMUNITY_STEMS))]
            name = f"{stem}{COURTYARD_KINDS[rng.integers(2)]}"
        if name not in used:
            used.add(name)
            return name
    name = f"{road}{number}号院{len(used)}"
    used.add(name)
    return name
