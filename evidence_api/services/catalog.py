"""The official catalog of special-operations certificates (特种作业目录, 安监总局令第30号 附件) and the rules
that decide whether a certificate is usable on a given day (validity 6 years, 复审 every 3 years).

The catalog keys are ``<category>.<n>`` codes, e.g. ``1.1`` 高压电工作业. Categories 5 and 6 (mines) list only
the jobs named in ``shared/domain/rules.md``; category 11 (designated by the regulator) is open.
"""

from __future__ import annotations

from datetime import date

__all__ = ["CATEGORIES", "SUB_TYPES", "certificate_state", "check_sub_type"]

CATEGORIES = {
    "1": "电工作业", "2": "焊接与热切割作业", "3": "高处作业", "4": "制冷与空调作业", "5": "煤矿安全作业",
    "6": "金属非金属矿山安全作业", "7": "石油天然气安全作业", "8": "冶金（有色）生产安全作业",
    "9": "危险化学品安全作业", "10": "烟花爆竹安全作业", "11": "应急管理部门认定的其他作业",
}

_HAZCHEM = ["光气及光气化", "氯碱电解", "氯化", "硝化", "合成氨", "裂解（裂化）", "氟化", "加氢", "重氮化", "氧化",
            "过氧化", "胺基化", "磺化", "聚合", "烷基化"]

SUB_TYPES: dict[str, str] = {
    "1.1": "高压电工作业", "1.2": "低压电工作业", "1.3": "防爆电气作业",
    "2.1": "熔化焊接与热切割作业", "2.2": "压力焊作业", "2.3": "钎焊作业",
    "3.1": "登高架设作业", "3.2": "高处安装、维护、拆除作业",
    "4.1": "制冷与空调设备运行操作作业", "4.2": "制冷与空调设备安装修理作业",
    "5.1": "煤矿井下电气作业", "5.2": "煤矿井下爆破作业", "5.3": "煤矿瓦斯检查作业", "5.4": "煤矿提升机操作作业",
    "5.5": "煤矿井下通风作业",
    "6.1": "金属非金属矿井通风作业", "6.2": "金属非金属矿山爆破作业", "6.3": "金属非金属矿山提升机操作作业",
    "7.1": "司钻作业",
    "8.1": "煤气作业",
    **{f"9.{n}": f"{name}工艺作业" for n, name in enumerate(_HAZCHEM, start=1)},
    "9.16": "化工自动化控制仪表作业",
    "10.1": "烟火药制造作业", "10.2": "黑火药制造作业", "10.3": "引火线制造作业", "10.4": "烟花爆竹产品涉药作业",
    "10.5": "烟花爆竹储存作业",
    "11.1": "其他作业",
}


def check_sub_type(category: str, sub_type: str) -> str | None:
    """None if ``sub_type`` is in the catalog under ``category``, else what is wrong.

    >>> check_sub_type("1", "1.2") is None
    True
    >>> check_sub_type("2", "1.2")
    "sub-type '1.2' (低压电工作业) belongs to category '1', not '2'"
    """
    if category not in CATEGORIES:
        return f"unknown category {category!r}; one of {sorted(CATEGORIES, key=int)}"
    if sub_type not in SUB_TYPES:
        return f"unknown sub-type {sub_type!r}; see GET /v1/certificates/catalog"
    if sub_type.split(".")[0] != category:
        return f"sub-type {sub_type!r} ({SUB_TYPES[sub_type]}) belongs to category {sub_type.split('.')[0]!r}, not {category!r}"
    return None


def certificate_state(status: str, expires_on: date, review_due_on: date, on: date) -> str:
    """What a certificate is on day ``on``: ``valid``, ``expired``, ``review_overdue`` or its stored status.

    A stored status other than ``valid`` (suspended, revoked, void) wins. Past the 6-year expiry it is
    ``expired``; past the 3-yearly 复审 date without a review it is ``review_overdue`` (30号令 Art 26: void
    once the review is missed; we keep the finer reason, and neither may work).

    >>> certificate_state("valid", date(2030, 1, 1), date(2027, 1, 1), date(2026, 11, 23))
    'valid'
    >>> certificate_state("valid", date(2030, 1, 1), date(2026, 1, 1), date(2026, 11, 23))
    'review_overdue'
    """
    if status != "valid":
        return status
    if on > expires_on:
        return "expired"
    if on > review_due_on:
        return "review_overdue"
    return "valid"
