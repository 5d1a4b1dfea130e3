"""The insights report of a date range: ``report.md`` (Korean), ``drivers.csv``, ``gaps.csv`` (and Parquet copies
when pyarrow is installed — it is not a dependency of Sangdam).

``build_report`` is what ``sangdam insights report`` and the batch engine's insights activity call.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from sangdam.insights import aggregate
from sangdam.insights.gaps import GapReport, _text, build_gap_report

DRIVER_COLUMNS = ("intent", "turns", "conversations", "share")
GAP_COLUMNS = ("cluster", "size", "conversations", "share_of_gaps", "share_of_conversations", "kinds", "examples",
               "faq", "faq_by")


class ReportSummary(BaseModel):
    """What ``build_report`` wrote and the headline numbers."""

    since: dt.date
    until: dt.date
    out_dir: Path
    files: list[Path] = Field(default_factory=list)
    conversations: int
    containment_rate: float
    handoff_rate: float
    drivers: int
    gap_utterances: int
    gap_clusters: int


def build_report(engine: Engine, since: dt.date, until: dt.date | None, out_dir: Path, *,
                 llm: Any = None) -> ReportSummary:
    """Aggregate ``since``..``until`` (inclusive; ``until`` defaults to today), cluster the knowledge gaps and
    write the report files into ``out_dir`` (created). Re-running overwrites the same files."""
    from sangdam.config import get_settings

    until = until or get_settings().today_date()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contained = aggregate.containment(engine, since, until)
    drivers = aggregate.top_drivers(engine, since, until, limit=1000)
    gaps = build_gap_report(engine, since, until, conversations_in_range=contained.conversations, llm=llm)
    total_turns = sum(d.turns for d in drivers)
    driver_rows = [{"intent": d.intent, "turns": d.turns, "conversations": d.conversations,
                    "share": round(d.turns / total_turns, 4) if total_turns else 0.0} for d in drivers]
    gap_rows = [{"cluster": c.cluster, "size": c.size, "conversations": c.conversations,
                 "share_of_gaps": c.share_of_gaps, "share_of_conversations": c.share_of_conversations,
                 "kinds": ";".join(f"{k}={v}" for k, v in sorted(c.kinds.items())),
                 "examples": " | ".join(c.examples), "faq": c.faq, "faq_by": c.faq_by} for c in gaps.clusters]
    files = [*_write_table(out_dir / "drivers", DRIVER_COLUMNS, driver_rows),
             *_write_table(out_dir / "gaps", GAP_COLUMNS, gap_rows)]
    markdown = _markdown(engine, since, until, contained, driver_rows, gaps)
    (out_dir / "report.md").write_text(markdown, encoding="utf-8")
    files.insert(0, out_dir / "report.md")
    return ReportSummary(
        since=since, until=until, out_dir=out_dir, files=files, conversations=contained.conversations,
        containment_rate=round(contained.containment_rate, 4), handoff_rate=round(contained.handoff_rate, 4),
        drivers=len(drivers), gap_utterances=gaps.total, gap_clusters=len(gaps.clusters),
    )


def _write_table(stem: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> list[Path]:
    """``stem.csv`` (UTF-8 with BOM, so spreadsheet tools read the Korean) and ``stem.parquet`` when pyarrow is
    importable."""
    path = stem.with_suffix(".csv")
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    written = [path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    table = pa.table({c: [r[c] for r in rows] for c in columns})
    pq.write_table(table, stem.with_suffix(".parquet"))
    return [*written, stem.with_suffix(".parquet")]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _markdown(engine: Engine, since: dt.date, until: dt.date, contained: aggregate.Containment,
              drivers: list[dict[str, Any]], gaps: GapReport) -> str:
    t = lambda key, **v: _text(f"report.{key}", **v)  # noqa: E731 - local shorthand for the report's labels
    lines = [f"# {t('title', since=since.isoformat(), until=until.isoformat())}", "",
             t("generated", at=dt.datetime.now().replace(microsecond=0).isoformat(sep=' ')), "",
             f"## {t('overview')}", "",
             f"| {t('conversations')} | {t('contained')} | {t('handed_off')} | {t('containment_rate')} | "
             f"{t('handoff_rate')} |", "|---:|---:|---:|---:|---:|",
             f"| {contained.conversations:,} | {contained.contained:,} | {contained.handed_off:,} | "
             f"{_pct(contained.containment_rate)} | {_pct(contained.handoff_rate)} |", ""]
    volume = aggregate.volume_per_day(engine, since, until)
    lines += [f"## {t('volume')}", "", f"| {t('day')} | {t('conversations')} |", "|---|---:|",
              *[f"| {d.day.isoformat()} | {d.conversations:,} |" for d in volume], ""]
    lines += [f"## {t('drivers')}", "", f"| {t('intent')} | {t('turns')} | {t('conversations')} | {t('share')} |",
              "|---|---:|---:|---:|",
              *[f"| `{d['intent']}` | {d['turns']:,} | {d['conversations']:,} | {_pct(d['share'])} |"
                for d in drivers[:20]], ""]
    lines += _gap_section(gaps, t)
    qa = aggregate.qa_pass_rates(engine, since, until)
    lines += [f"## {t('qa')}", ""]
    lines += ([f"| {t('qa_item')} | {t('pass_rate')} |", "|---|---:|",
               *[f"| `{q.item}` | {_pct(q.pass_rate)} ({q.passed}/{q.passed + q.failed}) |" for q in qa]]
              if qa else [t("none")])
    sentiment = aggregate.sentiment_trend(engine, since, until)
    lines += ["", f"## {t('sentiment')}", ""]
    lines += ([f"| {t('day')} | {t('turns')} | {t('average_score')} | {t('negative')} | {t('angry')} | "
               f"{t('escalations')} |", "|---|---:|---:|---:|---:|---:|",
               *[f"| {s.day.isoformat()} | {s.turns:,} | {s.average_score:+.2f} | {s.negative:,} | {s.angry:,} | "
                 f"{s.escalations:,} |" for s in sentiment]] if sentiment else [t("none")])
    lines += ["", f"## {t('files')}", "", "- `drivers.csv`", "- `gaps.csv`", ""]
    return "\n".join(lines)


def _gap_section(gaps: GapReport, t: Any) -> list[str]:
    lines = [f"## {t('gaps')}", ""]
    if not gaps.clusters:
        return [*lines, t("gaps_none"), ""]
    lines += [t("gaps_intro", total=f"{gaps.total:,}"), ""]
    if gaps.used < gaps.total:
        lines += [t("gaps_sampled", used=f"{gaps.used:,}", total=f"{gaps.total:,}"), ""]
    kind_names = _text_map("gap_kinds")
    for c in gaps.clusters:
        kinds = ", ".join(f"{kind_names.get(k, k)} {v}" for k, v in sorted(c.kinds.items(), key=lambda kv: -kv[1]))
        lines += [f"### {t('cluster', n=c.cluster, size=c.size, share=_pct(c.share_of_gaps))}", "",
                  f"- {t('kinds')}: {kinds}", f"- {t('examples')}:", *[f"  - {e}" for e in c.examples],
                  f"- {t('faq')}:", "", "```", c.faq, "```", ""]
    return lines


def _text_map(key: str) -> dict[str, str]:
    from sangdam.orchestrator.resources import load_resource

    return dict(load_resource("insights/ko.yaml")[key])
