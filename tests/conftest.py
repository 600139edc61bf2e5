"""Shared by every test: put the deployable package (functions/) on the import path."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
sys.path.insert(0, str(FUNCTIONS_DIR))
