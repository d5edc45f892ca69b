"""The README's commands are the ones CI runs, word for word."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^(python3\.11 -m venv .*)$", readme, flags=re.M)
    assert len(commands) == 3
    ci_commands = re.findall(r"^step \"[^\"]+\" '(.*)'$", ci, flags=re.M)
    assert sorted(commands) == sorted(ci_commands)
