"""--experiment: a researcher's architecture and .npz data for the protocol claims."""

import json
import re

import jax  # noqa: F401  in sys.modules before pytester's snapshot: jaxlib cannot load twice
import numpy as np
import pytest

from ntkbench import experiment
from ntkbench.claims import protocol, registry
from ntkbench.data import npz
from ntkbench.data.errors import DataError
from ntkbench.report import figures  # noqa: F401  likewise matplotlib
from tests.test_readme import blocks, pytest_args

registry.load()  # likewise the claim modules

EXAMPLE = blocks("Your own model and data")


@pytest.fixture
def example(pytester):
    """The README's data and experiment file in pytester's folder (the working directory)."""
    (_, snippet), (_, yaml), _ = EXAMPLE
    exec(snippet, {})
    (pytester.path / "my_experiment.yaml").write_text(yaml)
    return pytester.path


def _run_example(example, pytester):
    """The README's command on its example; no errors, and none of the quick preset's strict
    xfails, which are its own, applies to a researcher's experiment."""
    (_, command), = [b for b in EXAMPLE if b[1].startswith("pytest ")]
    result = pytester.runpytest_inprocess("-p", "ntkbench.pytest_plugin", "--executor=local", "--cache-dir=",
                                          f"--report-dir={example / 'reports'}", *pytest_args(command), "-rsxX")
    outcomes = result.parseoutcomes()
    assert "errors" not in outcomes and "error" not in outcomes
    assert "xfailed" not in outcomes and "xpassed" not in outcomes and "XFAIL" not in result.stdout.str()
    return result


def test_the_readme_experiment_runs_the_protocol_claims_end_to_end(example, pytester):
    result = _run_example(example, pytester)
    assert re.search(r"SKIPPED \[4\] .*no baseline: this run is the experiment my_experiment.yaml", result.stdout.str())
    (line,) = [out for out in result.stdout.lines if out.startswith("ntkbench report: ")]
    index = example / line.split(": ", 1)[1]
    assert index.read_text().count(">no baseline</span>") == 4
    claims = {c["name"]: c["result"] for c in json.loads((index.parent / "results.json").read_text())["claims"]}
    assert set(claims) == {"nn_vs_ntk_exponent", "width_deterioration", "after_kernel", "no_phase_transition"}
    assert "control/my-xor/base/ENTK-NTK" in claims["nn_vs_ntk_exponent"]["statistics"]
    assert claims["width_deterioration"]["config"]["sweeps"][0]["protocol"]["architecture"][0]["kind"] == "Dense"


def test_the_experiment_reaches_the_cells_and_their_store_addresses(example):
    exp = experiment.load(example / "my_experiment.yaml")
    cfg = protocol.shared(exp.protocol)
    task = protocol.task_of(cfg, 32, None, 0)
    assert task.x_pool.shape == (32, 10) and len(task.x_test) == 50 and set(np.unique(task.y_test)) == {-1.0, 1.0}
    assert protocol.network_spec(cfg, 7)[0].width == 7 and protocol.network_spec(cfg, 7)[-1].width == 1
    assert cfg["data"]["digest"] == npz.digest(example / "my_data.npz")
    preset = protocol.shared(registry.load()["nn_vs_ntk_exponent"].config("quick")[0])
    assert "architecture" not in preset and "data" not in preset  # the presets' cells keep their addresses


def _write(folder, text: str):
    path = folder / "exp.yaml"
    path.write_text(text)
    return path


BASE = "task: {npz: my_data.npz, test_fraction: 0.25}\nn_grid: [16, 32]\n"
LAYERS = "architecture: {layers: [{kind: Dense}, {kind: Relu}, {kind: Dense, width: 1}]}\n"


@pytest.mark.parametrize("text,error,fragment", [
    (BASE + LAYERS + "n_grdi: [1]\n", experiment.ExperimentError, "Key 'n_grdi' not in 'Schema'"),
    (BASE + LAYERS + "trials: many\n", experiment.ExperimentError, "Value 'many' of type 'str' could not be"),
    (BASE + "architecture: {factory: resnet}\n", experiment.ExperimentError, "names the architecture 'resnet'; "
     "ntkbench's factories are mlp, myrtle, myrtle1d, cnn5"),
    (BASE + "architecture: {layers: [{kind: Dense}, {kind: Sigmoid}]}\n", experiment.ExperimentError,
     "names the layer 'Sigmoid'; the layers of ntkbench.models are Dense, Conv, Conv1D, Relu"),
    (BASE + "architecture: {layers: [{kind: Conv}, {kind: Relu}, {kind: Flatten}, {kind: Dense, width: 1}]}\n",
     experiment.ExperimentError, "does not fit its layers together"),
    (BASE + "architecture: {layers: [{kind: Dense}, {kind: Relu}, {kind: Dense, width: 3}]}\n",
     experiment.ExperimentError, "has 3 outputs"),
    (BASE.replace("[16, 32]", "[16, 1000]") + LAYERS, DataError, "has 150 training samples and the experiment"),
    (BASE.replace("test_fraction: 0.25", "test_file: nowhere.npz") + LAYERS, DataError,
     "The data file *nowhere.npz cannot be read"),
])
def test_a_bad_experiment_is_one_paragraph(example, text, error, fragment):
    with pytest.raises(error) as err:
        experiment.load(_write(example, text))
    assert re.search(re.escape(fragment).replace(r"\*", ".*"), str(err.value)) and "\n" not in str(err.value)


@pytest.mark.parametrize("arrays,fragment", [
    ({"X": np.zeros((40, 3))}, "has no array y (it holds X)"),
    ({"X": np.zeros((40, 3)), "y": np.arange(40) % 3}, "take 3 distinct values (0, 1, 2); the protocol's claims"),
    ({"X": np.zeros((40, 3)), "y": np.zeros(39)}, "X must be numbers of shape (n, ...)"),
])
def test_a_bad_npz_is_a_data_error_naming_the_file_and_the_fix(example, arrays, fragment):
    np.savez(example / "bad.npz", **arrays)
    with pytest.raises(DataError) as err:
        experiment.load(_write(example, BASE.replace("my_data", "bad") + LAYERS))
    assert fragment in str(err.value) and "bad.npz" in str(err.value) and "np.savez(" in str(err.value)


def test_a_layer_without_an_infinite_kernel_gets_nn_and_entk_rows_and_a_note(example, pytester):
    yaml = (example / "my_experiment.yaml").read_text()
    assert yaml.count("{kind: Relu}") == 2
    (example / "my_experiment.yaml").write_text(yaml.replace("{kind: Relu}", "{kind: Tanh}"))
    result = _run_example(example, pytester)
    omitted = re.findall(r"did not compute (\S+): the architecture has a layer without an infinite-width kernel",
                         result.stdout.str())
    assert sorted(omitted) == ["control/my-xor/base/ENTK-NTK", "entk_approach/my-xor", "nn_below_ntk/my-xor"]
    (line,) = [out for out in result.stdout.lines if out.startswith("ntkbench report: ")]
    index = example / line.split(": ", 1)[1]
    claims = {c["name"]: c["result"] for c in json.loads((index.parent / "results.json").read_text())["claims"]}
    for claim in claims.values():
        assert not [k for k in claim["statistics"] if "NTK" in k.replace("ENTK", "")]
        assert any("a layer without an infinite-width kernel (Tanh)" in line and "no NTK row" in line
                   for line in claim["protocol"])
    exponent, width = claims["nn_vs_ntk_exponent"]["statistics"], claims["width_deterioration"]["statistics"]
    assert {"beta/my-xor/base/NN", "beta/my-xor/base/ENTK", "diff/my-xor/base/NN-ENTK"} <= set(exponent)
    assert {"entk_trend/my-xor", "nn_interior_min/my-xor", "control/my-xor/ENTK-interior-min"} == set(width)
    assert set(claims["after_kernel"]["measurements"]["errors"]) >= {"NN", "ENTK", "K_n"}
    assert "NTK" not in claims["after_kernel"]["measurements"]["errors"]
    assert "trial 0's ENTK-init" in " ".join(claims["no_phase_transition"]["protocol"])
    assert "SGD on the infinite NTK" not in index.read_text() and "NTK as a line" not in index.read_text()


def test_a_bad_experiment_is_a_usage_error_before_any_computation(example, pytester):
    result = pytester.runpytest_inprocess("-p", "ntkbench.pytest_plugin", f"--experiment={_write(example, BASE)}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--experiment: The experiment file *exp.yaml gives its architecture neither*"])
