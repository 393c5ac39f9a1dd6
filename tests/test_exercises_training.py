"""The exercises that train a model: ex04_lora_settings (LoRA fine-tuning of a tiny cross-encoder).

(ex03_train_ials is tested in test_exercises_cf.py, ex05_causal_mask in test_notebooks_stream.py.)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from coursekit.exercises import check, get_exercise
from tests.conftest import assert_check_feedback, assert_known_mistake_hint, exercise_namespace

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "04_bert_finetuning_solution.ipynb"
STUDENT = ROOT / "exercises" / "04_bert_finetuning.ipynb"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_lora_settings_reference_passes_in_time_and_trains_only_adapters_and_head():
    from coursekit.exercises.ex04 import _LoraRun, reference_lora_settings

    start = time.perf_counter()
    result = check("ex04_lora_settings", reference_lora_settings, verbose=False)
    assert result.status == "passed", result.message
    assert time.perf_counter() - start < 20
    auc, trainable = _LoraRun(40, 0).train(reference_lora_settings(40))
    assert auc >= 0.8
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert any("lora_" in n for n in trainable) and any("modules_to_save" in n for n in trainable)
    ex = get_exercise("ex04_lora_settings")
    assert ex.time_limit == 30 and ex.points == 1


def test_other_reasonable_settings_pass():
    settings = {"r": 4, "lora_alpha": 8.0, "target_modules": ("query", "key", "value"), "lr": 2e-3}
    assert check("ex04_lora_settings", lambda n: settings, verbose=False).status == "passed"


@pytest.mark.parametrize("wrong, hint", [
    ("_lora_full_ft_rate", "5e-5 is a full fine-tuning rate"),
    ("_lora_llama_names", "LLaMA's names"),
])
def test_known_mistakes_get_specific_hints(wrong, hint):
    import coursekit.exercises.ex04 as ex04

    assert_known_mistake_hint(ex04, "ex04_lora_settings", wrong, hint)


def test_slow_rate_fails_with_the_auc_and_the_reason():
    result = check("ex04_lora_settings", lambda n: {"r": 16, "lora_alpha": 32, "target_modules": ["query", "value"],
                                                    "lr": 3e-5}, verbose=False)
    assert result.status == "failed"
    text = " ".join(result.message.split())
    assert "validation AUC is 0." in text and "did not learn" in text and "full fine-tuning rate" in text


@pytest.mark.parametrize("answer, problem", [
    ({"r": 8, "lora_alpha": 16, "lr": 1e-2}, "lacks the key(s) target_modules"),
    ({"r": 0, "lora_alpha": 16, "target_modules": ["query"], "lr": 1e-2}, "rank"),
    ({"r": 8, "lora_alpha": 16, "target_modules": "query", "lr": 1e-2}, "list of module names"),
    ({"r": 8, "lora_alpha": 16, "target_modules": ["query"], "lr": "1e-2"}, "learning rate"),
])
def test_malformed_settings_say_what_is_wrong(answer, problem):
    result = check("ex04_lora_settings", lambda n: answer, verbose=False)
    assert result.status == "failed" and problem in result.details[0]["problem"]


def test_stub_exception_and_wrong_types():
    assert_check_feedback("ex04_lora_settings")


def test_notebook_solution_passes_and_student_stub_is_not_attempted():
    cells = [c["id"] for c in json.loads(SOLUTION.read_text())["cells"]]
    assert "ex4-code" in cells and "ex4-check" in cells
    sol = exercise_namespace(SOLUTION, ["ex4-code"], {"np": __import__("numpy")})
    stu = exercise_namespace(STUDENT, ["ex4-code"], {"np": __import__("numpy")})
    assert check("ex04_lora_settings", sol["lora_settings"], verbose=False).status == "passed"
    assert check("ex04_lora_settings", stu["lora_settings"], verbose=False).status == "not attempted"
