"""The typed plan (the result of size, estimate and pinned proposals), its verdicts, files, check, diff and reports."""
