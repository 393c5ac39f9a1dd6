"""Settings for every test run, including notebooks executed by nbval and papermill."""
import os

os.environ.setdefault("COURSEKIT_SMOKE", "1")  # notebooks run their smoke settings under tests
os.environ.setdefault("MPLBACKEND", "Agg")
