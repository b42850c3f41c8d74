"""compare: run folders side by side, on runs cooked and measured here."""

import csv
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.cli import main
from gan_cookbook.compare import (
    FRECHET_COLUMN,
    SEARCH_FILE,
    TRIALS_FOLDER,
    clock_time,
    compare_runs,
)
from gan_cookbook.cook import prepare

ROOT = Path(__file__).parent.parent
BACKENDS = ("keras", "tensorflow", "jax", "torch")


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two quick runs of two recipes: ``measured`` (mnist_quick: two epochs with
    --eval-every, then evaluated with --compare-raw) and ``plain`` (mnist_wgan, the
    Wasserstein objective with 5 D steps a G step: one epoch, never measured)."""
    root = tmp_path_factory.mktemp("compare")
    measured = prepare(
        recipes.get("mnist_quick"),
        out=root / "measured",
        limit=128,
        epochs=2,
        batch_size=32,
        verbose=0,
        eval_every=1,
        eval_count=200,
    )
    measured.cook()
    plain = prepare(
        recipes.get("mnist_wgan"),
        out=root / "plain",
        limit=160,  # 5 D steps of 32 images a step
        epochs=1,
        batch_size=32,
        verbose=0,
    )
    plain.cook()
    result = invoke("evaluate", measured.out, "--n", 200, "--compare-raw")
    assert result.exit_code == 0, result.output
    return measured.out, plain.out


def table_rows(markdown):
    """The table's rows as dicts of cells by heading."""
    lines = markdown.strip().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert set(lines[1].replace("|", "").split()) <= {"---", "---:"}
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [dict(zip(header, row, strict=True)) for row in cells[2:]]


def history_seconds(run):
    with (run / "history.csv").open() as file:
        return sum(float(row["seconds"]) for row in csv.DictReader(file))


def test_the_table_has_a_row_per_run_with_what_it_trained_and_measured(runs):
    measured, plain = runs
    rows = table_rows(compare_runs([measured, plain]).to_markdown())
    assert [row["run"] for row in rows] == [str(measured), str(plain)]
    first, second = rows
    assert (first["recipe"], second["recipe"]) == ("mnist_quick", "mnist_wgan")
    assert (first["objective"], second["objective"]) == ("standard", "wasserstein")
    assert (first["D steps"], second["D steps"]) == ("1", "5")
    assert (first["epochs"], second["epochs"]) == ("2", "1")
    assert first["training time"] == clock_time(history_seconds(measured))

    metrics = json.loads((measured / "metrics.json").read_text())
    generated = metrics["generated"]
    assert first["Fréchet distance"] == f"{generated['frechet_distance']:.2f}"
    raw = metrics["raw"]["generated"]["frechet_distance"]
    assert first["FD, trained G"] == f"{raw:.2f}"
    assert first["N"] == "200"
    assert first["classifier score"] == f"{generated['classifier_score']:.2f}"
    assert first["classes covered"] == f"{generated['classes_covered']}/10"
    assert first["label accuracy"] == "—"  # not conditional

    # Never evaluated: every measured value is missing, and none is an error.
    for heading in ("Fréchet distance", "FD, trained G", "N", "classifier score",
                    "classes covered", "label accuracy"):  # fmt: skip
        assert second[heading] == "—", heading


def test_a_run_recorded_before_objectives_is_standard_with_one_d_step(runs, tmp_path):
    measured, _ = runs
    older = shutil.copytree(measured, tmp_path / "older")
    settings = json.loads((older / "recipe.json").read_text())
    del settings["recipe"]["objective"], settings["recipe"]["d_steps"]
    (older / "recipe.json").write_text(json.dumps(settings))
    (row,) = compare_runs([older]).rows
    assert (row.objective, row.d_steps) == ("standard", 1)


def test_the_summary_holds_the_numbers_unrounded(runs):
    measured, plain = runs
    summary, unmeasured = compare_runs([measured, plain]).rows
    metrics = json.loads((measured / "metrics.json").read_text())
    assert summary.frechet_distance == metrics["generated"]["frechet_distance"]
    assert summary.training_seconds == pytest.approx(history_seconds(measured))
    assert summary.planned_epochs == 2 and len(summary.curve) == 2
    assert unmeasured.frechet_distance is None and unmeasured.curve == ()


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """One tiny epoch of a conditional recipe, evaluated."""
    run = prepare(
        recipes.get("mnist_quick_conditional"),
        out=tmp_path_factory.mktemp("compare") / "conditional",
        limit=64,
        epochs=1,
        batch_size=32,
        verbose=0,
    )
    run.cook()
    result = invoke("evaluate", run.out, "--n", 200)
    assert result.exit_code == 0, result.output
    return run.out


def test_a_conditional_run_shows_its_label_accuracy(conditional_run):
    (row,) = table_rows(compare_runs([conditional_run]).to_markdown())
    metrics = json.loads((conditional_run / "metrics.json").read_text())
    assert row["recipe"] == "mnist_quick_conditional"
    assert row["label accuracy"] == f"{metrics['label_accuracy']['overall']:.1%}"
    assert row["label accuracy"].endswith("%")


def test_the_plot_is_a_png_of_the_runs_with_a_frechet_column(runs, tmp_path):
    measured, plain = runs
    out = tmp_path / "plots" / "frechet.png"
    comparison = compare_runs([measured, plain], plot=out)
    assert comparison.plot == out and out.stat().st_size > 0
    with Image.open(out) as picture:
        picture.load()
        assert picture.format == "PNG" and picture.size[0] > 0
    assert comparison.notes == [
        f"{plain}: its history.csv holds no {FRECHET_COLUMN} (cook with "
        "--eval-every N); left out of the plot."
    ]


def test_no_plot_when_no_run_has_a_frechet_column(runs, tmp_path):
    _, plain = runs
    out = tmp_path / "frechet.png"
    assert compare_runs([plain], plot=out).plot is None
    result = invoke("compare", plain, "--plot", out)
    assert result.exit_code == 0, result.output
    assert f"No plot written to {out}: no run's history.csv holds a" in result.stderr
    assert not out.exists()


def test_the_command_prints_the_table_and_never_overwrites_out(runs, tmp_path):
    measured, plain = runs
    out, plot = tmp_path / "leaderboard.md", tmp_path / "frechet.png"
    result = invoke("compare", measured, plain, "--out", out, "--plot", plot)
    assert result.exit_code == 0, result.output
    table = compare_runs([measured, plain]).to_markdown()
    assert result.stdout == table + "\n"
    assert out.read_text(encoding="utf-8") == table + "\n"
    assert f"Plot written to {plot}" in result.stderr
    with Image.open(plot) as picture:
        assert picture.format == "PNG"

    out.write_text("kept")
    result = invoke("compare", measured, "--out", out)
    assert result.exit_code == 2
    assert f"--out {out} already exists" in result.output
    assert out.read_text() == "kept"
    result = invoke("compare", measured, "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("| run | recipe |")


def test_a_path_that_is_not_a_run_folder_is_a_usage_error_naming_it(runs, tmp_path):
    measured, _ = runs
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("compare", measured, empty)
    assert result.exit_code == 2
    assert f"{empty} is not a run folder: it holds no recipe.json" in result.output
    assert f"Received: {empty}" in result.output
    with pytest.raises(ValueError, match="is not a run folder: it holds no recipe"):
        compare_runs([empty])

    nowhere = tmp_path / "nowhere"
    result = invoke("compare", measured, nowhere)
    assert result.exit_code == 2
    assert f"{nowhere} (does not exist)" in result.output


def test_a_search_folder_stands_for_its_trials(runs, tmp_path):
    measured, plain = runs
    search = tmp_path / "search"
    trials = search / TRIALS_FOLDER
    # tune's layout: search.json, and each trial's run folder in trials/<id>/.
    shutil.copytree(plain, trials / "10")
    shutil.copytree(measured, trials / "2")
    (trials / "11").mkdir()  # a trial in flight: no recipe.json yet
    (search / SEARCH_FILE).write_text("{}")

    comparison = compare_runs([search])
    assert [row.run for row in comparison.rows] == [
        str(trials / "2"),
        str(trials / "10"),
    ]
    assert comparison.notes == [
        f"{trials / '11'}: holds no recipe.json (a trial that has not started "
        "training); left out."
    ]
    given = compare_runs([trials / "2", trials / "10"])
    assert given.to_markdown() == comparison.to_markdown()
    assert comparison.rows[0].name == "search/trials/2"

    shutil.rmtree(trials)
    with pytest.raises(ValueError, match="search folder whose trials hold no run"):
        compare_runs([search])


def test_the_names_compare_reads_are_those_the_writers_use():
    from gan_cookbook import search_folder
    from gan_cookbook.evaluation import FRECHET_KEY

    assert FRECHET_COLUMN == FRECHET_KEY
    assert SEARCH_FILE == search_folder.SEARCH_FILE
    assert TRIALS_FOLDER == search_folder.TRIALS_FOLDER


def test_clock_time():
    assert [clock_time(s) for s in (None, 0.4, 65, 3599.6, 3723)] == [
        "—", "0:00", "1:05", "1:00:00", "1:02:03",
    ]  # fmt: skip


def test_compare_starts_no_backend(runs, tmp_path):
    measured, plain = runs
    code = textwrap.dedent(
        f"""
        import sys
        from click.testing import CliRunner
        from gan_cookbook.cli import main
        for arguments, code in [
            ([{str(measured)!r}, {str(plain)!r}, "--plot", {str(tmp_path / "p.png")!r}],
             0),
            (["/no/such/run"], 2),
        ]:
            result = CliRunner().invoke(main, ["compare", *arguments])
            assert result.exit_code == code, result.output
        print(sorted(name for name in {BACKENDS!r} if name in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "p.png").is_file()


def test_the_help_says_a_search_folder_stands_for_its_trials():
    result = invoke("compare", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "A search folder of tune (holding search.json) stands for its trials" in (
        text
    )
    assert "--out FILE" in text and "--overwrite" in text
