"""Do two executions of the book's chapters show the same outputs? Compares executed notebooks output by output.

    python tools/compare_chapters.py OLD.ipynb NEW.ipynb        # two executed notebooks
    python tools/compare_chapters.py OLD_DIR NEW_DIR            # the notebooks of the same name in two folders
    python tools/compare_chapters.py --rev HEAD                 # book/chapters/*.ipynb at a git revision against
    python tools/compare_chapters.py --rev HEAD measures status #   the working tree (all chapters, or those named)

What a reader sees is compared; how and when it was computed is not. Text outputs (``text/plain``,
``text/markdown``, ``text/html`` and any other non-image type) must be equal character for character; images
(``image/png``, ``image/svg+xml``, …) byte for byte, compared by their SHA-256. Execution counts, cell and notebook
metadata (papermill's timings, the chapter's fingerprint), cell ids, papermill's injected-parameters cell and the
runner's profile note are ignored. Code cells are matched by their source, so an added or removed cell shows as
such; a cell whose source changed is still compared with the one it replaced, and its changed source is reported
as a note (not a difference). Markdown cells are the source's text, not outputs: a changed one is a note too.

One line per chapter (``same`` or ``DIFFERS``), then each difference: the cell, the output and, for text, the
first differing lines. Exit status: 0 when every chapter shows the same outputs, 1 when any differs or is missing
on one side, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import base64
import difflib
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = "book/chapters"
IGNORED_TAGS = {"injected-parameters", "profile-note"}  # papermill's parameters cell, the runner's profile line
MAX_DIFF_LINES = 6  # differing lines shown per text output
MAX_LINE = 160  # characters shown per differing line


@dataclass
class Report:
    """What differs between two executions of one chapter (``differences``) and what changed that is not an
    output (``notes``: cell sources)."""
    name: str
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outputs: int = 0  # outputs compared

    @property
    def same(self) -> bool:
        return not self.differences

    def lines(self) -> list[str]:
        head = f"{self.name}: " + (f"same ({self.outputs} outputs)" if self.same else
                                   f"DIFFERS ({len(self.differences)} of {self.outputs} outputs)")
        return [head, *(f"  {d}" for d in self.differences), *(f"  note: {n}" for n in self.notes)]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _image_digest(value) -> str:
    raw = _text(value)
    try:
        data = base64.b64decode("".join(raw.split()), validate=True)
    except ValueError:  # a text image (SVG) is stored as it is
        data = raw.encode()
    return hashlib.sha256(data).hexdigest()


def output_items(output: dict) -> dict[str, str]:
    """One output as ``{kind: value}``: ``stream:stdout`` → its text, each MIME type → its text or, for an image,
    ``sha256:<digest>``, ``error`` → its name, value and traceback. Metadata and execution counts are left out."""
    kind = output.get("output_type")
    if kind == "stream":
        return {f"stream:{output.get('name', '')}": _text(output.get("text", ""))}
    if kind == "error":
        return {"error": "\n".join([f"{output.get('ename')}: {output.get('evalue')}",
                                    *map(str, output.get("traceback", []))])}
    items = {}
    for mime, value in sorted(output.get("data", {}).items()):
        if mime.startswith("image/"):
            items[mime] = "sha256:" + _image_digest(value)
        elif isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            items[mime] = _text(value)
        else:  # application/json and the like
            items[mime] = json.dumps(value, sort_keys=True)
    return items


def _cells(nb: dict) -> list[dict]:
    return [c for c in nb.get("cells", []) if not IGNORED_TAGS & set(c.get("metadata", {}).get("tags", []))]


def _label(cell: dict) -> str:
    first = next((line for line in _text(cell.get("source", "")).splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"cell {cell.get('id', '?')} ({first})"


def _text_diff(old: str, new: str) -> list[str]:
    lines = [line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    shown = [("    " + line)[:MAX_LINE] for line in lines[:MAX_DIFF_LINES]]
    if len(lines) > MAX_DIFF_LINES:
        shown.append(f"    … {len(lines) - MAX_DIFF_LINES} more differing lines")
    return shown


def _compare_outputs(old: dict, new: dict, report: Report) -> None:
    label = _label(new)
    a, b = old.get("outputs", []), new.get("outputs", [])
    report.outputs += max(len(a), len(b))
    if len(a) != len(b):
        report.differences.append(f"{label}: {len(a)} outputs before, {len(b)} now")
    for i, (x, y) in enumerate(zip(a, b), start=1):
        ix, iy = output_items(x), output_items(y)
        for kind in sorted(set(ix) | set(iy)):
            if ix.get(kind) == iy.get(kind):
                continue
            where = f"{label}: output {i} {kind}"
            if kind not in ix or kind not in iy:
                report.differences.append(f"{where} {'added' if kind not in ix else 'removed'}")
            elif kind.startswith("image/"):
                report.differences.append(f"{where} differs ({ix[kind][7:19]} → {iy[kind][7:19]})")
            else:
                report.differences.append("\n".join([f"{where} differs:", *_text_diff(ix[kind], iy[kind])]))


def compare_notebooks(old: dict, new: dict, name: str = "notebook") -> Report:
    """Compare two executed notebooks (parsed JSON) output by output; see the module's docstring."""
    report = Report(name)
    old_cells, new_cells = _cells(old), _cells(new)
    old_md = [_text(c.get("source", "")) for c in old_cells if c.get("cell_type") == "markdown"]
    new_md = [_text(c.get("source", "")) for c in new_cells if c.get("cell_type") == "markdown"]
    if old_md != new_md:
        changed = sum(1 for op in difflib.SequenceMatcher(a=old_md, b=new_md, autojunk=False).get_opcodes()
                      if op[0] != "equal")
        report.notes.append(f"markdown text changed in {changed} place(s)")
    old_code = [c for c in old_cells if c.get("cell_type") == "code"]
    new_code = [c for c in new_cells if c.get("cell_type") == "code"]
    matcher = difflib.SequenceMatcher(a=[_text(c.get("source", "")) for c in old_code],
                                      b=[_text(c.get("source", "")) for c in new_code], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            for x, y in zip(old_code[i1:i2], new_code[j1:j2]):
                if op == "replace":
                    report.notes.append(f"{_label(y)}: source changed")
                _compare_outputs(x, y, report)
            continue
        for x in old_code[i1:i2]:
            report.outputs += len(x.get("outputs", []))
            report.differences.append(f"{_label(x)}: removed (had {len(x.get('outputs', []))} outputs)")
        for y in new_code[j1:j2]:
            report.outputs += len(y.get("outputs", []))
            report.differences.append(f"{_label(y)}: added ({len(y.get('outputs', []))} outputs)")
    return report


def _missing(name: str, where: str) -> Report:
    return Report(name, differences=[f"missing {where}"])


def compare_files(old: Path, new: Path, name: str | None = None) -> Report:
    name = name or new.stem
    if not old.exists() or not new.exists():
        return _missing(name, f"({old if not old.exists() else new} does not exist)")
    return compare_notebooks(json.loads(old.read_text()), json.loads(new.read_text()), name)


def compare_dirs(old: Path, new: Path, names: list[str]) -> list[Report]:
    names = names or sorted({p.stem for d in (old, new) for p in d.glob("*.ipynb") if not p.name.startswith(".")})
    return [compare_files(old / f"{n}.ipynb", new / f"{n}.ipynb", n) for n in names]


def _git_show(rev: str, path: str, root: Path) -> str | None:
    done = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def _git_names(rev: str, root: Path) -> list[str]:
    done = subprocess.run(["git", "ls-tree", "--name-only", rev, f"{CHAPTERS_DIR}/"], cwd=root,
                          capture_output=True, text=True, check=True)
    return [Path(p).stem for p in done.stdout.split() if p.endswith(".ipynb") and not Path(p).name.startswith(".")]


def compare_rev(rev: str, names: list[str], root: Path = ROOT) -> list[Report]:
    """``book/chapters/<name>.ipynb`` at git revision ``rev`` against the working tree's."""
    here = root / CHAPTERS_DIR
    names = names or sorted(set(_git_names(rev, root)) | {p.stem for p in here.glob("*.ipynb")
                                                          if not p.name.startswith(".")})
    reports = []
    for name in names:
        old = _git_show(rev, f"{CHAPTERS_DIR}/{name}.ipynb", root)
        new = here / f"{name}.ipynb"
        if old is None:
            reports.append(_missing(name, f"at {rev}"))
        elif not new.exists():
            reports.append(_missing(name, "in the working tree"))
        else:
            reports.append(compare_notebooks(json.loads(old), json.loads(new.read_text()), name))
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="OLD NEW (two notebooks or two folders); with --rev: chapter names")
    parser.add_argument("--rev", help=f"compare {CHAPTERS_DIR}/*.ipynb at this git revision with the working tree")
    args = parser.parse_args(argv)
    if args.rev:
        reports = compare_rev(args.rev, args.paths)
    elif len(args.paths) == 2:
        old, new = map(Path, args.paths)
        if old.is_dir() and new.is_dir():
            reports = compare_dirs(old, new, [])
        elif old.is_dir() or new.is_dir():
            parser.error("give two notebooks or two folders")
        else:
            reports = [compare_files(old, new)]
    else:
        parser.error("give OLD and NEW, or --rev REV")
    for report in reports:
        print("\n".join(report.lines()))
    differing = [r.name for r in reports if not r.same]
    print(f"\n{len(reports) - len(differing)} of {len(reports)} chapters show the same outputs"
          + (f"; differing: {', '.join(differing)}" if differing else ""))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
