"""Machine formats for check results: GitHub workflow commands, JUnit XML, Markdown (a PR comment
or step summary), SARIF 2.1.0 and JSON. Pure functions returning text; the CLI decides where it goes.

Nothing a user wrote can escape its field: workflow-command properties escape %, CR, LF, ':' and
',' and messages %, CR and LF (GitHub's toolkit escaping); XML drops the control characters XML
1.0 forbids; Markdown cells escape '|' and newlines.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from planner import __version__
from planner import units as U
from planner.plan.check import CheckResult

# The first line of the PR-comment body: a workflow finds its earlier comment by it and edits it
# in place instead of adding one per push.
COMMENT_MARKER = "<!-- planner-check -->"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _message(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _message(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, file: str, line: int, title: str, message: str) -> str:
    return (f"::{kind} file={_property(file)},line={line},title={_property(title)}::" + _message(message))


def github(results: list[CheckResult]) -> str:
    """One workflow command per failed check (error), per file that could not be checked (error),
    and a notice per passing file."""
    lines = []
    for r in results:
        if r.error is not None:
            lines.append(_command("error", r.source, 1, "planner check: input error", r.error))
            continue
        failed = [c for c in r.checks if not c.passed]
        for c in failed:
            lines.append(_command("error", r.source, c.line, f"planner check {c.name}",
                                  f"{c.message} (expected {c.expected}, got {c.actual})"))
        if not failed:
            lines.append(_command("notice", r.source, 1, "planner check", f"{r.name}: all {len(r.checks)} checks pass"))
    return "\n".join(lines) + "\n"


def _xml(text: str) -> str:
    return _XML_FORBIDDEN.sub("\ufffd", text)


def junit(results: list[CheckResult]) -> str:
    """One testcase per file: passed, <failure> listing its failed checks, or <error> when the
    file could not be checked; every check's line is in <system-out>."""
    suite = ET.Element("testsuite", name="planner check", tests=str(len(results)),
                       failures=str(sum(1 for r in results if r.outcome == "fail")),
                       errors=str(sum(1 for r in results if r.outcome == "error")))
    for r in results:
        case = ET.SubElement(suite, "testcase", name=_xml(r.source), classname="planner.check", file=_xml(r.source))
        if r.error is not None:
            error = ET.SubElement(case, "error", message=_xml(r.error), type="InputError")
            error.text = _xml(r.error)
            continue
        failed = [c for c in r.checks if not c.passed]
        if failed:
            failure = ET.SubElement(case, "failure", type="AssertionFailed",
                                    message=_xml("; ".join(f"{c.name}: {c.message}" for c in failed)))
            failure.text = _xml("\n".join(f"line {c.line}: {c.name}: expected {c.expected}, got {c.actual}"
                                          for c in failed))
        out = ET.SubElement(case, "system-out")
        out.text = _xml("\n".join(f"{'pass' if c.passed else 'FAIL'} {c.name}: expected {c.expected}, "
                                   f"got {c.actual}" for c in r.checks))
    suites = ET.Element("testsuites", name="planner check", tests=suite.get("tests", "0"),
                        failures=suite.get("failures", "0"), errors=suite.get("errors", "0"))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown(results: list[CheckResult], comment: bool = False) -> str:
    """A PR comment (with `comment`: the marker line that lets a workflow update it in place) or a
    step summary: one section per file, a table of checks, the plan's headline numbers."""
    passed = sum(1 for r in results if r.outcome == "pass")
    out = [COMMENT_MARKER] if comment else []
    out += [f"## planner check: {passed} of {len(results)} file(s) pass", ""]
    for r in results:
        status = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error"}[r.outcome]
        out += [f"### `{_cell(r.source)}` — {status}", ""]
        if r.error is not None:
            out += [f"could not be checked: {_cell(r.error)}", ""]
            continue
        p = r.plan
        c = p.cluster if p is not None else None
        if p is not None and c is not None and p.ttft_s is not None and p.tpot_s is not None:
            cost = f", {U.format_count(c.cost_per_hour)} $/hour" if c.cost_per_hour is not None else ""
            out += [f"{_cell(p.model)} on {_cell(p.hardware)} for {_cell(p.workload)}: {c.gpus:,} GPUs, "
                    f"{c.racks:,} racks, {c.power_w / 1e3:,.1f} kW{cost}, TTFT {U.format_seconds(p.ttft_s)}, "
                    f"TPOT {U.format_seconds(p.tpot_s)}", ""]
        out += ["| check | expected | actual | result |", "|---|---|---|---|"]
        for check in r.checks:
            out.append(f"| {_cell(check.name)} | {_cell(check.expected)} | {_cell(check.actual)} | "
                       f"{'pass' if check.passed else '**fail**'} |")
        failed = [check for check in r.checks if not check.passed]
        if failed:
            out += ["", *[f"- `{_cell(f.name)}` (line {f.line}): {_cell(f.message)}" for f in failed]]
        out.append("")
    return "\n".join(out)


def sarif(results: list[CheckResult]) -> str:
    """SARIF 2.1.0 for code-scanning upload: one result per failed check or unreadable file, at its
    file and line; one rule per kind of check."""
    rules: dict[str, dict[str, Any]] = {}
    found = []

    def add(rule: str, text: str, uri: str, line: int, description: str) -> None:
        rules.setdefault(rule, {"id": rule, "shortDescription": {"text": description}})
        found.append({"ruleId": rule, "level": "error", "message": {"text": text},
                      "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                                          "region": {"startLine": max(1, line)}}}]})
    for r in results:
        if r.error is not None:
            add("input-error", r.error, r.source, 1, "the file could not be read or evaluated")
            continue
        for c in r.checks:
            if not c.passed:
                rule = c.name.split("[")[0]
                add(rule, f"{c.message} (expected {c.expected}, got {c.actual})", r.source, c.line,
                    f"planner check assertion {rule}")
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "planner", "version": __version__,
                                         "rules": list(rules.values())}},
                     "results": found}]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
