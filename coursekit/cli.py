"""The ``coursekit`` command line.

    coursekit data fetch movielens      download + verify into the data home
    coursekit data info                 what is cached, where
    coursekit run [--smoke] [--dataset shop] [--notebooks 00 01] [-p EPOCHS=3]
    coursekit exercises generate [--check]   (also writes the nbgrader metadata of the solutions)
    coursekit exercises release | solutions [--output dist]
    coursekit grade SUBMISSIONS --assignment 01 [--output grades] [--timeout 300]
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from coursekit._validation import CourseKitError

_WORDS = {"true": True, "false": False, "none": None, "yes": True, "no": False}


def _parse_param(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> (key, value): Python literals, true/false/none in any case, else the string.

    >>> _parse_param("SMOKE=false"), _parse_param("EPOCHS=3"), _parse_param("DATASET=shop")
    (('SMOKE', False), ('EPOCHS', 3), ('DATASET', 'shop'))
    """
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"parameters are KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise argparse.ArgumentTypeError(f"-p needs a parameter name before '=', got {text!r} "
                                         f"(e.g. -p EPOCHS=3)")
    if raw.strip().lower() in _WORDS:
        return key, _WORDS[raw.strip().lower()]
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key, value


def _cmd_data(args: argparse.Namespace) -> int:
    from coursekit import datasets

    if args.action == "fetch":
        path = datasets.fetch(args.name)
        print(f"{args.name}: verified copy at {path}")
    else:
        print(f"data home: {datasets.data_home()}")
        print(datasets.cache_info().to_string(index=False))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from coursekit.runner import run_course

    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise CourseKitError(f"--output {args.output} is a file; --output must be a folder for the executed "
                             "notebooks (e.g. --output build/course).")
    table = run_course(Path(args.output), args.dataset, smoke=args.smoke, names=args.notebooks,
                       extra=dict(args.param or []))
    print()
    print(table.drop(columns=["output"]).to_string(index=False))
    print(f"\nexecuted notebooks and summary in {args.output}/")
    return 0 if (table["status"] == "ok").all() else 1


def _cmd_exercises(args: argparse.Namespace) -> int:
    import json

    from coursekit.exercises.generate import check_student_notebook, generate_student_notebook, notebook_json
    from coursekit.exercises.nbgrader import with_nbgrader_metadata

    if args.action in ("release", "solutions"):
        from coursekit.exercises.bundle import instructor_bundle, student_bundle

        make = student_bundle if args.action == "release" else instructor_bundle
        print(f"wrote {make(args.folder, args.output)}")
        return 0
    folder = Path(args.folder)
    sources = sorted(folder.glob("*_solution.ipynb"))
    if not sources:
        what = "holds no *_solution.ipynb" if folder.is_dir() else "is not a folder"
        raise CourseKitError(f"--folder {folder} {what}; pass the folder of the solution notebooks "
                             "(--folder exercises, the default, from the repository root).")
    stale = 0
    for src in sources:
        dst = src.with_name(src.name.replace("_solution", ""))
        text = src.read_text(encoding="utf-8")
        with_meta = notebook_json(with_nbgrader_metadata(json.loads(text)))
        if args.check:
            ok = check_student_notebook(src, dst) and with_meta == text
            stale += not ok
            print(f"{'up to date' if ok else 'STALE':>10}  {dst}" + ("" if with_meta == text else
                                                                  f" ({src.name}: nbgrader metadata)"))
        else:
            if with_meta != text:
                src.write_text(with_meta, encoding="utf-8")
                print(f"nbgrader metadata  {src}")
            generate_student_notebook(src, dst)
            print(f"generated  {dst}")
    if stale:
        print(f"{stale} student notebook(s) differ from their solution source: run `coursekit exercises generate`.")
    return 1 if stale else 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from coursekit.exercises.grading import grade_class

    if args.timeout <= 0 or (args.case_time_limit is not None and args.case_time_limit <= 0):
        raise CourseKitError("--timeout and --case-time-limit must be positive numbers of seconds.")
    book = grade_class(args.submissions, args.assignment, args.output, timeout=args.timeout,
                       case_time_limit=args.case_time_limit)
    totals = book.groupby("student", sort=False)[["points", "max_points"]].sum()
    print(totals.to_string())
    print(f"\ngradebook: {Path(args.output) / 'gradebook.csv'}; feedback: {Path(args.output) / 'feedback'}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coursekit", description="Recommender systems course tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="download, verify and list data sets")
    data_sub = data.add_subparsers(dest="action", required=True)
    fetch = data_sub.add_parser("fetch", help="download and verify a data set into the data home")
    fetch.add_argument("name", help="movielens (ml-latest-small)")
    data_sub.add_parser("info", help="show the data home and what is cached")
    data.set_defaults(func=_cmd_data)

    run = sub.add_parser("run", help="execute the lesson notebooks end to end with papermill")
    run.add_argument("--smoke", action="store_true", help="small, fast settings (about a minute per lesson)")
    run.add_argument("--dataset", nargs="+", default=["shop"], help="shop (default, offline) and/or movielens")
    run.add_argument("--notebooks", nargs="+", help="lesson prefixes to run, e.g. 00 01 (default: all)")
    run.add_argument("-p", "--param", action="append", type=_parse_param, metavar="KEY=VALUE",
                     help="override a notebook parameter (repeatable)")
    run.add_argument("--output", default="build/course", help="folder for executed notebooks and the summary")
    run.set_defaults(func=_cmd_run)

    ex = sub.add_parser("exercises", help="instructor tools for exercise notebooks")
    ex_sub = ex.add_subparsers(dest="action", required=True)
    gen = ex_sub.add_parser("generate", help="write student notebooks from *_solution.ipynb sources")
    gen.add_argument("--check", action="store_true", help="only check the committed student notebooks are current")
    gen.add_argument("--folder", default="exercises")
    rel = ex_sub.add_parser("release", help="the student bundle: student notebooks (no solutions) + README, a zip")
    sol = ex_sub.add_parser("solutions", help="the instructor bundle: solution notebooks + grading notes, a zip")
    for bundle in (rel, sol):
        bundle.add_argument("--folder", default="exercises", help="the solution notebooks (default exercises)")
        bundle.add_argument("--output", default="dist", help="folder for the zip (default dist)")
    ex.set_defaults(func=_cmd_exercises)

    grade = sub.add_parser("grade", help="grade submitted exercise notebooks into a gradebook and feedback files")
    grade.add_argument("submissions", help="a folder of <student>.ipynb or <student>/<notebook>.ipynb")
    grade.add_argument("--assignment", required=True,
                       help="the lesson prefix of the solution notebook in exercises/ (e.g. 01) or its path")
    grade.add_argument("--output", default="grades", help="folder for gradebook.csv and feedback/ (default grades)")
    grade.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    grade.add_argument("--case-time-limit", type=float, default=None,
                       help="seconds per test case (default: each exercise's own, 10 s)")
    grade.set_defaults(func=_cmd_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv``; return the exit status (2: a bad option or input, named on stderr)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage and an error naming the option
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return args.func(args)
    except CourseKitError as e:
        print(f"coursekit: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
