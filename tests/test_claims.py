"""Claims: the 2-SE rule, margins, errors (lower is better), records and the runner's check."""
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit import CourseKitError
from coursekit.claims import compare, failed_claims, paired_se, threshold
from coursekit.runner import run_notebook


def test_paired_se_matches_the_textbook_formula():
    d = np.array([0.3, -0.1, 0.2, 0.4, 0.0])
    mean, se, n = paired_se(d)
    assert n == 5 and mean == pytest.approx(d.mean())
    assert se == pytest.approx(d.std(ddof=1) / np.sqrt(5))


def test_bootstrap_se_is_close_to_the_analytic_one():
    d = np.random.default_rng(0).normal(0.1, 1.0, size=400)
    _, se, _ = paired_se(d)
    _, se_boot, _ = paired_se(d, n_boot=2000, seed=1)
    assert se_boot == pytest.approx(se, rel=0.1)


def test_beats_needs_more_than_two_standard_errors():
    rng = np.random.default_rng(0)
    b = rng.random(1000)
    assert compare(b + 0.05, b, "A", "B", metric="m").verdict == "beats"
    noisy = b + rng.normal(0.0, 1.0, size=1000) * 0.05 + 0.001
    c = compare(noisy, b, "A", "B", metric="m")
    assert c.verdict == "no measurable difference"
    assert c.text.startswith("No difference we can measure")
    assert compare(b, b + 0.05, "A", "B", metric="m").verdict == "loses to"


def test_lower_is_better_for_errors():
    err_a = np.full(50, 0.8) + np.linspace(0, 0.01, 50)
    err_b = err_a + 0.1
    c = compare(err_a, err_b, "MF", "mean", metric="RMSE", higher_is_better=False)
    assert c.verdict == "beats" and c.estimate == pytest.approx(0.1)


def test_relative_margin():
    rng = np.random.default_rng(1)
    b = rng.uniform(0.1, 0.2, size=2000)
    a = 1.5 * b + rng.normal(0, 0.01, size=2000)
    assert compare(a, b, "A", "B", metric="m", rel_margin=0.35).verdict == "beats"
    c = compare(a, b, "A", "B", metric="m", rel_margin=0.8)
    assert c.verdict == "no measurable difference" and "not by more than 80%" in c.text


def test_nan_pairs_are_dropped_and_shapes_checked():
    c = compare([1.0, np.nan, 2.0, 3.0], [0.0, 1.0, np.nan, 2.0], "A", "B", metric="m")
    assert c.n == 2
    with pytest.raises(CourseKitError, match="same units"):
        compare([1.0, 2.0], [1.0], "A", "B", metric="m")
    with pytest.raises(CourseKitError, match="1-D"):
        compare(np.ones((2, 2)), np.ones((2, 2)), "A", "B", metric="m")


def test_threshold_claims():
    assert threshold(0.6, 0.02, 0.5, "AUC", what="chance").verdict == "above"
    assert threshold(0.52, 0.02, 0.5, "AUC", what="chance").verdict == "not beyond"
    assert threshold(0.3, 0.02, 0.56, "loss", what="the prior entropy").verdict == "below"


def test_expectations_and_no_worse():
    b = np.linspace(0, 1, 100)
    tie = compare(b, b, "A", "B", metric="m", expect="no worse")
    assert tie.holds
    assert not compare(b - 0.1, b, "A", "B", metric="m", expect="no worse").holds
    assert not compare(b, b, "A", "B", metric="m", expect="beats").holds


def test_require_records_the_claim_and_failures_are_found(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_RECORDS", str(tmp_path))
    monkeypatch.setenv("COURSEKIT_NOTEBOOK", "demo")
    b = np.linspace(0, 1, 100)
    compare(b + 0.1, b, "A", "B", metric="m", expect="beats").require(key="a_beats_b")
    compare(b, b, "C", "B", metric="m", expect="beats").require(key="c_beats_b")
    compare(b, b, "D", "B", metric="m", expect="beats").require(full_only=False, key="d_beats_b")
    claims = json.loads((tmp_path / "demo.json").read_text())["claims"]
    assert [c["key"] for c in claims] == ["a_beats_b", "c_beats_b", "d_beats_b"]
    assert [c["key"] for c in failed_claims(claims, smoke=False)] == ["c_beats_b", "d_beats_b"]
    assert [c["key"] for c in failed_claims(claims, smoke=True)] == ["d_beats_b"]


def test_require_without_an_expectation_is_an_error():
    with pytest.raises(CourseKitError, match="expect"):
        compare([1.0, 2.0], [0.0, 1.0], "A", "B", metric="m").require()


def test_runner_marks_a_notebook_whose_required_claim_fails(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("SMOKE = False\nGAP = 0.1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import numpy as np\nfrom coursekit.claims import compare\n"
        "b = np.linspace(0, 1, 200)\n"
        "compare(b + GAP, b, 'A', 'B', metric='m', expect='beats').require(key='gap')")]
    path = tmp_path / "demo_claims.ipynb"
    nbformat.write(nb, path)
    ok = run_notebook(path, tmp_path / "out", {"GAP": 0.1})
    assert ok.status == "ok" and (ok.claims_held, ok.claims_total) == (1, 1)
    bad = run_notebook(path, tmp_path / "out", {"GAP": 0.0})
    assert bad.status == "claim failed" and "A and B" in bad.error
    smoke = run_notebook(path, tmp_path / "out", {"GAP": 0.0, "SMOKE": True})
    assert smoke.status == "ok"   # data-size dependent claims are not required in smoke runs


def test_runner_reads_claims_back_with_a_relative_output_folder(tmp_path, monkeypatch):
    """papermill runs the kernel in the notebook's folder: a relative --output must still find the claims."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "import numpy as np\nfrom coursekit.claims import compare\nb = np.linspace(0, 1, 50)\n"
        "compare(b, b, 'A', 'B', metric='m', expect='beats').require(key='tie')")]
    (tmp_path / "lessons").mkdir()
    nbformat.write(nb, tmp_path / "lessons" / "rel.ipynb")
    monkeypatch.chdir(tmp_path)
    run = run_notebook(Path("lessons/rel.ipynb"), Path("out"), {})
    assert run.claims_total == 1 and run.status == "claim failed"


def test_threshold_expectations_not_beyond_and_not_above():
    from coursekit.claims import threshold

    assert threshold(0.052, 0.01, 0.05, "rate", what="alpha", expect="not beyond").holds
    assert not threshold(0.2, 0.01, 0.05, "rate", what="alpha", expect="not beyond").holds
    assert threshold(0.01, 0.005, 0.05, "rate", what="alpha", expect="not above").holds
    assert threshold(0.06, 0.01, 0.05, "rate", what="alpha", expect="not above").holds
    assert not threshold(0.2, 0.01, 0.05, "rate", what="alpha", expect="not above").holds
