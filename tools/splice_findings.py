#!/usr/bin/env python3
"""Splice the numbers of rendered acdc reports into a findings page.

    python3 tools/splice_findings.py PAGE.md TITLE=REPORT.md [TITLE=REPORT.md ...]

Replaces everything between the markers

    <!-- findings:begin -->
    <!-- findings:end -->

in PAGE.md with, for each report (a `reports/<experiment>/README.md` written by `acdc report` /
`acdc run`), a section titled TITLE holding the report's results table, its zero-shot probe table
and its comparisons (headings one level down, figures and notes left in the report). Text outside
the markers is kept as written: that is where people say what the numbers mean.

Used by tools/miniature_findings.sh; it copies what the reports say and computes nothing.
"""

import re
import sys

BEGIN = "<!-- findings:begin -->"
END = "<!-- findings:end -->"

# Sections of a report that carry numbers, in the order they are copied.
KEEP = ("Results", "Zero-shot instruction probes", "Comparisons")
# Sub-sections of those left in the report (explanations, not numbers).
DROP_SUB = ("Metrics",)


def sections(text):
    """The report's `## ` sections as (title, body lines)."""
    out, title, body = [], None, []
    for line in text.splitlines():
        m = re.match(r"^## (.+)$", line)
        if m:
            if title is not None:
                out.append((title, body))
            title, body = m.group(1).strip(), []
        elif title is not None:
            body.append(line)
    if title is not None:
        out.append((title, body))
    return out


def numbers_of(report_path):
    text = open(report_path, encoding="utf-8").read()
    lines = []
    for title, body in sections(text):
        if title not in KEEP:
            continue
        lines.append(f"### {title}")
        skipping = False
        for line in body:
            sub = re.match(r"^### (.+)$", line)
            if sub:
                skipping = sub.group(1).strip() in DROP_SUB
                if not skipping:
                    lines.append("#" + line)
                continue
            if not skipping:
                lines.append(line)
    if not lines:
        sys.exit(f"{report_path}: no {', '.join(KEEP)} section: is it an acdc report?")
    # One blank line between blocks.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    page = sys.argv[1]
    parts = []
    for arg in sys.argv[2:]:
        title, sep, report = arg.partition("=")
        if not sep:
            sys.exit(f"{arg}: expected TITLE=REPORT.md")
        parts.append(f"## {title}\n\n_From `{report}`._\n\n{numbers_of(report)}")
    text = open(page, encoding="utf-8").read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{page}: the markers {BEGIN} and {END} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = "\n\n".join(parts)
    open(page, "w", encoding="utf-8").write(f"{head}{BEGIN}\n\n{body}\n\n{END}{tail}")


if __name__ == "__main__":
    main()
