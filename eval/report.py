"""Turns an evaluation's metrics.json into report.md and its two pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paratheme.labels import LABELS


def fmt(x, digits=3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def headline_table(result: dict) -> str:
    lines = ["| system | macro-F1 (95% CI) | accuracy | boilerplate F1 | theme macro-F1 (content) | page chars F1 | ECE |",
             "|---|---|---|---|---|---|---|"]
    for name, s in result["systems"].items():
        ci = s.get("macro_f1_95ci")
        ci_text = f" ({fmt(ci[0])}–{fmt(ci[1])})" if ci else ""
        page = (s.get("page_character_weighted") or {}).get("micro", {}).get("f1")
        ece = s["ece"] if name != "keyword-rules" else None
        lines.append(f"| {name} | {fmt(s['macro_f1'])}{ci_text} | {fmt(s['accuracy'])} | {fmt(s['boilerplate']['f1'])} | "
                     f"{fmt(s['theme_macro_f1_on_content'])} | {fmt(page)} | {fmt(ece)} |")
    for name, e in result.get("extractors", {}).items():
        lines.append(f"| {name} (content extractor; news pages only) | – | – | {fmt(e['boilerplate']['f1'])} | – | "
                     f"{fmt(e['page_character_weighted']['micro']['f1'])} | – |")
    return "\n".join(lines)


def per_label_table(system: dict) -> str:
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label in LABELS:
        m = system["per_label"][label]
        lines.append(f"| {label} | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1-score'])} | {m['support']} |")
    return "\n".join(lines)


def slice_table(result: dict, key: str, title: str) -> str:
    systems = list(result["systems"])
    slices = list(result["systems"]["model"][key])
    lines = [f"| {title} | blocks | " + " | ".join(f"{s} macro-F1 / acc" for s in systems) + " |",
             "|---|---|" + "---|" * len(systems)]
    for name in slices:
        row = [f"{fmt(result['systems'][s][key][name]['macro_f1'])} / {fmt(result['systems'][s][key][name]['accuracy'])}"
               for s in systems]
        lines.append(f"| {name} | {result['systems']['model'][key][name]['blocks']} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def page_table(result: dict) -> str:
    rows = [(name, s.get("page_character_weighted")) for name, s in result["systems"].items()]
    rows += [(name, e["page_character_weighted"]) for name, e in result.get("extractors", {}).items()]
    lines = ["| system | precision (micro) | recall (micro) | F1 (micro) | F1 (mean per page) |", "|---|---|---|---|---|"]
    for name, p in rows:
        if p:
            lines.append(f"| {name} | {fmt(p['micro']['precision'])} | {fmt(p['micro']['recall'])} | "
                         f"{fmt(p['micro']['f1'])} | {fmt(p['page_mean']['f1'])} |")
    return "\n".join(lines)


def html_block_table(result: dict) -> str:
    """Block-level content and boilerplate F1 on the HTML news pages, model beside the extractors."""
    model = result["systems"]["model"].get("html_pages_blocks")
    if not model:
        return "No HTML pages in this evaluation."
    lines = ["| system | article blocks kept (content recall) | content F1 | boilerplate F1 |", "|---|---|---|---|"]
    rows = [("model", model)] + list(result.get("extractors", {}).items())
    for name, s in rows:
        lines.append(f"| {name} | {fmt(s['content']['recall'])} | {fmt(s['content']['f1'])} | {fmt(s['boilerplate']['f1'])} |")
    return "\n".join(lines)


def worst_pages_table(result: dict, n: int = 25) -> str:
    """Per page, worst first by the model's share of article characters kept."""
    pages = result["systems"]["model"].get("pages") or []
    extractors = {name: {p["page"]: p for p in e.get("pages", [])} for name, e in result.get("extractors", {}).items()}
    with_article = sorted((p for p in pages if p["chars_kept"] is not None), key=lambda p: (p["chars_kept"], p["chars_f1"]))
    header = "| page | blocks | article blocks | model: chars kept | model: chars F1 | " + " | ".join(
        f"{name}: chars kept | {name}: chars F1" for name in extractors) + " |"
    lines = [header, "|---" * (5 + 2 * len(extractors)) + "|"]
    for p in with_article[:n]:
        cells = []
        for name in extractors:
            e = extractors[name].get(p["page"])
            cells += [fmt(e and e["chars_kept"]), fmt(e and e["chars_f1"])]
        lines.append(f"| {p['page']} | {p['blocks']} | {p['article_blocks']} | {fmt(p['chars_kept'])} | "
                     f"{fmt(p['chars_f1'])} | " + " | ".join(cells) + " |")
    below = sum(p["chars_kept"] < 0.9 for p in with_article)
    no_article = [p for p in pages if p["chars_kept"] is None]
    lines.append("")
    lines.append(f"{len(with_article)} pages with an article; {below} keep less than 90% of their article characters. "
                 f"{len(no_article)} pages have no article (listings): the model kept "
                 f"{sum(p['chrome_kept_chars'] for p in no_article):,} of their characters.")
    return "\n".join(lines)


def mistakes_table(mistakes: list[dict]) -> str:
    lines = ["| # | where | gold | predicted | conf | text |", "|---|---|---|---|---|---|"]
    for i, m in enumerate(mistakes, start=1):
        text = m["text"].replace("|", "｜")
        text = text if len(text) <= 90 else text[:90] + "…"
        lines.append(f"| {i} | {m['source']}/{m['doc_id']}#{m['position']} | {m['gold']} | {m['predicted']} | "
                     f"{m['confidence']:.2f} | {text} |")
    return "\n".join(lines)


def plot_confusion(confusion: list[list[int]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(confusion, dtype=float)
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=120)
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=40, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            if matrix[i, j]:
                ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=9,
                        color="white" if normalised[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Confusion matrix (counts; colour = share of the gold row)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_reliability(bins: list[dict], ece: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6), dpi=120)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    width = bins[0]["high"] - bins[0]["low"] if bins else 1 / 15
    ax.bar(centres, [b["accuracy"] for b in bins], width=width * 0.9, color="#4477aa", alpha=0.8, label="accuracy in bin")
    # The gap between a bar's top and its dot is the bin's miscalibration.
    ax.plot(centres, [b["confidence"] for b in bins], "o", color="#cc3311", label="mean confidence in bin")
    for centre, b in zip(centres, bins):
        ax.text(centre, min(b["accuracy"] + 0.02, 1.02), str(b["blocks"]), ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability diagram, 15 bins (ECE {ece:.3f}; numbers = blocks)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(result: dict, out_dir: Path) -> str:
    model = result["systems"]["model"]
    plot_confusion(model["confusion"], out_dir / "confusion.png")
    plot_reliability(model["reliability"], model["ece"], out_dir / "reliability.png")
    headline = headline_table(result)
    speed = result["speed"]
    training = result.get("training") or {}
    sections = [
        f"# Evaluation: {result['name']}",
        f"Model `{result['model']}` ({result['speed'].get('backend', 'pytorch')} backend) on **{result['split']}**: "
        f"{result['blocks']} blocks from {result['documents']} documents. "
        f"Base model: {training.get('config', {}).get('base_model', 'unknown')}. Generated by `python -m eval.run`; "
        "every figure below comes from `metrics.json` beside this file.",
        "## Headline", headline,
        "Macro-F1 is over the seven labels; its interval is a 1,000-sample bootstrap over blocks. Page chars F1 is the "
        "character-weighted boilerplate removal score over whole pages (news pages and the seed). The baselines are "
        "trained on the same train split; the content extractors only separate article from chrome, so only their "
        "boilerplate and page figures exist.",
        "## Per label (model)", per_label_table(model),
        "## By source", slice_table(result, "by_source", "source"),
        "## By paragraph length", slice_table(result, "by_length", "length"),
        "Slice macro-F1 is over the labels present in the slice's gold labels.",
        "## Page level: character-weighted main-content extraction", page_table(result),
        "Recall is the share of the article's characters that is kept; precision the share of kept characters that "
        "belongs to the article (the measure of main-content extraction benchmarks such as trafilatura's).",
        "## HTML news pages, block level", html_block_table(result),
        "Content is every label but boilerplate: content recall is the share of article blocks kept.",
        "## Pages, worst first", worst_pages_table(result),
        "## Calibration", f"Expected calibration error (15 bins): {fmt(model['ece'])}.\n\n![reliability](reliability.png)",
        "## Confusion matrix", "![confusion](confusion.png)",
        "## Speed",
        f"{speed['blocks_per_second']:.1f} blocks/s; {speed['ms_per_page_mean']:.0f} ms per document on average "
        f"(median {speed['ms_per_page_median']:.0f} ms, {speed['pages']} documents), {speed.get('backend', 'pytorch')} backend. "
        f"Hardware: {speed['hardware']}.",
        "## The 30 most confident mistakes", mistakes_table(result["mistakes"]),
    ]
    (out_dir / "report.md").write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return headline
