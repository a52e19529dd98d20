"""A verdict: which resource bounds a phase (or why a plan is infeasible), by how much, and the lever."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    error = "error"      # infeasible: a target is missed or something does not fit
    warning = "warning"  # works, but a resource is wasted or exposed
    info = "info"        # which resource binds, and by how much


SEVERITY_ORDER = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}
BALANCED_WITHIN = 0.15      # two terms within 15% of each other: call the phase balanced


@dataclass(frozen=True)
class Verdict:
    phase: str
    resource: str
    severity: Severity
    message: str
    lever: str = ""

    def to_dict(self) -> dict:
        return {"phase": self.phase, "resource": self.resource, "severity": self.severity.value,
                "message": self.message, "lever": self.lever}
