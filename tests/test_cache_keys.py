"""A cell's address: the same in every process for the same code, parameters and package
versions, and new when the code it runs or a package that changes numbers is new; the
report's code is not part of it."""

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ntkbench
from ntkbench import provenance

CELLS = '''
import functools

from ntkbench import scaling
from ntkbench.report import plots
from ntkbench.runner import Cell


def square(i, scale):
    return {"y": scale * i * i}


def cell():
    return Cell("test.square", functools.partial(square, scale=2), {"i": 3})
'''


def _write(folder: Path, source: str = CELLS) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "cells.py").write_text(source)
    return folder


def _address_in_a_new_process(cells: Path, ntkbench_parent: Path = Path(ntkbench.__file__).parents[1]) -> str:
    """The address of `cells.cell()` as a fresh Python process computes it, importing
    `cells` from the folder `cells` and ntkbench from `ntkbench_parent`."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(cells), str(ntkbench_parent)])}
    out = subprocess.run([sys.executable, "-c", "import cells; print(cells.cell().key)"],
                         cwd=cells, env=env, capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


@pytest.fixture
def cells(tmp_path, monkeypatch):
    """`cells.py` in a folder of tmp_path, imported in this process."""
    monkeypatch.syspath_prepend(_write(tmp_path / "cells"))
    yield importlib.import_module("cells")
    sys.modules.pop("cells")


def test_every_process_computes_the_same_address(cells, tmp_path):
    assert _address_in_a_new_process(tmp_path / "cells") == cells.cell().key


def test_an_edit_to_the_cells_module_changes_its_address(tmp_path):
    before = _address_in_a_new_process(_write(tmp_path / "cells"))
    after = _address_in_a_new_process(_write(tmp_path / "cells", CELLS.replace("scale * i * i", "scale * i**2")))
    assert after != before


def test_an_edit_to_an_ntkbench_module_it_imports_changes_its_address_and_one_to_the_report_does_not(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(Path(ntkbench.__file__).parent, copy / "ntkbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cells = _write(tmp_path / "cells")

    def edited(module: str) -> str:
        with (copy / "ntkbench" / module).open("a") as f:
            f.write("\n# edited\n")
        return _address_in_a_new_process(cells, copy)

    before = _address_in_a_new_process(cells, copy)
    assert edited("report/plots.py") == before
    assert edited("stats.py") != before  # imported by ntkbench.scaling


def test_another_version_of_a_numeric_package_changes_the_address(cells, monkeypatch, request):
    before = cells.cell().key
    installed = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda package: "0.0.1" if package == "jax" else installed(package))
    provenance.numeric_versions.cache_clear()
    request.addfinalizer(provenance.numeric_versions.cache_clear)
    assert cells.cell().key != before
