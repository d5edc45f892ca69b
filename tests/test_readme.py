"""The README's commands are the ones CI runs, word for word."""

import re
import tomllib
from pathlib import Path

from ntkbench.claims import registry

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^(python3\.11 -m venv .*|\.venv/bin/ruff check \.)$", readme, flags=re.M)
    assert len(commands) == 4
    ci_commands = re.findall(r"^step \"[^\"]+\" '(.*)'$", ci, flags=re.M)
    assert sorted(commands) == sorted(ci_commands)


def blocks(section: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block in the README section titled `section`."""
    text = (ROOT / "README.md").read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.M | re.S)


def pytest_args(command: str) -> list[str]:
    """A README `pytest ...` command's arguments, the suite files read from this checkout."""
    return [str(ROOT / a) if a.startswith("suites/") else a for a in command.split()[1:]]


def test_the_adding_a_claim_example_runs_end_to_end(pytester):
    (_, module), (_, suite), (_, commands), _ = blocks("Adding a claim")
    pytester.makepyfile(xor_claim=module, test_xor_ntk=suite)
    pytester.syspathinsert()
    plan, regen, check = commands.splitlines()
    options = ["-p", "ntkbench.pytest_plugin", "--executor=local", f"--cache-dir={pytester.path / 'cache'}",
               f"--report-dir={pytester.path / 'reports'}"]
    priced = pytester.runpytest_inprocess(*options, *pytest_args(plan))
    priced.assert_outcomes(skipped=2)
    priced.stdout.fnmatch_lines(["xor_ntk*xor trials*4*", "ntkbench plan: *index.html"])
    pytester.runpytest_inprocess(*options, *pytest_args(regen)).assert_outcomes(passed=2)
    result = pytester.runpytest_inprocess(*options, *pytest_args(check))
    result.assert_outcomes(passed=2)
    assert (pytester.path / "baselines" / "quick" / "xor_ntk.json").exists()
    result.stdout.fnmatch_lines(["ntkbench report: *index.html"])


def test_an_installed_packages_claim_is_found_by_its_entry_point(pytester):
    """The README's entry-point table, as an installed distribution's metadata on sys.path."""
    (_, module), (_, suite), (_, commands), (_, toml) = blocks("Adding a claim")
    pytester.makepyfile(xor_claim=module, test_xor_ntk=suite)
    points = tomllib.loads(toml)["project"]["entry-points"]["ntkbench.claims"]
    info = pytester.mkdir("xor_claim-0.1.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xor-claim\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ntkbench.claims]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    pytester.syspathinsert()
    assert list(registry.load())[-1] == "xor_ntk"
    regen = commands.splitlines()[1].replace(" --claims-module=xor_claim", "")
    result = pytester.runpytest_inprocess("-p", "ntkbench.pytest_plugin", "--executor=local", "--cache-dir=",
                                          f"--report-dir={pytester.path / 'reports'}", *pytest_args(regen))
    result.assert_outcomes(passed=2)
