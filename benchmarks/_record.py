"""Where benchmark records go: ``benchmarks/results/<name>.json``, with the device in the record."""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def write_record(record: dict, name: str, out: Path | None = None) -> Path:
    """Write ``record`` as indented JSON to ``out`` (default ``results/<name>.json``) and say where."""
    out = out or RESULTS / f"{name}.json"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(f"wrote {out}")
    return out
