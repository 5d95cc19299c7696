"""The assignments script (`scripts/assignments.py`), loaded as a module for the tests."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("assignments", ROOT / "scripts" / "assignments.py")
assignments = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(assignments)
