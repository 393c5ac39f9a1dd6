"""Run the course's notebooks end to end with papermill.

Each notebook is executed with its ``parameters`` cell overridden (``SMOKE``, ``DATASET``,
``SEED`` and anything passed), written to ``<output>/<dataset>/<name>.ipynb``; the values
it records (:mod:`coursekit.record`) land in ``<output>/<dataset>/records/<name>.json``; a
summary (``summary.csv`` and ``summary.md``: notebook, dataset, status, seconds) is written
at the end.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.claims import claims_of, failed_claims
from coursekit.record import ENV as RECORDS_ENV

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class NotebookRun:
    notebook: str
    dataset: str
    status: str
    seconds: float
    output: Path
    error: str = ""
    claims_held: int = 0
    claims_total: int = 0


def lesson_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The numbered lesson notebooks ``NN_topic.ipynb`` in order."""
    if not folder.is_dir():
        raise CourseKitError(f"no notebooks folder at {folder}: run from a clone of the course repository.")
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def appendix_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The appendix notebooks ``A<digit>_topic.ipynb`` (e.g. ``A1_scale_out_spark``), in order.

    They need optional extras (A1: ``pip install "coursekit[spark]"`` and Java), so a plain
    ``coursekit run`` leaves them out; name them to run them: ``coursekit run --notebooks A1``.
    """
    return sorted(p for p in folder.glob("A[0-9]_*.ipynb")) if folder.is_dir() else []


def select_notebooks(names: list[str] | None, folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebooks whose name starts with any of ``names`` (``"01"``, ``"01_evaluation"``, ``"A1"``).

    None: every lesson (the appendix notebooks run only when named; see :func:`appendix_notebooks`).
    """
    lessons = lesson_notebooks(folder)
    if not names:
        return lessons
    every = lessons + appendix_notebooks(folder)
    chosen = [p for p in every if any(p.stem.startswith(n) or p.name == n for n in names)]
    if not chosen:
        raise CourseKitError(f"no notebook matches {names}; available: {[p.stem for p in every]}.")
    return chosen


def run_notebook(path: Path, output_dir: Path, parameters: dict[str, Any] | None = None,
                 timeout: int = 1800) -> NotebookRun:
    """Execute one notebook with papermill; record values go to ``output_dir/records``."""
    import papermill as pm

    path = Path(path)
    output_dir = Path(output_dir).resolve()   # absolute: papermill runs the kernel in the notebook folder
    output_dir.mkdir(parents=True, exist_ok=True)
    out = output_dir / path.name
    parameters = dict(parameters or {})
    env_before = {k: os.environ.get(k) for k in (RECORDS_ENV, "COURSEKIT_NOTEBOOK")}
    os.environ[RECORDS_ENV] = str(output_dir / "records")
    (output_dir / "records" / f"{path.stem}.json").unlink(missing_ok=True)  # no values left from an earlier run
    os.environ["COURSEKIT_NOTEBOOK"] = path.stem
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        pm.execute_notebook(str(path), str(out), parameters=parameters, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False, execution_timeout=timeout)
    except pm.PapermillExecutionError as e:
        status, error = "failed", f"{e.ename}: {e.evalue}"
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - start
    claims = claims_of(path.stem, output_dir / "records")
    failed = failed_claims(claims, smoke=bool(parameters.get("SMOKE", False)))
    if status == "ok" and failed:
        status = "claim failed"
        error = "; ".join(c["text"] for c in failed)
    held = sum(bool(c.get("holds")) for c in claims if c.get("expect"))
    return NotebookRun(path.stem, str(parameters.get("DATASET", "default")), status, seconds, out, error,
                       held, sum(1 for c in claims if c.get("expect")))


DATASETS = ("shop", "movielens")


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (what ``-p`` may override)."""
    import ast
    import json

    cells = json.loads(Path(path).read_text())["cells"]
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            return {t.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    for t in ast.walk(t) if isinstance(t, ast.Name)}
    return set()


def check_run_options(notebooks: list[Path], datasets: list[str], extra: dict[str, Any]) -> None:
    """Refuse unknown data sets and parameters before any kernel starts."""
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise CourseKitError(f"unknown --dataset {unknown}; choose from {list(DATASETS)}.")
    if "DATASET" in extra:
        raise CourseKitError(f"-p DATASET={extra['DATASET']!r}: choose data sets with --dataset, not with -p.")
    for key in extra:
        missing = [p.stem for p in notebooks if key not in notebook_parameters(p)]
        if missing:
            raise CourseKitError(f"-p {key}=...: {key!r} is not in the parameters cell of {missing}; "
                                 f"run fewer notebooks (--notebooks) or check the name's spelling.")


def run_course(output: Path, datasets: list[str], smoke: bool, names: list[str] | None = None,
               extra: dict[str, Any] | None = None, folder: Path = NOTEBOOKS) -> pd.DataFrame:
    """Run every selected notebook on every dataset; return (and write) the summary table."""
    from tqdm.auto import tqdm

    notebooks = select_notebooks(names, folder)
    check_run_options(notebooks, datasets, extra or {})
    jobs = [(nb, ds) for ds in datasets for nb in notebooks]
    runs = []
    bar = tqdm(jobs, desc="course", unit="notebook")
    for nb, ds in bar:
        bar.set_postfix_str(f"{nb.stem} on {ds}")
        params = {"SMOKE": smoke, "DATASET": ds, **(extra or {})}   # -p SMOKE=false wins over --smoke
        run = run_notebook(nb, Path(output) / ds, params)
        runs.append(run)
        bar.write(f"{run.status:>6}  {run.seconds:7.1f} s  {nb.stem} [{ds}]" + (f"  {run.error}" if run.error else ""))
    table = pd.DataFrame([{"notebook": r.notebook, "dataset": r.dataset, "status": r.status,
                           "seconds": round(r.seconds, 1), "claims held": f"{r.claims_held}/{r.claims_total}",
                           "output": str(r.output), "error": r.error}
                          for r in runs])
    Path(output).mkdir(parents=True, exist_ok=True)
    table.to_csv(Path(output) / "summary.csv", index=False)
    (Path(output) / "summary.md").write_text(table.drop(columns=["output"]).to_markdown(index=False)
                                             if _has_tabulate() else table.to_string(index=False))
    return table


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
