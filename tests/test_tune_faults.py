"""gan-cookbook tune survives killed processes: a search alone killed and run again, a
worker killed in a trial and never started again, a chief killed and started again
while its worker runs a trial (that worker started before its chief).

Each process of a search runs RUNNER, which calls tune as the command does, with a
callback that pauses one trial at its first step and writes a file saying so: the
test kills the process then, in the trial, however fast or slow the machine.
"""

import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from gan_cookbook.cli import main
from gan_cookbook.search_space import search_space
from gan_cookbook.trials import search_oracle, trial_rows
from gan_cookbook.tune import tune

# Each trial: 256 images, one epoch, measured on 200 images; as TINY of test_tune.py.
TINY = ["--epochs", "1", "--limit", "256", "--n", "200"]
TINY_OPTIONS = {"epochs": 1, "limit": 256, "count": 200}
DISTRIBUTED = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
THREADS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
STATUSES = {"RUNNING", "COMPLETED", "FAILED", "INVALID", "IDLE"}
# Far beyond what any step below takes: reached only when something is broken.
DEADLINE_S = 240

RUNNER = '''
import json
import sys
import time
from pathlib import Path

import keras

from gan_cookbook import recipes
from gan_cookbook.tune import tune

options = json.loads(sys.argv[1])
pause = options.pop("pause", None)


class Pause(keras.callbacks.Callback):
    """Pauses this process's trial number `trial` (0 its first) at its first step:
    writes `marker`, then waits for `until` to exist (forever, without one). A
    process that finds `marker` already written does not pause again."""

    def __init__(self, trial, marker, until=None):
        super().__init__()
        self.trial, self.began = trial, -1
        self.marker = Path(marker)
        self.until = None if until is None else Path(until)

    def on_train_begin(self, logs=None):
        self.began += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.began == self.trial and batch == 0 and not self.marker.exists():
            self.marker.write_text("paused")
            while self.until is None or not self.until.exists():
                time.sleep(0.05)


callbacks = [] if pause is None else [Pause(**pause)]
result = tune(recipes.get("mnist_quick"), callbacks=callbacks, **options)
print("Ran:", json.dumps(result.ran), flush=True)
'''


@pytest.fixture(autouse=True)
def alone(monkeypatch):
    """No search in these tests joins one elsewhere by accident."""
    for name in DISTRIBUTED:
        monkeypatch.delenv(name, raising=False)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def whole_table(out):
    """The rows of trials.csv, each checked whole: every column, nothing more."""
    text = (out / "trials.csv").read_text()
    assert text.endswith("\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        # A short row has None values, a long one a None key.
        assert None not in row and None not in row.values(), row
        assert row["status"] in STATUSES, row
    return rows


def statuses(rows):
    return [(row["trial"], row["status"]) for row in rows]


def written(folder):
    """Every file under ``folder`` and when it was last written."""
    return {
        path.relative_to(folder): path.stat().st_mtime_ns
        for path in folder.rglob("*")
        if path.is_file()
    }


class Processes:
    """The processes of one search, each running RUNNER with its own log; killed, if
    still running, when the test ends."""

    def __init__(self, folder, port=None):
        self.folder, self.port = folder, port
        self.runner = folder / "runner.py"
        self.runner.write_text(RUNNER)
        self.started = {}

    def start(self, name, tuner_id=None, **options):
        environment = {
            key: value for key, value in os.environ.items() if key not in DISTRIBUTED
        }
        environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
        # One core each, as one GPU each on a cluster: the processes share the
        # test machine's cores without crowding each other.
        environment.update(dict.fromkeys(THREADS, "1"))
        if tuner_id is not None:
            environment.update(
                KERASTUNER_TUNER_ID=tuner_id,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(self.port),
            )
        with (self.folder / f"{name}.log").open("w") as log:
            self.started[name] = subprocess.Popen(
                [sys.executable, str(self.runner), json.dumps(options)],
                env=environment, cwd=self.folder, text=True,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self.started[name]

    def log(self, name):
        return (self.folder / f"{name}.log").read_text()

    def wait_for(self, found, *names, what):
        """Waits until ``found()``, while the processes ``names`` keep running."""
        deadline = time.monotonic() + DEADLINE_S
        while not found():
            for name in names:
                if self.started[name].poll() is not None:
                    pytest.fail(
                        f"{name} ended before {what}:\n{self.log(name)[-3000:]}"
                    )
            if time.monotonic() > deadline:
                pytest.fail(f"never {what}")
            time.sleep(0.05)

    def kill(self, name):
        process = self.started[name]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def finish(self, *names):
        """Waits for ``names`` to end; returns their logs, each checked to have
        ended with status 0."""
        deadline = time.monotonic() + DEADLINE_S
        for name in names:
            self.started[name].wait(timeout=max(1, deadline - time.monotonic()))
        logs = {name: self.log(name) for name in names}
        for name in names:
            code = self.started[name].returncode
            assert code == 0, f"{name} ended with {code}:\n{logs[name][-3000:]}"
        return logs

    def close(self):
        for process in self.started.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path, free_port())
    yield started
    started.close()


def ran(log):
    """The trials a process ran, as RUNNER prints them at its end."""
    line = [line for line in log.splitlines() if line.startswith("Ran: ")][-1]
    return json.loads(line.removeprefix("Ran: "))


# A search alone ---------------------------------------------------------------


def test_a_search_killed_alone_continues_without_repeating_finished_trials(
    processes, tmp_path
):
    out = tmp_path / "search"
    paused = tmp_path / "paused"
    processes.start("alone", out=str(out), trials=2, **TINY_OPTIONS,
                    pause={"trial": 1, "marker": str(paused)})  # fmt: skip
    processes.wait_for(paused.exists, "alone", what="trial 1 began")
    processes.kill("alone")

    # KerasTuner's state and the table were written whole, and hold trial 0.
    rows = whole_table(out)
    assert statuses(rows)[0] == ("0", "COMPLETED")
    assert all(row["status"] == "RUNNING" for row in rows[1:])
    finished = written(out / "trials" / "0")
    assert (out / "trials" / "1" / "recipe.json").is_file()  # in flight

    # The same command at once: the lock died with the process; trial 1 runs again.
    result = CliRunner().invoke(
        main, ["tune", "mnist_quick", "--trials", "2", *TINY, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"Continuing the search in {out}: 1 of 2 trials done." in result.output
    assert "Trial 1 (2 of 2)" in result.output
    assert "Trial 0 (" not in result.output
    assert written(out / "trials" / "0") == finished
    rows = whole_table(out)
    assert statuses(rows) == [("0", "COMPLETED"), ("1", "COMPLETED")]
    assert (out / "trials" / "1" / "metrics.json").is_file()


# Many processes -----------------------------------------------------------------


def test_a_worker_killed_in_a_trial_has_it_failed_and_the_search_ends(
    processes, tmp_path
):
    out = tmp_path / "search"
    paused = tmp_path / "paused"
    search = {"out": str(out), "trials": 2, **TINY_OPTIONS, "chief_timeout": 120}
    processes.start("chief", "chief", **search, worker_timeout=10)
    # tuner1, alone with the chief, gets trial 0 and is killed in it.
    processes.start("tuner1", "tuner1", **search,
                    pause={"trial": 0, "marker": str(paused)})  # fmt: skip
    processes.wait_for(paused.exists, "chief", "tuner1", what="tuner1 began trial 0")
    processes.kill("tuner1")
    processes.start("tuner0", "tuner0", **search)

    logs = processes.finish("tuner0", "chief")
    assert ran(logs["tuner0"]) == ["1"]
    assert (
        "Worker tuner1 stopped answering in trial 0, which failed: nothing heard "
        "from it for 10 s."
    ) in logs["chief"]
    rows = whole_table(out)
    assert statuses(rows) == [("0", "FAILED"), ("1", "COMPLETED")]
    assert rows[0]["note"] == (
        "the recipe's own settings; worker tuner1 stopped answering during the "
        "trial: nothing heard from it for 10 s"
    )
    assert "| 0 | failed |" in (out / "trials.md").read_text()


def test_a_chief_killed_and_started_again_leaves_its_workers_trial_with_it(
    processes, tmp_path
):
    out = tmp_path / "search"
    paused, resume = tmp_path / "paused", tmp_path / "resume"
    search = {"out": str(out), "trials": 2, **TINY_OPTIONS, "chief_timeout": 120}
    # The worker first: it says what it waits for, and waits.
    pause = {"trial": 1, "marker": str(paused), "until": str(resume)}
    processes.start("tuner0", "tuner0", **search, pause=pause)
    waiting = (
        f"Waiting up to 120 s for the chief at 127.0.0.1:{processes.port} "
        "(KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT) to answer ..."
    )
    processes.wait_for(
        lambda: waiting in processes.log("tuner0"), "tuner0", what="tuner0 waited"
    )
    processes.start("chief", "chief", **search)
    processes.wait_for(paused.exists, "chief", "tuner0", what="trial 1 began")
    assert statuses(whole_table(out)) == [("0", "COMPLETED")]
    finished = written(out / "trials" / "0")

    # Killed while tuner0 runs trial 1, the chief is started again at once: the
    # lock and the port it held are free.
    processes.kill("chief")
    processes.start("chief again", "chief", **search)
    processes.wait_for(
        lambda: "Serving the search" in processes.log("chief again"),
        "chief again",
        what="the chief served again",
    )
    resume.write_text("")

    logs = processes.finish("tuner0", "chief again")
    assert "Working for the chief at 127.0.0.1:" in logs["tuner0"]
    # Trial 1 stayed tuner0's: it was not handed out again once it had ended.
    assert ran(logs["tuner0"]) == ["0", "1"]
    assert f"Continuing the search in {out}: 1 of 2 trials done." in logs["chief again"]
    assert statuses(whole_table(out)) == [("0", "COMPLETED"), ("1", "COMPLETED")]
    assert written(out / "trials" / "0") == finished


# The oracle's part, without processes ----------------------------------------------


class Clock:
    """Stands in for the time module where the oracle reads time.monotonic()."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


def end(oracle, trial, distance=1.0):
    oracle.update_trial(trial.trial_id, {"frechet_distance": distance})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_a_worker_not_heard_from_in_time_is_given_up_with_its_trial(
    tmp_path, monkeypatch
):
    clock = Clock()
    monkeypatch.setattr("gan_cookbook.trials.time", clock)
    space = search_space({"noise_dim": [8, 16, 32, 64]})
    ended = []
    oracle = search_oracle("random", 3, space, 0, None, ended.append, chief=True)
    oracle._set_project_dir(str(tmp_path), "state")
    first = oracle.create_trial("tuner0")
    second = oracle.create_trial("tuner1")

    clock.now = 8.0
    oracle.get_trial(first.trial_id)  # tuner0's word, as its heartbeat sends it
    clock.now = 12.0
    assert oracle.end_lost_trials(10) == [("tuner1", second.trial_id)]
    assert oracle.tuner_ids == {"tuner0"}
    assert ended == [oracle]  # the table is written
    rows = trial_rows(oracle, ["noise_dim"], None)
    assert statuses(rows) == [(first.trial_id, "RUNNING"), (second.trial_id, "FAILED")]
    assert rows[1]["note"] == (
        "worker tuner1 stopped answering during the trial: nothing heard from it "
        "for 10 s"
    )

    # tuner0 started again with its ID gets its trial back, and counts as heard.
    clock.now = 15.0
    assert oracle.create_trial("tuner0").trial_id == first.trial_id
    clock.now = 24.0
    assert oracle.end_lost_trials(10) == []
    end(oracle, first)
    last = oracle.create_trial("tuner0")
    end(oracle, last)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    # Nothing in flight and no worker left: KerasTuner's chief ends.
    assert not oracle.ongoing_trials and not oracle.tuner_ids


def test_a_chief_reloaded_keeps_trials_in_flight_with_their_workers(tmp_path):
    space = search_space({"noise_dim": [8, 16, 32, 64]})
    kept = search_oracle("random", 4, space, 0, None, lambda oracle: None, chief=True)
    kept._set_project_dir(str(tmp_path), "state")
    first = kept.create_trial("tuner0")
    end(kept, first)
    in_flight = kept.create_trial("tuner0")
    # An older search's oracle.json could list an ended trial as in flight.
    state_file = tmp_path / "state" / "oracle.json"
    state = json.loads(state_file.read_text())
    state["ongoing_trials"]["tuner9"] = first.trial_id
    state_file.write_text(json.dumps(state))

    def reloaded(chief):
        # Each from a copy of the state: the first to hand out a trial saves.
        copy = tmp_path / ("chief" if chief else "alone")
        shutil.copytree(tmp_path / "state", copy / "state")
        oracle = search_oracle("random", 4, space, 0, None, lambda o: None, chief=chief)
        oracle._set_project_dir(str(copy), "state")
        oracle.reload()
        return oracle

    chief = reloaded(chief=True)
    assert {key: trial.trial_id for key, trial in chief.ongoing_trials.items()} == {
        "tuner0": in_flight.trial_id
    }
    assert chief.get_state()["retry_queue"] == []
    assert chief.tuner_ids == {"tuner0"}
    # Another worker gets a new trial; tuner0, asking again, its own.
    assert chief.create_trial("tuner1").trial_id not in (
        first.trial_id, in_flight.trial_id
    )  # fmt: skip
    assert chief.create_trial("tuner0").trial_id == in_flight.trial_id

    # Alone, the trial in flight runs again at once, as KerasTuner does.
    alone = reloaded(chief=False)
    assert alone.get_state()["retry_queue"] == [in_flight.trial_id]
    assert alone.create_trial("tuner0").trial_id == in_flight.trial_id


def test_a_worker_timeout_too_short_for_the_heartbeat_is_refused(tmp_path):
    from gan_cookbook import recipes

    out = tmp_path / "search"
    with pytest.raises(ValueError, match=r"Received: worker_timeout=1$"):
        tune(recipes.get("mnist_quick"), out=out, trials=2, worker_timeout=1)
    assert not out.exists()
