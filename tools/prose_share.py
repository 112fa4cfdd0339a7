"""How much of each notebook's code exists to render sentences rather than to teach.

    python tools/prose_share.py                  # every notebook and solution
    python tools/prose_share.py --max 0.05 NB... # exit 1 if any share is above 5%

Per notebook: code lines; lines that render prose (inside `display(Markdown(...))`, or a `print` of a
string with more than eight words: a sentence, not a label); cells whose output nbval checks (tag
`nbval-check-output`);
`settings.pick` uses outside the set-up cell; lines of the Colab set-up. The lessons belong in markdown
cells, the numbers in `report.table`s and figures next to them (issue 29: at most 5% of code lines).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROSE_START = re.compile(r"display\(\s*$|display\(\s*Markdown\(|Markdown\(\s*f?[\"']|\bprint\(")
WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*")


@dataclass
class Share:
    code: int = 0
    prose: int = 0
    checks: int = 0
    picks: int = 0
    colab: int = 0

    @property
    def share(self) -> float:
        return self.prose / max(self.code, 1)


def _literal_words(statement: str) -> int:
    """Words in the string literals of `statement`, outside {…} replacement fields."""
    strings = re.findall(r"[rfbu]*(\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"[^\"\n]*\"|'[^'\n]*')", statement)
    text = " ".join(re.sub(r"\{[^{}]*\}", " ", literal) for literal in strings)
    return len(WORDS.findall(text))


def _statements(lines):
    """(first, last) line indices of each call that starts with a PROSE_START match."""
    index = 0
    while index < len(lines):
        match = PROSE_START.search(lines[index])
        if not match:
            index += 1
            continue
        depth, end = 0, index
        for end in range(index, len(lines)):
            segment = lines[end][match.start() :] if end == index else lines[end]
            depth += segment.count("(") - segment.count(")")
            if depth <= 0 and not lines[end].rstrip().endswith("("):
                break
        yield index, end, match.group(0).startswith("print")
        index = end + 1


def count(path: Path) -> Share:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    result = Share()
    setup_seen = False
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = source.splitlines()
        result.code += len(lines)
        if "google.colab" in source:
            result.colab += len(lines)
        if "NBVAL_CHECK_OUTPUT" in source or "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            result.checks += 1
        if setup_seen:
            result.picks += len(re.findall(r"settings\.pick\(", source))
        setup_seen = setup_seen or "setup_notebook()" in source
        for first, last, is_print in _statements(lines):
            statement = "\n".join(lines[first : last + 1])
            if not is_print or _literal_words(statement) > 8:
                result.prose += last - first + 1
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--max", type=float, help="exit 1 if a notebook's prose share is above this")
    args = parser.parse_args()
    paths = args.notebooks or sorted(ROOT.glob("notebooks/[0-9]*.ipynb")) + sorted(ROOT.glob("solutions/[0-9]*.ipynb"))
    total, over = Share(), []
    print(f"{'notebook':44} code  prose%  checks  picks  colab")
    for path in paths:
        share = count(path)
        for field in ("code", "prose", "checks", "picks", "colab"):
            setattr(total, field, getattr(total, field) + getattr(share, field))
        if args.max is not None and share.share > args.max:
            over.append(path.name)
        print(f"{path.name:44} {share.code:4}  {share.share:6.1%}  {share.checks:6} {share.picks:6} {share.colab:6}")
    print(f"{'all':44} {total.code:4}  {total.share:6.1%}  {total.checks:6} {total.picks:6} {total.colab:6}")
    if over:
        print(f"above {args.max:.0%}: {', '.join(over)}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
