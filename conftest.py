"""Settings for every test run, including the notebooks that the tests execute with papermill."""
import os

os.environ.setdefault("COURSEKIT_SMOKE", "1")  # notebooks run their smoke settings under tests
os.environ.setdefault("MPLBACKEND", "Agg")
