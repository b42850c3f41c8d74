"""gan-cookbook tune: real searches on a few hundred MNIST images, alone, stopped and
continued, and shared by a chief and two workers; and the input it refuses."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import keras
import keras_tuner
import pytest
from click.testing import CliRunner
from PIL import Image

from gan_cookbook import recipes
from gan_cookbook.choices import ORACLES
from gan_cookbook.cli import main
from gan_cookbook.distributed import Role, distributed_role, held
from gan_cookbook.recipe import load_recipe_file
from gan_cookbook.search_space import (
    DEFAULT_SEARCH,
    SETTINGS,
    noise_name,
    parse_noise,
    search_space,
)
from gan_cookbook.trials import search_oracle
from gan_cookbook.tune import SearchStopped, tune

ROOT = Path(__file__).parent.parent
# Each trial: 256 images, one epoch, measured on 200 images.
TINY = ["--epochs", "1", "--limit", "256", "--n", "200"]
DISTRIBUTED = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def invoke(*arguments, env=None):
    return CliRunner().invoke(main, [str(argument) for argument in arguments], env=env)


def read_table(out):
    with (out / "trials.csv").open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(autouse=True)
def alone(monkeypatch):
    """No search in these tests joins one elsewhere by accident."""
    for name in DISTRIBUTED:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "mnist_quick"
    result = invoke("tune", "mnist_quick", "--trials", "3", *TINY, "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_a_search_writes_a_table_of_every_trial(search):
    out, output = search
    rows = read_table(out)
    assert [row["trial"] for row in rows] == ["0", "1", "2"]
    names = list(DEFAULT_SEARCH)
    assert list(rows[0]) == [
        "trial", "status", "frechet_distance", "seconds", *names, "note"
    ]  # fmt: skip
    for row in rows:
        assert row["status"] == "COMPLETED"
        assert float(row["frechet_distance"]) > 0 and float(row["seconds"]) > 0
        assert all(row[name] != "" for name in names)
    # The first trial cooks the recipe's own settings: the baseline.
    own = recipes.get("mnist_quick")
    assert rows[0]["note"] == "the recipe's own settings"
    assert (rows[0]["batch_size"], rows[0]["noise_dim"]) == ("64", "32")
    assert rows[0]["noise"] == noise_name(own.noise) == "uniform[-1,1)"
    markdown = (out / "trials.md").read_text().splitlines()
    assert len(markdown) == 2 + len(rows)
    for line, row in zip(markdown[2:], rows, strict=True):
        assert line.startswith(f"| {row['trial']} | completed |")
    # The table is printed too, with the command that cooks the best.
    assert "\n".join(markdown) in output
    assert f"gan-cookbook cook {out / 'best_recipe.py'}" in output


def test_each_trial_is_a_run_folder_with_its_recipe_file(search, tmp_path):
    out, _ = search
    rows = read_table(out)
    for row in rows:
        folder = out / "trials" / row["trial"]
        settings = json.loads((folder / "recipe.json").read_text())["recipe"]
        assert settings["batch_size"] == int(row["batch_size"])
        assert settings["noise_dim"] == int(row["noise_dim"])
        assert noise_name(parse_noise(row["noise"])) == row["noise"]
        average = float(row["average"])
        assert settings["average"] == (None if average == 0 else average)
        rate = settings["discriminator_optimizer"]["config"]["learning_rate"]
        assert rate == pytest.approx(float(row["discriminator_learning_rate"]))
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["n"] == 200
        assert metrics["generated"]["frechet_distance"] == pytest.approx(
            float(row["frechet_distance"])
        )
        # recipe.py cooks these settings again; resume finds it through recipe.json.
        again = load_recipe_file(folder / "recipe.py")
        assert settings["file"] == str((folder / "recipe.py").resolve())
        assert again.to_config()["batch_size"] == settings["batch_size"]
        assert again.to_config()["noise"] == settings["noise"]
        assert again.average == settings["average"]

    # sample and evaluate work on a trial's folder as on any run.
    folder = out / "trials" / rows[-1]["trial"]
    grid = tmp_path / "grid.png"
    result = invoke("sample", folder, "--n", "4", "--out", grid)
    assert result.exit_code == 0, result.output
    Image.open(grid).load()
    result = invoke("evaluate", folder, "--n", "50", "--out", tmp_path / "m.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 50


def test_best_recipe_cooks_as_it_is(search, tmp_path):
    out, _ = search
    rows = read_table(out)
    best = min(rows, key=lambda row: float(row["frechet_distance"]))
    recipe = load_recipe_file(out / "best_recipe.py")
    assert recipe.name == "mnist_quick_tuned"
    assert f"trial {best['trial']}" in (out / "best_recipe.py").read_text()
    assert recipe.batch_size == int(best["batch_size"])
    assert recipe.noise == parse_noise(best["noise"])
    beta = recipe.generator_optimizer().get_config()["beta_1"]
    assert beta == pytest.approx(float(best["beta_1"]))
    run = tmp_path / "run"
    result = invoke("cook", out / "best_recipe.py", "--epochs", "1", "--limit",
                    "256", "--out", run, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert keras.saving.load_model(run / "generator.keras").output_shape[1:] == (
        28, 28, 1
    )  # fmt: skip


def test_the_same_command_again_continues_the_search(search):
    out, _ = search
    result = invoke("tune", "mnist_quick", "--trials", "3", *TINY, "--out", out,
                    "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [row["trial"] for row in read_table(out)] == ["0", "1", "2"]

    result = invoke("tune", "mnist_quick", "--trials", "3", "--epochs", "2",
                    "--limit", "256", "--n", "200", "--out", out)  # fmt: skip
    assert result.exit_code == 2
    assert "epochs: 1 in the search, 2 given" in result.output


class InterruptTrial(keras.callbacks.Callback):
    """Sends this process SIGINT (Ctrl-C) in the first step of a given trial."""

    def __init__(self, trial):
        super().__init__()
        self.trial, self.began = trial, -1

    def on_train_begin(self, logs=None):
        self.began += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.began == self.trial and batch == 0:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_stopped_search_loses_only_the_trial_in_flight(tmp_path):
    recipe = recipes.get("mnist_quick")
    options = dict(out=tmp_path / "search", trials=2, epochs=1, limit=256, count=200)
    with pytest.raises(SearchStopped, match="Stopped in trial 1") as stopped:
        tune(recipe, callbacks=[InterruptTrial(1)], verbose=0, **options)
    assert stopped.value.exit_code == 130
    rows = read_table(tmp_path / "search")
    assert [(row["trial"], row["status"]) for row in rows] == [
        ("0", "COMPLETED"), ("1", "RUNNING")
    ]  # fmt: skip
    finished = tmp_path / "search" / "trials" / "0" / "generator.keras"
    written = finished.stat().st_mtime_ns

    result = tune(recipe, verbose=0, **options)
    assert result.ran == ["1"]  # trial 0 is kept, trial 1 starts again
    assert finished.stat().st_mtime_ns == written
    assert [(row["trial"], row["status"]) for row in result.rows] == [
        ("0", "COMPLETED"), ("1", "COMPLETED")
    ]  # fmt: skip
    assert (tmp_path / "search" / "trials" / "1" / "metrics.json").is_file()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


THREADS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def test_a_chief_and_two_workers_share_one_search(tmp_path):
    # A recipe file with a narrow SEARCH: it is what every process runs.
    recipe_file = tmp_path / "narrow.py"
    recipe_file.write_text(
        "from gan_cookbook.recipes.mnist_quick import RECIPE\n\n"
        "SEARCH = {\n"
        '    "generator_learning_rate": {"min": 5e-4, "max": 3e-3},\n'
        '    "noise_dim": [16, 32],\n'
        '    "batch_size": 64,\n'
        "}\n"
    )
    out = tmp_path / "search"
    port = str(free_port())
    command = [sys.executable, "-m", "gan_cookbook", "tune", str(recipe_file),
               "--trials", "3", *TINY, "--out", str(out),
               "--chief-timeout", "120"]  # fmt: skip
    processes, logs = {}, {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            environment = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                # One core each, as one GPU each on a cluster: three processes
                # share the test machine's cores without crowding each other.
                **dict.fromkeys(THREADS, "1"),
                "KERASTUNER_TUNER_ID": tuner_id,
                "KERASTUNER_ORACLE_IP": "127.0.0.1",
                "KERASTUNER_ORACLE_PORT": port,
            }
            logs[tuner_id] = (tmp_path / f"{tuner_id}.log").open("w")
            processes[tuner_id] = subprocess.Popen(
                command, env=environment, cwd=tmp_path, text=True,
                stdout=logs[tuner_id], stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 300
        for process in processes.values():
            process.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs.values():
            log.close()
    outputs = {name: (tmp_path / f"{name}.log").read_text() for name in processes}
    for name, process in processes.items():
        assert process.returncode == 0, f"{name}:\n{outputs[name][-3000:]}"

    rows = read_table(out)
    trials = [row["trial"] for row in rows]
    assert trials == ["0", "1", "2"]
    assert all(row["status"] == "COMPLETED" for row in rows)
    assert list(rows[0])[4:-1] == ["generator_learning_rate", "noise_dim", "batch_size"]
    # Every trial ran exactly once, on one of the workers; the chief ran none.
    ran = [
        line.split()[1]
        for name in ("tuner0", "tuner1")
        for line in outputs[name].splitlines()
        if line.startswith("Trial ") and " done: " in line
    ]
    assert sorted(ran) == trials
    assert "done: " not in outputs["chief"]
    assert (out / "trials.md").read_text().strip() in outputs["chief"]
    for trial in trials:
        assert (out / "trials" / trial / "generator.keras").is_file()
    assert load_recipe_file(out / "best_recipe.py").name == "mnist_quick_tuned"


# Bad input ------------------------------------------------------------------


def write_recipe(path, search):
    path.write_text(
        f"from gan_cookbook.recipes.mnist_quick import RECIPE\n\nSEARCH = {search}\n"
    )
    return path


@pytest.mark.parametrize(
    "search, message",
    [
        ('{"learning_rate": [1e-3]}', "'learning_rate'. Known: "),
        ("{}", "is empty: name at least one of"),
        ('{"beta_1": [0.5, 1.5]}', "`beta_1` takes a number in [0, 1)"),
        ('{"batch_size": {"min": 0, "max": 64}}', "`batch_size` takes a whole"),
        ('{"noise": ["gaussian"]}', "'gaussian': it is not of that form"),
        ('{"noise_dim": []}', "`noise_dim` lists no values"),
    ],
)
def test_a_bad_search_space_is_refused_before_anything_is_written(
    tmp_path, search, message
):
    recipe_file = write_recipe(tmp_path / "bad.py", search)
    out = tmp_path / "search"
    result = invoke("tune", recipe_file, "--trials", "2", *TINY, "--out", out)
    assert result.exit_code == 2, result.output
    assert f"SEARCH in {recipe_file.resolve()}" in result.output
    assert message in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--trials", "0"], "Invalid value for '--trials': 0 is not in the range"),
        (["--trials", "2", "--limit", "100"], "more than the --limit of 100"),
        (["--trials", "2", "--n", "1"], "Invalid value for '--n'"),
        (
            ["--trials", "2", "--chief-timeout", "0"],
            "Invalid value for '--chief-timeout'",
        ),
        (
            ["--trials", "2", "--worker-timeout", "5"],
            "Invalid value for '--worker-timeout': 5.0 is not in the range x>=10",
        ),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, arguments, message):
    out = tmp_path / "search"
    result = invoke("tune", "mnist_quick", *arguments, "--out", out)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_a_folder_that_holds_something_else_is_refused(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("tune", "mnist_quick", "--trials", "2", *TINY, "--out", out)
    assert result.exit_code == 2
    assert "--out" in result.output and "already holds files" in result.output
    assert [path.name for path in out.iterdir()] == ["notes.txt"]


def test_a_chief_that_cannot_be_reached_is_a_clear_error_within_seconds(tmp_path):
    environment = {
        "KERASTUNER_TUNER_ID": "tuner0",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(free_port()),  # nothing listens there
    }
    began = time.monotonic()
    result = invoke("tune", "mnist_quick", "--trials", "2", *TINY,
                    "--out", tmp_path / "search", "--chief-timeout", "2",
                    env=environment)  # fmt: skip
    assert time.monotonic() - began < 30
    assert result.exit_code == 2, result.output
    address = f"127.0.0.1:{environment['KERASTUNER_ORACLE_PORT']}"
    assert f"No chief answered at {address} within 2 s" in result.output
    assert not (tmp_path / "search").exists()


def test_half_of_keras_tuners_variables_is_refused(tmp_path):
    result = invoke("tune", "mnist_quick", "--trials", "2", "--out", tmp_path / "s",
                    env={"KERASTUNER_TUNER_ID": "chief"})  # fmt: skip
    assert result.exit_code == 2
    assert "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT missing" in result.output


def test_a_chief_refuses_a_port_already_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        environment = {
            "KERASTUNER_TUNER_ID": "chief",
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(taken.getsockname()[1]),
        }
        result = invoke("tune", "mnist_quick", "--trials", "2", *TINY, "--out",
                        tmp_path / "search", env=environment)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "The chief cannot listen on 127.0.0.1:" in result.output


@pytest.mark.parametrize(
    "arguments, code",
    [(["tune", "--help"], 0), (["tune", "mnist", "--trials", "0", "--out", "x"], 2)],
)
def test_tune_help_and_usage_errors_start_no_backend(arguments, code):
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gan_cookbook.cli import main\n"
        f"result = CliRunner().invoke(main, {arguments!r})\n"
        f"assert result.exit_code == {code}, result.output\n"
        "print(sorted(name for name in ('keras', 'keras_tuner', 'tensorflow') "
        "if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# The search space ---------------------------------------------------------------


def test_the_default_space_and_a_plain_dict_become_keras_tuners():
    space = search_space()
    assert [hp.name for hp in space.space] == list(DEFAULT_SEARCH)
    assert set(DEFAULT_SEARCH) <= set(SETTINGS)
    narrow = search_space(
        {
            "beta_1": 0.5,
            "batch_size": {"min": 32, "max": 128, "step": 32},
            "average": [0.0, 0.99],
        }  # fmt: skip
    )
    kinds = {hp.name: type(hp).__name__ for hp in narrow.space}
    assert kinds == {"beta_1": "Fixed", "batch_size": "Int", "average": "Choice"}


def test_keras_tuner_hyperparameters_are_a_search_space_too():
    import keras_tuner

    space = keras_tuner.HyperParameters()
    space.Float("discriminator_learning_rate", 1e-4, 1e-3, sampling="log")
    assert search_space(space).get_config() == space.get_config()
    space.Int("epochs", 1, 3)
    with pytest.raises(ValueError, match="'epochs'. Known: "):
        search_space(space)


def test_noise_names_read_back():
    for noise in ("uniform[0,1)", "uniform[-1,1)", "normal(0,1)", "normal(0.5,2)"):
        assert noise_name(parse_noise(noise)) == noise
    with pytest.raises(ValueError, match="Received: noise='uniform"):
        parse_noise("uniform[1,0)")


@pytest.mark.parametrize("oracle", ORACLES)
def test_every_oracle_the_command_line_offers_is_one_tune_searches_with(
    tmp_path, oracle
):
    # Each choice of --oracle is taken by tune and builds a KerasTuner oracle.
    if oracle == "bayesian":
        pytest.importorskip("sklearn")
    out = tmp_path / "search"
    result = invoke("tune", "mnist_quick", "--trials", "2", "--oracle", oracle,
                    "--limit", "1", "--out", out)  # fmt: skip
    # tune took the oracle, and went on to refuse the space for the --limit.
    assert result.exit_code == 2, result.output
    assert "more than the --limit of 1" in result.output
    assert not out.exists()
    space = search_space({"noise_dim": [16, 32]})
    built = search_oracle(oracle, 2, space, 0, None, lambda ended: None)
    assert isinstance(built, keras_tuner.Oracle)


def test_tune_refuses_an_oracle_naming_the_command_lines_choices(tmp_path):
    out = tmp_path / "search"
    with pytest.raises(ValueError) as refused:
        tune(recipes.get("mnist_quick"), out=out, trials=2, oracle="hyperband")
    # The message lists the oracles --oracle offers.
    assert str(refused.value) == (
        f"`oracle` must be one of {', '.join(ORACLES)}. Received: oracle='hyperband'"
    )
    assert not out.exists()


def test_the_bayesian_oracle_searches_with_its_gaussian_process(tmp_path):
    pytest.importorskip("sklearn")
    space = search_space({"generator_learning_rate": {"min": 1e-4, "max": 1e-2}})
    oracle = search_oracle("bayesian", 5, space, 0, None, lambda oracle: None)
    oracle._set_project_dir(str(tmp_path), "state")
    # Past its 3 random trials, the Gaussian process proposes the last two.
    for _ in range(5):
        trial = oracle.create_trial("tuner0")
        rate = trial.hyperparameters.values["generator_learning_rate"]
        assert 1e-4 <= rate <= 1e-2
        oracle.update_trial(trial.trial_id, {"frechet_distance": abs(rate - 2e-3)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert [str(trial.status) for trial in oracle.trials.values()] == ["COMPLETED"] * 5
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_a_stopped_search_says_how_to_continue(tmp_path, monkeypatch):
    import gan_cookbook.tune as tuning

    def stopped(recipe, **options):
        raise tuning.SearchStopped("Stopped in trial 1: by SIGINT.", 130)

    monkeypatch.setattr(tuning, "tune", stopped)
    out = tmp_path / "search"
    result = invoke("tune", "mnist_quick", "--trials", "3", "--n", "200",
                    "--no-baseline", "--out", out)  # fmt: skip
    assert result.exit_code == 130
    assert (
        "Continue it with: gan-cookbook tune mnist_quick --trials 3 "
        f"--out {out} --n 200 --no-baseline"
    ) in result.output


def test_an_optimizer_no_partial_can_write_is_changed_in_place():
    from gan_cookbook.search_space import recipe_changes

    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)
    own = recipes.get("mnist_quick")
    recipe = own.replace(
        generator_optimizer=partial(keras.optimizers.Adam, schedule, beta_1=0.5)
    )
    change = recipe_changes(recipe, {"beta_1": 0.9}, "`search`")["generator_optimizer"]
    # A schedule cannot be written as a literal: the recipe's own optimizer, changed.
    assert change.code == "optimizer_with(BASE.generator_optimizer, beta_1=0.9)"
    config = change.value().get_config()
    assert config["beta_1"] == 0.9
    assert config["learning_rate"]["class_name"] == "ExponentialDecay"
    # SGD has no beta_1 to tune.
    recipe = own.replace(discriminator_optimizer=partial(keras.optimizers.SGD, 1e-2))
    with pytest.raises(ValueError, match=r"discriminator_optimizer \(SGD\) has no"):
        recipe_changes(recipe, {"beta_1": 0.9}, "`search`")


def test_one_process_at_a_time_holds_a_search(tmp_path):
    lock = tmp_path / "keras_tuner" / ".lock"
    alone = Role("alone", "tuner0")
    with held(tmp_path, alone, lock):
        with pytest.raises(ValueError, match="another process runs this search"):
            with held(tmp_path, alone, lock):
                pass
        # A worker holds no oracle, so it takes no lock.
        with held(tmp_path, Role("worker", "tuner1", "127.0.0.1", 8000), lock):
            pass
    with held(tmp_path, alone, lock):  # free again once the first has ended
        pass


def test_keras_tuners_variables_make_the_role():
    assert distributed_role({}) == Role("alone", "tuner0")
    shared = {
        "KERASTUNER_ORACLE_IP": "10.0.0.1",
        "KERASTUNER_ORACLE_PORT": "8000",
    }
    chief = distributed_role({**shared, "KERASTUNER_TUNER_ID": "chief"})
    assert (chief.kind, chief.address, chief.owns_oracle) == (
        "chief", "10.0.0.1:8000", True
    )  # fmt: skip
    worker = distributed_role({**shared, "KERASTUNER_TUNER_ID": "tuner-a-0"})
    assert (worker.kind, worker.tuner_id, worker.owns_oracle) == (
        "worker", "tuner-a-0", False
    )  # fmt: skip
    with pytest.raises(ValueError, match="a port number from 1 to 65535"):
        distributed_role({**shared, "KERASTUNER_TUNER_ID": "chief",
                          "KERASTUNER_ORACLE_PORT": "80000"})  # fmt: skip
