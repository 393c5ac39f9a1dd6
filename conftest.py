"""Settings for every test run, including notebooks executed by nbval and papermill."""
import os

os.environ.setdefault("COURSEKIT_SMOKE", "1")  # notebooks run their smoke settings under tests
os.environ.setdefault("MPLBACKEND", "Agg")

# Notebooks that a papermill test already executes on the shop (and on MovieLens) and whose recorded
# values it asserts: nbval would only run them a third time. Lessons 00-03 are still run by nbval too.
collect_ignore = [
    f"{folder}/{stem}.ipynb"
    for stem in ("04_bert_finetuning", "05_realtime_interest", "06_cold_start", "07_explainability_and_trust")
    for folder in ("notebooks", "exercises")
] + [f"exercises/{stem}_solution.ipynb"
     for stem in ("04_bert_finetuning", "05_realtime_interest", "06_cold_start", "07_explainability_and_trust")]
