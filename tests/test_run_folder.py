"""The run folder and the cook options: recipe.json as a typed record, the folder's
rules, options resolved once against a resumed run's. No Keras needed."""

import json

import pytest

from gan_cookbook import recipes
from gan_cookbook.options import CookOptions
from gan_cookbook.run_folder import (
    SETTINGS_FILE,
    DataRecord,
    RunFolder,
    RunRecord,
)

SAVED = {
    "recipe": {
        "name": "mnist",
        "noise": {
            "distribution": "uniform",
            "low": 0.0,
            "high": 1.0,
            "mean": 0.0,
            "stddev": 1.0,
        },
        "batch_size": 128,
        "average": 0.999,
        "channels": None,
    },
    "options": {"epochs": 2, "limit": 500},
    "data": {
        "source": "mnist (train)",
        "identity": {"kind": "builtin", "name": "mnist"},
        "images": 500,
        "image_shape": [28, 28, 1],
        "num_classes": None,
    },
    "keras_version": "3.15.1",
    "backend": "tensorflow",
    "seed": 0,
    "created": "2026-12-01T10:00:00+0000",
}


def write_run(path, settings=SAVED, checkpoint=True):
    path.mkdir(parents=True, exist_ok=True)
    (path / SETTINGS_FILE).write_text(json.dumps(settings))
    if checkpoint:
        (path / "checkpoints").mkdir(exist_ok=True)
        (path / "checkpoints" / "epoch_0001.npz").write_bytes(b"")
    return RunFolder(path)


def test_record_reads_back_what_it_writes(tmp_path):
    folder = write_run(tmp_path / "run")
    record = folder.read_record()
    assert record.recipe_name == "mnist"
    assert record.average == 0.999
    assert record.data.images == 500
    assert record.options == {"epochs": 2, "limit": 500}
    copy = RunFolder(tmp_path / "copy")
    copy.write_record(record)
    assert json.loads(copy.settings_path.read_text()) == SAVED
    assert copy.read_record() == record


def test_record_of_an_older_or_partial_recipe_json(tmp_path):
    folder = write_run(tmp_path / "old", {"data": {"source": "mnist (train)"}})
    record = folder.read_record()
    assert record.recipe_name is None and record.noise() is None
    # Before identities were recorded, a built-in dataset is known by its source.
    assert record.data_source().to_config()["name"] == "mnist"
    assert RunRecord.from_json({}).data_source() is None


def test_a_damaged_recipe_json_names_the_file(tmp_path):
    folder = RunFolder(tmp_path)
    folder.settings_path.write_text("{not json")
    with pytest.raises(ValueError, match=r"recipe\.json: not readable as JSON"):
        folder.read_record()
    folder.settings_path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"expected a JSON object"):
        folder.read_record()


def test_differences_list_what_a_resume_must_share():
    saved = RunRecord.from_json(SAVED)
    changed = RunRecord.from_json(
        {
            **SAVED,
            "recipe": {**SAVED["recipe"], "batch_size": 64},
            "options": {"epochs": 9},
        }
    )
    # Epochs and options may change on a resume; the batch size may not.
    assert saved.differences(changed) == ["recipe.batch_size: 128 in the run, 64 given"]
    assert saved.differences(saved) == []


def test_a_new_folder_is_refused_when_it_holds_anything(tmp_path):
    RunFolder(tmp_path / "new").check_new()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"is a file\. Expected a new or empty"):
        RunFolder(tmp_path / "file").check_new()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="never overwrites another"):
        RunFolder(other).check_new()
    with pytest.raises(ValueError, match="replaces only a run folder"):
        RunFolder(other).check_new(overwrite=True)
    run = write_run(tmp_path / "run")
    run.check_new(overwrite=True)
    unfinished = write_run(tmp_path / "unfinished", checkpoint=False)
    with pytest.raises(ValueError, match="stopped before its first checkpoint"):
        unfinished.check_new()


def test_resumable_needs_a_run(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist: it is not a run folder"):
        RunFolder(tmp_path / "missing").check_resumable()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no recipe.json"):
        RunFolder(tmp_path / "empty").check_resumable()
    # A run stopped before its first checkpoint is resumed from its first step.
    unfinished = write_run(tmp_path / "unfinished", checkpoint=False)
    assert unfinished.check_resumable() == []
    run = write_run(tmp_path / "run")
    assert [path.name for path in run.check_resumable()] == ["epoch_0001.npz"]


def test_disk_room_is_checked(tmp_path):
    RunFolder(tmp_path / "a" / "b").check_disk(1)
    with pytest.raises(ValueError, match=r"MiB free on its disk, about .* needed"):
        RunFolder(tmp_path).check_disk(2**62)


def test_metrics_are_written_atomically_where_asked(tmp_path):
    folder = write_run(tmp_path / "run")
    assert folder.write_metrics({"n": 10, "path": tmp_path}) == folder.metrics_path
    assert json.loads(folder.metrics_path.read_text()) == {
        "n": 10,
        "path": str(tmp_path),
    }
    elsewhere = folder.write_metrics({"n": 3}, tmp_path / "deep" / "m.json")
    assert json.loads(elsewhere.read_text()) == {"n": 3}
    assert not list(folder.path.glob(".*.tmp"))


def test_options_record_only_what_was_given(tmp_path):
    options = CookOptions.given(epochs=3, data=tmp_path, skip_bad_images=False)
    assert options.recorded() == {"epochs": 3, "data": str(tmp_path.resolve())}
    assert options.engine_or_default == "classic"
    assert options.keep_checkpoints_or_default == 2
    # Without eval_every nothing is measured, so eval_count is not recorded.
    assert CookOptions(eval_count=500).recorded() == {}
    assert CookOptions(eval_every=1, eval_count=500).recorded() == {
        "eval_every": 1,
        "eval_count": 500,
    }


def test_a_resumed_run_fills_the_options_left_out():
    recorded = {"epochs": 2, "limit": 500, "engine": "classic", "unknown": 1}
    merged = CookOptions(epochs=4).merged(recorded)
    assert (merged.epochs, merged.limit, merged.engine) == (4, 500, "classic")
    assert merged.recipe_overrides() == {
        "epochs": 4,
        "batch_size": None,
        "seed": None,
        "precision": None,
    }


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"epochs": 0},
            "`epochs` must be an integer of at least 1. Received: epochs=0",
        ),
        ({"keep_checkpoints": True}, "Received: keep_checkpoints=True"),
        ({"seed": -1}, "`seed` must be an integer of at least 0"),
        ({"eval_count": 1}, "`eval_count` must be an integer of at least 2"),
        ({"engine": "turbo"}, "`engine` must be one of classic, fused"),
        ({"precision": "float16"}, "Received: precision='float16'"),
    ],
)
def test_bad_options_name_the_argument(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        CookOptions(**options)


def test_copy_recipe_writes_an_example_or_builtin_and_never_overwrites(tmp_path):
    assert "image_folder" in recipes.examples()
    written = recipes.copy_recipe_file("image_folder", tmp_path)
    assert written == tmp_path / "image_folder.py"
    assert "RECIPE" in written.read_text()
    mnist = recipes.copy_recipe_file("mnist", tmp_path / "mine.py")
    assert mnist.read_text() == recipes.recipe_text("mnist")
    with pytest.raises(ValueError, match="already exists"):
        recipes.copy_recipe_file("mnist", tmp_path / "mine.py")
    with pytest.raises(ValueError, match="example recipe files: .*image_folder"):
        recipes.copy_recipe_file("no_such", tmp_path)


def test_data_record_ignores_a_bad_class_count():
    assert DataRecord.from_json({"num_classes": True}).num_classes is None
    assert DataRecord.from_json({"num_classes": 10}).num_classes == 10


def test_a_run_recorded_before_objectives_resumes_as_the_standard_one():
    # recipe.json of then: no objective or d_steps, the loss written out.
    before = RunRecord.from_json(
        {**SAVED, "recipe": {**SAVED["recipe"], "loss": "binary_crossentropy"}}
    )
    recipe_now = {**SAVED["recipe"], "loss": None, "objective": "standard"}
    now = RunRecord.from_json({**SAVED, "recipe": {**recipe_now, "d_steps": 1}})
    assert before.differences(now) == []
    other = RunRecord.from_json(
        {**SAVED, "recipe": {**recipe_now, "objective": "hinge", "d_steps": 5}}
    )
    assert before.differences(other) == [
        "recipe.loss: 'binary_crossentropy' in the run, None given",
        "recipe.objective: 'standard' in the run, 'hinge' given",
        "recipe.d_steps: 1 in the run, 5 given",
    ]
