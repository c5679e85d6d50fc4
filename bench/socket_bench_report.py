"""Turning socket_bench samples into medians, ratios to C, a Markdown table, JSON and a plot."""
import datetime
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path


def parse_client_output(stdout, what):
    """Parse a client's ``{"ops": N, "seconds": T, "cpu_seconds": C}`` line.

    Raises ValueError naming ``what`` if the line is malformed or a value is not positive.
    """
    try:
        result = json.loads(stdout.strip().splitlines()[-1])
        values = result["ops"], result["seconds"], result["cpu_seconds"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise ValueError(f"{what}: client printed {stdout!r}, expected "
                         f"{{\"ops\": N, \"seconds\": T, \"cpu_seconds\": C}}") from None
    if not (isinstance(values[0], int) and all(isinstance(v, (int, float)) and v > 0 for v in values)):
        raise ValueError(f"{what}: client result {result!r} needs ops, seconds and cpu_seconds > 0")
    return result


def summarize(measurements, variants, samples):
    """Medians, spreads and ratios to the C variant (``variants[0]``) per measurement.

    ``samples`` is ``{measurement.key: {variant.key: [rate, ...]}}``.  Returns a list of dicts, one
    per measurement: key, title, unit, target and ``variants`` = ``{variant.key: {"label",
    "samples", "median", "spread" (max-min over median), "ratio" (median / C median)}}``.
    """
    rows = []
    c_key = variants[0].key
    for m in measurements:
        c_median = statistics.median(samples[m.key][c_key])
        cells = {}
        for v in variants:
            values = samples[m.key][v.key]
            median = statistics.median(values)
            cells[v.key] = {
                "label": v.label,
                "samples": values,
                "median": median,
                "spread": (max(values) - min(values)) / median,
                "ratio": median / c_median,
            }
        rows.append({"key": m.key, "title": m.title, "unit": m.unit, "target": m.target,
                     "variants": cells})
    return rows


def _cpu_model() -> str:
    """The host CPU's model name (bsp.identity reads it the way board summaries do)."""
    from bsp.identity import cpu_name
    return cpu_name(Path("/"))


def _virtualized():
    try:
        return " hypervisor" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _output_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "unknown"


def machine_facts(cpu, python):
    """Facts that make a run reproducible: CPUs, CPU model, kernel, Python and gcc versions, and
    the 1-minute load average now (call it before the runs; set ``loadavg_end`` after them)."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "virtualized": _virtualized(),
        "kernel": platform.release(),
        "python": _output_of([python, "-c", "import sys; print(sys.version.split()[0])"]),
        "gcc": _output_of(["gcc", "-dumpfullversion"]),
        "pinned_cpu": cpu,
        "loadavg_start": os.getloadavg()[0],
        "measured_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


KILN_VARIANTS = ("zerynth", "micropython")


def _cell(key, cell, target):
    text = f"{cell['median']:,.0f} ±{cell['spread'] * 50:.0f}%"
    if key == "c":
        return text
    verdict = ""
    if key in KILN_VARIANTS:
        verdict = " ok" if cell["ratio"] >= target else " MISS"
    return f"{text} ({cell['ratio']:.3f}{verdict})"


CLOCK_TEXT = {
    "wall": "Rates are per elapsed (wall-clock) second.",
    "cpu": "Rates are per CPU second used by the client and its peer together (--clock cpu), "
           "which discounts time other programs took from the CPU.",
}


def format_header(facts, *, reps, seconds, cpu, command):
    """Markdown paragraph saying how the numbers were made and on which machine."""
    return "\n".join([
        f"Median of {reps} runs x {seconds:g} s each. Every client talks to the same C peer "
        f"(bench/c/peer.c), so only the client implementation differs; client and peer are both "
        f"pinned to CPU {cpu} (taskset). Cell = median ±half-range (ratio to the C client).",
        f"Machine: {facts['nproc']} CPUs, {facts['cpu_model']}"
        f"{' (virtualized)' if facts['virtualized'] else ''}, Linux {facts['kernel']}, "
        f"Python {facts['python']}, gcc {facts['gcc']}; {facts['measured_utc']}. 1-min load average {facts['loadavg_start']:.2f} "
        f"before, {facts.get('loadavg_end', float('nan')):.2f} after (other load makes wall-clock "
        f"numbers noisy).",
        f"Command: {command}",
    ])


def format_table(summary, clock="wall"):
    """One Markdown table, a row per measurement, preceded by what the rates are per (``clock``:
    "wall" or "cpu").

    Each cell is ``median ±half-range% (ratio to C)``; Kiln cells say ``ok``/``MISS`` against the
    issue's target ratio.
    """
    variant_keys = list(summary[0]["variants"])
    labels = [summary[0]["variants"][k]["label"] for k in variant_keys]
    lines = [
        CLOCK_TEXT[clock],
        "",
        "| measurement | unit | " + " | ".join(labels) + " | target |",
        "|---|---|" + "---:|" * len(labels) + "---:|",
    ]
    for row in summary:
        cells = [_cell(k, row["variants"][k], row["target"]) for k in variant_keys]
        lines.append(f"| {row['title']} | {row['unit']} | " + " | ".join(cells)
                     + f" | >= {row['target']:.2f} |")
    return "\n".join(lines)


def write_json(path, summaries, facts, options):
    """Write samples, medians and ratios (``summaries``: {clock: summary}), machine facts and the
    options used to ``path``."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()}
    Path(path).write_text(json.dumps({"options": options, "machine": facts, "results": summaries},
                                     indent=2) + "\n")


def require_matplotlib():
    """Raise ImportError naming the fix when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("--plot needs matplotlib: .venv/bin/pip install matplotlib") from None


def plot_ratios(path, summary, clock="wall"):
    """Draw a grouped bar chart of ratios to C (with target markers) into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in summary[0]["variants"] if k != "c"]
    width = 0.8 / max(len(keys), 1)
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, key in enumerate(keys):
        xs = [j + i * width for j in range(len(summary))]
        ax.bar(xs, [row["variants"][key]["ratio"] for row in summary], width,
               label=summary[0]["variants"][key]["label"])
    for j, row in enumerate(summary):
        ax.hlines(row["target"], j - width / 2, j + width * (len(keys) - 0.5), colors="k",
                  linestyles="dashed")
    ax.set_xticks([j + width * (len(keys) - 1) / 2 for j in range(len(summary))])
    ax.set_xticklabels([row["title"] for row in summary], rotation=15, fontsize=8)
    ax.axhline(1.0, color="grey", linewidth=0.5)
    ax.set_ylabel("ratio to C (dashed: target)")
    ax.set_title(f"Kiln socket benchmark, rates per {'CPU' if clock == 'cpu' else 'wall-clock'} second",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
