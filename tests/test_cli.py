"""The command line: argument parsing, errors as messages, exercise freshness check."""
import pytest

from coursekit.cli import _parse_param, build_parser, main


def test_parse_param_literals():
    assert _parse_param("EPOCHS=3") == ("EPOCHS", 3)
    assert _parse_param("SMOKE=True") == ("SMOKE", True)
    assert _parse_param("DATASET=shop") == ("DATASET", "shop")


def test_parse_param_rejects_missing_equals():
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        _parse_param("EPOCHS")


def test_run_defaults_to_the_shop():
    args = build_parser().parse_args(["run"])
    assert args.dataset == ["shop"] and args.smoke is False


def test_unknown_notebook_is_a_clear_error(tmp_path, capsys):
    code = main(["run", "--notebooks", "99_nope", "--output", str(tmp_path)])
    assert code == 2
    assert "no notebook matches" in capsys.readouterr().err


def test_data_info_runs(capsys):
    assert main(["data", "info"]) == 0
    assert "data home" in capsys.readouterr().out


def test_parse_param_words_are_booleans():
    assert _parse_param("SMOKE=false") == ("SMOKE", False)
    assert _parse_param("X=True") == ("X", True)
    assert _parse_param("X=none") == ("X", None)


def test_parse_param_rejects_an_empty_key():
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="parameter name"):
        _parse_param("=3")


def test_unknown_dataset_is_refused_before_any_kernel(tmp_path, capsys):
    code = main(["run", "--dataset", "netflix", "--notebooks", "00", "--output", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "netflix" in err and "shop" in err
    assert not (tmp_path / "netflix").exists()


def test_unknown_parameter_is_refused_before_any_kernel(tmp_path, capsys):
    code = main(["run", "--notebooks", "00", "-p", "EPOCHZ=3", "--output", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "EPOCHZ" in err and "00_setup_and_data" in err


def test_dataset_is_chosen_with_its_option_not_a_parameter(tmp_path, capsys):
    assert main(["run", "--notebooks", "00", "-p", "DATASET=shop", "--output", str(tmp_path)]) == 2
    assert "--dataset" in capsys.readouterr().err


def test_known_parameters_are_read_from_the_parameters_cell():
    from coursekit.runner import NOTEBOOKS, notebook_parameters

    assert {"SMOKE", "SEED", "DATASET"} <= notebook_parameters(NOTEBOOKS / "01_evaluation.ipynb")


def test_grade_options_and_defaults():
    args = build_parser().parse_args(["grade", "submissions", "--assignment", "01"])
    assert (args.output, args.timeout, args.case_time_limit) == ("grades", 300, None)


def test_grade_refuses_a_bad_timeout(tmp_path, capsys):
    assert main(["grade", str(tmp_path), "--assignment", "01", "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err


def test_exercises_release_and_solutions_are_subcommands():
    assert build_parser().parse_args(["exercises", "release"]).output == "dist"
    assert build_parser().parse_args(["exercises", "solutions", "--output", "x"]).output == "x"
