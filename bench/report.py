"""The bench's table (stdout) and docs/benchmarks.md."""

import datetime
from pathlib import Path

from .timing import Result


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "req/s":
        return f"{value:,.1f} req/s"
    if unit == "":
        return "yes" if value else "no"
    return f"{value:,.1f} {unit}".strip()


def _status(result: Result) -> str:
    return {True: "met", False: "MISSED", None: "—"}[result.met]


def text(result: Result) -> str:
    lines = [f"  {result.name}"]
    for name, value in result.values.items():
        lines.append(f"    {name:<58} {_fmt(value, result.unit)}")
    ratio = result.ratio()
    if ratio:
        lines.append(
            f"    {'ratio (' + result.candidate + ' vs ' + result.baseline + ')':<58} {ratio:,.1f}×"
        )
    for key, value in result.extra.items():
        if key == "plan":
            continue
        lines.append(f"    {key:<58} {value}")
    if result.target:
        lines.append(f"    target: {result.target} -> {_status(result)}")
    return "\n".join(lines)


def write(
    results,
    *,
    path: Path,
    command: str,
    machine: dict,
    seed_seconds: float,
    total_seconds: float,
    large: int,
):
    today = datetime.date.today().isoformat()
    out = [
        "# Benchmarks",
        "",
        f"Last run: {today}, `{command}` (written by the bench itself; do not edit by hand).",
        "Each candidate ran beside its baseline in the same run: interleaved rounds, median",
        "reported. Data: `bench/seed.py` (a 2,000-user tenant with 1,200 call records and 365",
        "By-user rows per user and one user with 1,000,000 call records and 10,000 By-user rows;",
        f"a {large:,}-user tenant; 20 neighbouring tenants of 500 users).",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items()],
        f"| seeding + run | {seed_seconds:.0f} s + {total_seconds - seed_seconds:.0f} s |",
        "",
        "## Summary",
        "",
        "| benchmark | candidate | baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r.ratio()
        cand = (
            _fmt(r.values[r.candidate], r.unit)
            if r.candidate
            else "; ".join(f"{k}: {_fmt(v, r.unit)}" for k, v in r.values.items())
        )
        base = f"{r.baseline}: {_fmt(r.values[r.baseline], r.unit)}" if r.baseline else ""
        out.append(
            f"| {r.name} | {cand} | {base} | {f'{ratio:,.1f}×' if ratio else ''} | {r.target} | {_status(r)} |"
        )
    out += ["", "## Details", ""]
    for r in results:
        out += [f"### {r.name}", "", "| | |", "|---|---|"]
        out += [f"| {k} | {_fmt(v, r.unit)} |" for k, v in r.values.items()]
        out += [f"| {k} | {v} |" for k, v in r.extra.items() if k != "plan"]
        if r.target:
            out.append(f"| target | {r.target}: **{_status(r)}** |")
        if "plan" in r.extra:
            out += ["", "```", r.extra["plan"], "```"]
        out.append("")
    path.write_text("\n".join(out) + "\n")
