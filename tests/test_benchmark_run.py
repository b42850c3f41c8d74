"""benchmarks/run.py's sweep: its cases, its worker processes, its table; and the
plain PyTorch reference under torch.compile."""

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_script

ROOT = Path(__file__).parent.parent


def sweep_arguments(module, **settings):
    defaults = {
        "backends": "jax,torch",
        "engines": "classic,fused",
        "precisions": "float32",
        "steps_per_execution": "1",
        "torch_compile": None,
    }
    return module.argparse.Namespace(**{**defaults, **settings})


def test_fused_cases_run_at_every_k_and_the_reference_in_every_mode(monkeypatch):
    module = run_script(monkeypatch)
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: object())
    arguments = sweep_arguments(
        module,
        precisions="float32,mixed_bfloat16",
        steps_per_execution="1,8,32",
        torch_compile="reduce-overhead",
    )
    cases = module.choose_cases(arguments)
    assert [case.name for case in cases[:8]] == [
        "Keras on jax",
        "Keras on torch",
        "Keras on jax, fused",
        "Keras on jax, fused, 8 steps a call",
        "Keras on jax, fused, 32 steps a call",
        "plain PyTorch eager",
        "plain PyTorch, torch.compile reduce-overhead",
        "Keras on jax, mixed_bfloat16",
    ]
    assert cases[-1].name == (
        "plain PyTorch, torch.compile reduce-overhead, mixed_bfloat16"
    )
    assert len(cases) == 14
    # One process per Keras backend, one for the reference: three start-ups.
    assert list(dict.fromkeys(case.process for case in cases)) == [
        "jax",
        "torch",
        module.REFERENCE_PROCESS,
    ]
    # The classic engine runs one step a call whatever K the sweep takes.
    assert {case.steps_per_execution for case in cases if case.engine == "classic"} == {
        1
    }


def test_the_scripts_compile_modes_are_the_references(monkeypatch):
    pytest.importorskip("torch")
    module = run_script(monkeypatch)
    spec = importlib.util.spec_from_file_location(
        "torch_reference", ROOT / "benchmarks" / "torch_reference.py"
    )
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    assert module.COMPILE_MODES == reference.COMPILE_MODES


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps-per-execution", "8"], "applies to the fused engine only"),
        (["--engines", "fused", "--steps-per-execution", "0,8"], "at least 1"),
        (["--engines", "fused", "--steps-per-execution", "8,x"], "Received"),
        (["--torch-compile", "fastest"], "--torch-compile takes default"),
        (["--batch-sizes", "128,big"], "--batch-sizes takes whole numbers"),
        (["--case-timeout", "0"], "--case-timeout must be above 0"),
    ],
)
def test_bad_sweep_options_are_usage_errors(monkeypatch, capsys, options, message):
    module = run_script(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["run.py", *options])
    with pytest.raises(SystemExit) as stop:
        module.main()
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


# A stand-in for a worker process: ready at once, then per request: figures, an
# error, a crash, or no answer at all.
FAKE_WORKER = textwrap.dedent(
    """
    import json, sys, time
    print(json.dumps({"ready": "fake"}), flush=True)
    for line in sys.stdin:
        action = json.loads(line)["action"]
        if action == "crash":
            print("Fatal Python error: the device went away", file=sys.stderr)
            sys.exit(3)
        if action == "hang":
            time.sleep(60)
        answer = (
            {"figures": {"ms_per_step_median": 1.0}}
            if action == "figures"
            else {"error": "ValueError: too big", "details": "Traceback ..."}
        )
        print(json.dumps(answer), flush=True)
    """
)


def test_a_worker_outlives_its_cases_failures(monkeypatch):
    module = run_script(monkeypatch)
    worker = module.Worker(
        "fake", module.child_environment(), [sys.executable, "-c", FAKE_WORKER]
    )
    worker.start()
    worker.wait_ready(30)
    try:
        assert worker.run({"action": "figures"}, 30) == {"ms_per_step_median": 1.0}
        first = worker.child.pid
        with pytest.raises(module.CaseFailed, match="ValueError: too big"):
            worker.run({"action": "error"}, 30)
        # An error in a case leaves the process as it was.
        assert worker.run({"action": "figures"}, 30)["ms_per_step_median"] == 1.0
        assert worker.child.pid == first

        with pytest.raises(module.CaseFailed) as failure:
            worker.run({"action": "crash"}, 30)
        assert "the fake process ended (exit status 3)" in failure.value.reason
        assert "the device went away" in failure.value.reason
        # The next case starts the process again.
        assert worker.run({"action": "figures"}, 30)["ms_per_step_median"] == 1.0
        assert worker.child.pid != first

        with pytest.raises(module.CaseFailed, match="no answer within 0.5 s"):
            worker.run({"action": "hang"}, 0.5)
        assert worker.child is None
        assert worker.run({"action": "figures"}, 30)["ms_per_step_median"] == 1.0
    finally:
        worker.close()
    assert worker.child is None


def test_a_worker_that_cannot_start_fails_its_cases_without_retrying(monkeypatch):
    module = run_script(monkeypatch)
    command = [sys.executable, "-c", "raise ImportError('no module named jax')"]
    worker = module.Worker("jax", module.child_environment(), command)
    worker.start()
    worker.wait_ready(30)
    assert "the jax process did not start" in worker.start_failure
    assert "no module named jax" in worker.start_failure
    with pytest.raises(module.CaseFailed, match="did not start"):
        worker.run({"action": "figures"}, 30)
    assert worker.child is None or worker.child.poll() is not None
    worker.close()


def figures(milliseconds):
    return {
        "ms_per_step_median": milliseconds,
        "ms_per_step_mean": milliseconds,
        "images_per_second": 1000 / milliseconds,
    }


def test_the_table_pairs_rounds_and_reports_failures(monkeypatch):
    module = run_script(monkeypatch)
    reference = module.REFERENCE
    fused = "Keras on jax, fused, 8 steps a call"
    results = {
        (reference, 128): {0: figures(10.0), 1: figures(20.0)},
        # Round 0 failed: its one ratio is round 1's, against the reference's round 1.
        ("Keras on jax", 128): {1: figures(10.0)},
    }
    failures = [
        module.Failure("Keras on jax", 128, 0, "the jax process ended (exit status 9)"),
        module.Failure(fused, 128, 0, "ValueError: a | b"),
        module.Failure(fused, 128, 1, "ValueError: a | b"),
    ]
    text = module.table(results, failures, [reference, "Keras on jax", fused])
    lines = text.splitlines()
    assert "| Keras on jax | 128 | 10.0 (10.0) | 100 | 2.00x |" in lines
    assert f"| {fused} | 128 | failed | | |" in lines
    assert (
        "- Keras on jax, batch 128, round 1: the jax process ended (exit status 9)"
        in lines
    )
    # A reason cannot break the Markdown table it sits under.
    assert f"- {fused}, batch 128, round 2: ValueError: a / b" in lines


def load_reference():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "torch_reference", ROOT / "benchmarks" / "torch_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_refuses_an_unknown_compile_mode():
    reference = load_reference()
    with pytest.raises(ValueError, match="Received: compile_mode='fastest'"):
        reference.ReferenceGAN(device="cpu", compile_mode="fastest")


def test_reference_says_why_torch_compile_failed(monkeypatch):
    reference = load_reference()

    def cannot_compile(module, mode=None):
        def run(*arguments):
            raise RuntimeError(f"InductorError: no C++ compiler found ({mode})")

        return run

    monkeypatch.setattr(reference.torch, "compile", cannot_compile)
    with pytest.raises(reference.CompileError) as failure:
        reference.benchmark(
            steps=1, batch_size=16, warmup=0, limit=64, compile_mode="reduce-overhead"
        )
    message = str(failure.value)
    assert message.startswith("torch.compile(mode='reduce-overhead') could not")
    assert "on cpu: RuntimeError: InductorError: no C++ compiler found" in message


def test_reference_eager_stays_the_default():
    reference = load_reference()
    result = reference.benchmark(steps=1, batch_size=16, warmup=0, limit=64)
    assert result["implementation"] == "torch eager" and result["warmup"] == 0
