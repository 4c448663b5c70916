"""`--plot FILE`: latency percentiles and throughput against concurrency, per backend.

Drawn with matplotlib (`pip install memscreen-llm-core[bench]`): one library for both
outputs, a PNG and a self-contained HTML page (the chart as inline SVG, no script and
nothing fetched), drawn without a display and without pyplot's global state.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ._report import table, workload_line
from ._runner import BenchRun

FORMATS = (".png", ".html", ".htm")
EXTRA_FIX = "pip install 'memscreen-llm-core[bench]'"
_STYLES = (("p50", "-"), ("p90", "--"), ("p99", ":"))


def check_plot_path(path: str) -> Path:
    """The plot's path, checked before the run: its format, matplotlib, its folder."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise UsageError(f"--plot {path}: the file must end in .png or .html")
    try:
        import matplotlib  # noqa: F401 - checked now, not after the run
    except ImportError:
        raise UsageError(f"--plot needs matplotlib, which is not installed: {EXTRA_FIX}") from None
    if not target.parent.is_dir():
        raise UsageError(f"--plot {path}: folder {str(target.parent)!r} does not exist")
    return target


def write_plot(path: Path, run: BenchRun) -> None:
    figure = _figure([level.stats() for level in run.levels if level.records], run)
    if path.suffix.lower() == ".png":
        figure.savefig(path, format="png", dpi=100)
        return
    svg = io.StringIO()
    figure.savefig(svg, format="svg")
    path.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>memscreen-llm bench</title></head><body>\n<h1>memscreen-llm bench</h1>\n"
        + _svg_element(svg.getvalue())
        + f"\n<pre>{html.escape(table(run))}</pre>\n</body></html>\n", encoding="utf-8")


def _svg_element(document: str) -> str:
    """The <svg> element of an SVG document (its XML prologue and doctype dropped)."""
    return document[document.index("<svg"):]


def _figure(rows: list[dict[str, Any]], run: BenchRun) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7.5), layout="constrained")
    axes = figure.subplots(2, 2)
    backends = list(dict.fromkeys(row["backend"] for row in rows))
    colors = {name: f"C{number}" for number, name in enumerate(backends)}
    panels = (
        (axes[0][0], "ttft_ms", "time to first token (ms)"),
        (axes[0][1], "e2el_ms", "end-to-end latency (ms)"),
    )
    for ax, key, title in panels:
        values = [row[key][stat] for row in rows for stat, _ in _STYLES
                  if row[key][stat] is not None and row[key][stat] > 0]
        if values and max(values) > 20 * min(values):  # backends decades apart: log scale
            ax.set_yscale("log")
            title = title.replace("(ms)", "(ms, log scale)")
        ax.set_title(title)
        drawn = False
        for name in backends:
            mine = [row for row in rows if row["backend"] == name]
            for stat, style in _STYLES:
                points = [(row["concurrency"], row[key][stat]) for row in mine
                          if row[key][stat] is not None]
                if points:
                    drawn = True
                    ax.plot(*zip(*points, strict=True), style, marker="o", color=colors[name],
                            label=f"{name} {stat}")
        if drawn:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "not streamed" if not run.workload.stream else "no data",
                    ha="center", va="center", transform=ax.transAxes)
    for ax, key, title in ((axes[1][0], "output_throughput", "output tokens/s"),
                           (axes[1][1], "request_throughput", "requests/s")):
        ax.set_title(title)
        for name in backends:
            points = [(row["concurrency"], row[key]) for row in rows
                      if row["backend"] == name and row[key] is not None]
            if points:
                ax.plot(*zip(*points, strict=True), "-", marker="o", color=colors[name], label=name)
        if backends:
            ax.legend(fontsize="small")
    levels = sorted({row["concurrency"] for row in rows})
    for ax in (axis for pair in axes for axis in pair):
        ax.set_xlabel("concurrency")
        if levels and levels[-1] >= 8 * levels[0]:
            ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(level) for level in levels])
        if ax.get_yscale() == "linear":
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    figure.suptitle(f"memscreen-llm bench: {', '.join(backends)}\n{workload_line(run)}",
                    fontsize="medium")
    return figure
