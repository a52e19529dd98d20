"""Machine formats for check results: GitHub workflow annotations, JUnit XML, Markdown.

Pure functions returning text; the CLI decides where it goes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from planner import units as U
from planner.plan.check import CheckResult


def _escape_annotation(text: str) -> str:
    # GitHub workflow commands: %, CR and LF must be escaped in the message part
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github(results: list[CheckResult]) -> str:
    """`::error file=F,line=L,title=T::message` per failed check (and a notice per passing file)."""
    lines = []
    for r in results:
        failed = [c for c in r.checks if not c.passed]
        for c in failed:
            lines.append(f"::error file={r.source},line={c.line},title=planner check {c.name}::"
                         + _escape_annotation(f"{c.message} (expected {c.expected}, got {c.actual})"))
        if not failed:
            lines.append(f"::notice file={r.source},line=1,title=planner check::"
                         + _escape_annotation(f"{r.name}: all {len(r.checks)} checks pass"))
    return "\n".join(lines) + "\n"


def junit(results: list[CheckResult]) -> str:
    suites = ET.Element("testsuites", name="planner check",
                        tests=str(sum(len(r.checks) for r in results)),
                        failures=str(sum(1 for r in results for c in r.checks if not c.passed)))
    for r in results:
        suite = ET.SubElement(suites, "testsuite", name=r.name, file=r.source, tests=str(len(r.checks)),
                              failures=str(sum(1 for c in r.checks if not c.passed)))
        for c in r.checks:
            case = ET.SubElement(suite, "testcase", name=c.name, classname=r.name, file=r.source, line=str(c.line))
            if not c.passed:
                failure = ET.SubElement(case, "failure", message=c.message, type="AssertionFailed")
                failure.text = f"expected {c.expected}, got {c.actual}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def markdown(results: list[CheckResult]) -> str:
    """A PR comment: one section per file, a table of checks, the plan's headline numbers."""
    out = []
    for r in results:
        status = "✅ pass" if r.passed else "❌ fail"
        p = r.plan
        out += [f"### planner check: `{r.source}` — {status}", ""]
        c = p.cluster
        if c is not None and p.ttft_s is not None and p.tpot_s is not None:
            out += [f"{p.model} on {p.hardware} for {p.workload}: {c.gpus:,} GPUs, "
                    f"{c.racks:,} racks, {c.power_w / 1e3:,.1f} kW, TTFT "
                    f"{U.format_seconds(p.ttft_s)}, TPOT {U.format_seconds(p.tpot_s)}", ""]
        out += ["| check | expected | actual | result |", "|---|---|---|---|"]
        for check in r.checks:
            out.append(f"| {check.name} | {check.expected} | {check.actual} | "
                       f"{'pass' if check.passed else '**fail**'} |")
        failed = [check for check in r.checks if not check.passed]
        if failed:
            out += ["", *[f"- `{f.name}` (line {f.line}): {f.message}" for f in failed]]
        out.append("")
    return "\n".join(out)
