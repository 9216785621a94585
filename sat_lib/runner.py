"""Execute chapter notebooks with papermill into the book, and build the book with Jupyter Book.

``notebooks/<chapter>.md`` (the chapter's text and cells, MyST markdown read by jupytext) × a typed config →
``book/chapters/<chapter>.ipynb`` (executed). The executed copy is written to a temporary file first and renamed
into place only when the notebook ran to the end, so a failed run never replaces a good chapter.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from sat_lib._files import atomic_path
from sat_lib.config import ProjectConfig, overlay_path, project_config
from sat_lib.experiments import CHAPTERS, resolve_params
from sat_lib.experiments._chapter import result_key_params
from sat_lib.params import ChapterConfig

log = logging.getLogger(__name__)


class ChapterFailed(RuntimeError):
    """The notebook raised while executing; the message names the kept copy with the traceback."""


def _local_kernel_manager():
    """A kernel manager that talks to its kernel over IPC sockets in the Jupyter runtime folder, not over TCP on
    localhost: no open port and no "running over TCP without encryption" warning. Kernels are stopped at once
    when the notebook has finished (``shutdown_kernel="immediate"``), which also avoids ipykernel's
    "KeyboardInterrupt caught in kernel" on a slow graceful shutdown."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IPCKernelManager


def read_source(path: Path):
    """A chapter's MyST source as a notebook (``nbformat.NotebookNode``), its cells numbered ``cell-00``,
    ``cell-01``, … in order: ids that stay the same from one execution to the next (jupytext's are random), so
    executed chapters diff cleanly."""
    import jupytext

    nb = jupytext.read(path, fmt="md:myst")
    nb.metadata.pop("jupytext", None)  # how the text file is laid out, nothing the executed notebook needs
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    return nb


def executed_path(name: str, config: ProjectConfig | None = None) -> Path:
    config = config or project_config()
    return config.book_dir / "chapters" / f"{name}.ipynb"


def fingerprint(name: str, params: dict, profile: str, config: ProjectConfig, keys: dict | None = None) -> str:
    """What an executed chapter depends on: its source (``notebooks/<chapter>.md``), the parameters and profile,
    what its result is keyed by beyond them (``keys``: ``result_key_params``, i.e. the zoo's definition and the
    upstream results' keys, which change with another chapter's parameters), the stored results of the chapter
    and of its sections, and the ``sat_lib`` code that reads and draws them.
    Equal fingerprints, equal chapter. The run mode is not part of it: a chapter executed with ``cache_only``
    shows the results that are stored, as an ``auto`` execution would, so a fresh clone's ``make book`` keeps the
    committed chapters instead of computing what a chapter's section has not stored yet."""
    h = hashlib.sha256()
    params = {k: v for k, v in params.items() if k != "mode"}
    h.update(json.dumps([name, params, profile, keys or {}], sort_keys=True, default=str).encode())
    files = [config.root / CHAPTERS[name].source]
    reads = "*/*.nc" if CHAPTERS[name].reads_all_results else f"{name}/*.nc"
    files += sorted(config.results_dir.glob(reads))
    for section in CHAPTERS[name].sections:
        files += sorted(config.results_dir.glob(f"{section}/*.nc"))
    package = Path(__file__).parent
    files += sorted(f for f in package.rglob("*") if f.suffix in (".py", ".yaml", ".csv") and f.is_file())
    for f in files:
        h.update(str(f.relative_to(package) if f.is_relative_to(package) else f.name).encode())
        h.update(hashlib.sha256(f.read_bytes()).digest() if f.exists() else b"missing")
    return h.hexdigest()


def _stored_fingerprint(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["metadata"]["sat_companion"].get("fingerprint")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def execute_chapter(name: str, cfg: ChapterConfig, *, mode: str = "auto", profile: str = "custom",
                    config: ProjectConfig | None = None, output: Path | None = None,
                    only_if_changed: bool = False) -> Path:
    """Run ``notebooks/<chapter>.md`` with ``cfg`` and write the executed copy atomically.

    ``only_if_changed``: leave the executed copy alone (byte for byte) when its recorded ``fingerprint`` —
    notebook, parameters, stored results, ``sat_lib`` code — is today's."""
    import nbformat
    import papermill as pm

    config = config or project_config()
    chapter = CHAPTERS[name]
    source = config.root / chapter.source
    output = output or executed_path(name, config)
    params = {**cfg.as_dict(), "mode": mode}
    keys = result_key_params(cfg)
    if only_if_changed and mode != "recompute" and output.exists() \
            and _stored_fingerprint(output) == fingerprint(name, params, profile, config, keys):
        log.info("%s: notebook, parameters, results and code unchanged; the executed copy is kept", name)
        return output
    with atomic_path(output, suffix=".ipynb") as tmp, tempfile.TemporaryDirectory() as scratch:
        # papermill records its input's path in the executed notebook, so it reads the source as a file
        # (handed a NotebookNode it would store the whole notebook there); the path is the source's again below
        unexecuted = Path(scratch) / f"{name}.ipynb"
        unexecuted.write_text(nbformat.writes(read_source(source)))
        try:
            pm.execute_notebook(str(unexecuted), str(tmp), parameters=params, cwd=str(config.root), progress_bar=False,
                                kernel_name="python3", log_output=False,
                                report_mode=False, request_save_on_cell_execute=False,
                                kernel_manager_class=_local_kernel_manager(), shutdown_kernel="immediate")
        except pm.PapermillExecutionError as err:
            failed = config.cache_dir / "failed" / f"{name}.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp, failed)
            raise ChapterFailed(f"chapter {name!r} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                                f"the executed notebook with the traceback is kept at {failed}") from err
        tag_profile(tmp, profile, output, config.root, fingerprint(name, params, profile, config, keys), source=source)
    return output


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return Path(path).name


def tag_profile(path: Path, profile: str, output: Path, root: Path, fingerprint: str | None = None, *,
                source: Path | None = None) -> None:
    """Record the profile (and the chapter's fingerprint) in the notebook's metadata and say it in the book, above
    the injected parameters; one read and one write. ``source``: the file to name as papermill's input (papermill
    read a notebook written from it in a scratch folder)."""
    import nbformat
    from nbformat.v4 import new_markdown_cell

    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.setdefault("sat_companion", {})
    meta["profile"] = profile
    if fingerprint is not None:
        meta["fingerprint"] = fingerprint
    # papermill records absolute input/output paths (this machine's folders and the temporary file): keep them
    # relative to the project, so the book shows no developer's path and reruns do not differ by them
    pm_meta = nb.metadata.get("papermill", {})
    if source is not None:
        pm_meta["input_path"] = str(source)
    if "input_path" in pm_meta:
        pm_meta["input_path"] = _relative(pm_meta["input_path"], root)
    if "output_path" in pm_meta:
        pm_meta["output_path"] = _relative(str(output), root)
    note = new_markdown_cell(f"*Executed at the `{profile}` profile; the parameters papermill injected follow.*")
    note.id = "profile-note"
    note.metadata["tags"] = ["profile-note"]
    at = next((i for i, c in enumerate(nb.cells) if "injected-parameters" in c.metadata.get("tags", [])),
              len(nb.cells))
    if at < len(nb.cells):
        nb.cells[at].id = "injected-parameters"  # papermill's id is random: a rerun would differ by it
    nb.cells.insert(at, note)
    nbformat.write(nb, path)


def run_chapter(name: str, *, profile: str | None = None, overrides: dict | None = None, mode: str = "auto",
                config: ProjectConfig | None = None, only_if_changed: bool = False) -> Path:
    config = config or project_config()
    profile = profile or config.default_profile
    cfg = resolve_params(name, profile, overrides, config)
    label = profile if not overrides else f"{profile}+overrides"
    if overlay_path(config.root) is not None:
        label += f"+overlay {overlay_path(config.root).name}"
    return execute_chapter(name, cfg, mode=mode, profile=label, config=config, only_if_changed=only_if_changed)


def toc(config: ProjectConfig | None = None) -> dict:
    """The book's table of contents, generated from the chapter registry (one place lists the chapters)."""
    parts: dict[str, list[dict]] = {}
    for name, ch in CHAPTERS.items():
        if ch.in_book:
            parts.setdefault(ch.part, []).append({"file": f"chapters/{name}"})
    return {"format": "jb-book", "root": "intro",
            "parts": [{"caption": part, "chapters": chapters} for part, chapters in parts.items()]}


def write_toc(config: ProjectConfig | None = None) -> Path:
    config = config or project_config()
    path = config.book_dir / "_toc.yml"
    text = "# Generated by `sat-companion toc` from the chapter registry; do not edit by hand.\n"
    text += yaml.safe_dump(toc(config), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def build_book(config: ProjectConfig | None = None, *, strict: bool = True) -> int:
    """``jupyter-book build book`` (warnings are errors with ``strict``); returns its exit code."""
    config = config or project_config()
    write_toc(config)
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(config.book_dir)]
    if strict:
        cmd.append("-W")
    return subprocess.call(cmd, cwd=config.root)


def dry_run(name: str, *, profile: str | None = None, overrides: dict | None = None) -> tuple[str, bool]:
    """``sat-companion run <chapter> --dry-run``: every model the chapter's full run at this profile builds, built,
    trained and attacked for a few steps on synthetic images here (``sat_lib.dryrun``), the upstream results
    it reads, and the estimated time of the full run on this device. Nothing is read from or written to the data,
    weights, results or book folders. Returns the report and whether every model passed."""
    import time

    from sat_lib import dryrun
    from sat_lib.experiments._chapter import result_key_params
    from sat_lib.results import result_path
    from sat_lib.zoo.dry import named_jobs

    t0 = time.perf_counter()
    config = project_config()
    cfg = resolve_params(name, profile, overrides)  # bad input raises before anything is built
    ch = CHAPTERS[name]
    jobs = ch.dry_run(cfg) if ch.dry_run is not None else named_jobs(cfg)
    lines = [f"dry run of {name} at profile {profile or config.default_profile} (nothing is read or written)"]
    for up in ch.upstream(cfg):
        stored = result_path(up.chapter, result_key_params(up), version=CHAPTERS[up.chapter].version,
                             results_dir=config.results_dir).exists()
        lines.append(f"  reads the stored {up.chapter} result: "
                     + ("stored" if stored else f"NOT stored — a full run computes it first (its own estimate: "
                                                f"`sat-companion run {up.chapter} --dry-run` at that profile)"))
    if ch.reads_all_results:
        lines.append("  reads every other chapter's stored results")
    if not jobs:
        lines.append("builds no models of its own (it declares no Chapter.dry_run and its parameters name no zoo "
                     "models): it reads stored results only")
        return "\n".join(lines), True
    busy = dryrun.busy_cores()  # other work on the machine slows every probe: the report states it
    rows = dryrun.run(jobs)
    lines += ["", dryrun.report(rows, busy=busy), f"dry run took {dryrun.duration(time.perf_counter() - t0)}"]
    return "\n".join(lines), all(r.timing is not None for r in rows)
