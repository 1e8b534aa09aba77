"""A small corpus for the batch tests: the example page, pages built from our own sentences
(HTML, text, GB18030, nested folders), and two files that cannot be read."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLE_PAGE

# Written for these tests; the places and figures are invented.
SENTENCES = [
    "青川县今年新建乡村寄宿制学校三所，解决了八百多名山区学生的上学难题。",
    "南湖科技园引进芯片封装企业六家，园区年产值预计突破九十亿元。",
    "白鹭河流域完成清淤整治四十公里，沿岸新增湿地公园两处。",
    "市第一医院开通夜间门诊，市民下班后也能挂上专家号。",
    "在全省县域经济综合考评中，青川县连续两年位列前三。",
    "农科院培育的抗旱小麦新品种通过审定，亩产提高一成以上。",
    "新能源电池回收项目在经开区投产，每年可处理废旧电池五万吨。",
    "城区新增公共充电桩一千二百个，主要道路实现十分钟充电圈。",
    "县里组织专家为果农讲授病虫害防治技术，参训人数超过两千人次。",
    "今年第二季度全县居民人均可支配收入同比增长百分之六点二。",
]
CHROME = ["首页 | 要闻 | 政务 | 服务 | 互动", "上一篇：下周天气预报", "责任编辑：王明", "版权所有 © 青川县融媒体中心", "分享到：微信 微博"]


def html_page(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>"
            f"<div class=\"nav\">{CHROME[0]}</div><div class=\"article\"><h1>{title}</h1>{body}</div>"
            f"<div class=\"footer\"><p>{CHROME[3]}</p><p>{CHROME[4]}</p></div></body></html>")


def write_corpus(folder: Path) -> dict[str, str]:
    """Write 20 good pages and 2 bad ones under ``folder``; return ``{page id: why it is bad}``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "example.html").write_bytes(EXAMPLE_PAGE.read_bytes())
    for i in range(10):
        paragraphs = [SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 4)]
        (folder / f"news-{i:02d}.html").write_text(html_page(f"青川新闻第{i}期", paragraphs), encoding="utf-8")
    for i in range(5):
        lines = [CHROME[0], *(SENTENCES[(3 * i + k) % len(SENTENCES)] for k in range(3)), CHROME[2]]
        (folder / f"notes-{i}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sub = folder / "gov" / "2026"
    sub.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        page = html_page(f"县政府通知{i}", SENTENCES[i:i + 2]).replace('charset="utf-8"', 'charset="gbk"')
        (sub / f"notice-{i}.html").write_bytes(page.encode("gb18030"))
    (folder / ".DS_Store").write_bytes(b"\x00\x01hidden")  # hidden: not a page
    (folder / "empty.html").write_bytes(b"")
    (folder / "corrupt.html").write_bytes(b"\x81\xff\x80\x00" * 50)
    return {"empty.html": "page is empty", "corrupt.html": "neither utf-8 nor gb18030"}
