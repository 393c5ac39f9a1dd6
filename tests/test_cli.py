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
