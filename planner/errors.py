"""Errors that reach the user as one line and exit code 2.

Every user mistake (a bad file, an unknown preset, a value out of range) becomes an
`InputError` carrying where it happened and how to fix it; the CLI prints it as one line.
"""

from __future__ import annotations


class InputError(Exception):
    """A problem with what the user gave us: file, field, what is wrong, how to fix it."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.field = field
        self.hint = hint

    def one_line(self) -> str:
        where = ": ".join(p for p in (self.source, self.field) if p)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split())
