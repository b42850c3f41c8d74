"""One search shared by many processes: the chief, its workers, and their checks.

KerasTuner's distributed mode tells the processes of one search apart by three
environment variables (:data:`TUNER_ID`, :data:`ORACLE_IP`, :data:`ORACLE_PORT`):
the process whose ID contains "chief" serves the oracle over gRPC, the others are
workers that run its trials; with none of them set, one process runs the whole
search. This module reads them into a :class:`Role` (:func:`distributed_role`) and
holds what each role checks before the search starts: that the chief can listen on
its port (:func:`check_port`), that a worker's chief answers (:func:`wait_for_chief`)
and searches the same space (:func:`check_same_space`), and that one process at a
time holds the oracle of a search folder (:func:`held`). While the search runs, a
worker speaks to its chief every :data:`HEARTBEAT_SECONDS` in a trial, and the chief
gives up on a worker it has not heard from in ``worker_timeout`` seconds
(:func:`repeating` runs both).

It imports nothing of the package, and neither Keras nor KerasTuner: gRPC and
KerasTuner are imported by the checks that use them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"

DEFAULT_CHIEF_TIMEOUT = 30.0
"""How long a worker waits for its chief, in seconds."""

HEARTBEAT_SECONDS = 2.0
"""How often a worker in a trial tells its chief that it is still running it."""

DEFAULT_WORKER_TIMEOUT = 60.0
"""How long a chief waits for word from a worker before it gives up on it, in
seconds: the trial it was running is recorded as failed."""

MINIMUM_WORKER_TIMEOUT = 5 * HEARTBEAT_SECONDS
"""A shorter wait would give up on a busy worker whose word is merely late."""


@dataclasses.dataclass(frozen=True)
class Role:
    """What this process is in a search, from KerasTuner's environment variables.

    Attributes:
        kind: ``"alone"`` (no ``KERASTUNER_ORACLE_IP``: this process runs the
            whole search), ``"chief"`` (serves the oracle; its
            ``KERASTUNER_TUNER_ID`` contains "chief", as KerasTuner decides) or
            ``"worker"`` (runs trials for the chief).
        tuner_id: ``KERASTUNER_TUNER_ID``, or ``"tuner0"``, KerasTuner's default.
        host: ``KERASTUNER_ORACLE_IP``, or ``None`` alone.
        port: ``KERASTUNER_ORACLE_PORT``, or ``None`` alone.
    """

    kind: str
    tuner_id: str
    host: str | None = None
    port: int | None = None

    @property
    def address(self) -> str | None:
        """``host:port``, where the chief listens."""
        return None if self.host is None else f"{self.host}:{self.port}"

    @property
    def owns_oracle(self) -> bool:
        """Whether this process holds the oracle and writes the table."""
        return self.kind != "worker"


def distributed_role(environment: Mapping[str, str] | None = None) -> Role:
    """This process's :class:`Role`, from KerasTuner's three environment variables.

    Raises:
        ValueError: some of the three are set and not the others, or the port is
            not a number from 1 to 65535.
    """
    environment = os.environ if environment is None else environment
    tuner_id = environment.get(TUNER_ID)
    host = environment.get(ORACLE_IP)
    port = environment.get(ORACLE_PORT)
    given = (
        f"Received: {TUNER_ID}={tuner_id!r}, {ORACLE_IP}={host!r}, "
        f"{ORACLE_PORT}={port!r}"
    )
    if host is None and port is None and tuner_id is None:
        return Role("alone", "tuner0")
    missing = [
        name
        for name, value in (
            (TUNER_ID, tuner_id),
            (ORACLE_IP, host),
            (ORACLE_PORT, port),
        )
        if not value
    ]
    if missing:
        raise ValueError(
            f"A search shared by many processes needs {TUNER_ID}, {ORACLE_IP} and "
            f"{ORACLE_PORT} all set ({', '.join(missing)} missing); a search in one "
            f"process needs none of them. {given}"
        )
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            f"{ORACLE_PORT} must be a port number from 1 to 65535. {given}"
        )
    # KerasTuner's own rule (keras_tuner/src/distribute/utils.py): an ID that
    # contains "chief" serves the oracle.
    kind = "chief" if "chief" in tuner_id else "worker"
    return Role(kind, tuner_id, host, int(port))


def check_port(role: Role) -> None:
    """Refuses a chief address this machine cannot listen on, or that something
    already listens on: gRPC shares a port (SO_REUSEPORT) rather than fail.

    Raises:
        ValueError: the address is not this machine's, or the port is taken.
    """
    received = f"Received: {ORACLE_IP}={role.host!r}, {ORACLE_PORT}={role.port}"
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            role.host, role.port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, protocol) as probe:
            # A chief killed a moment ago leaves its connections waiting out
            # TIME_WAIT on the port; gRPC listens regardless, and so may the chief
            # started again. A server still listening there is refused all the same.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(
            f"The chief cannot listen on {role.address} ({reason}): set {ORACLE_IP} "
            f"to an address of this machine and {ORACLE_PORT} to a free port. "
            f"{received}"
        ) from None


def wait_for_chief(role: Role, timeout: float, verbose: int) -> None:
    """Waits up to ``timeout`` seconds for the chief's gRPC server; KerasTuner's
    own client would wait an hour.

    Raises:
        ValueError: no chief answered in time; the message says what to check.
    """
    import grpc

    if verbose:
        print(
            f"Waiting up to {timeout:g} s for the chief at {role.address} "
            f"({ORACLE_IP}:{ORACLE_PORT}) to answer ...",
            flush=True,
        )
    channel = grpc.insecure_channel(role.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ValueError(
            f"No chief answered at {role.address} within {timeout:g} s. Start the "
            f"chief first (the same command with {TUNER_ID}=chief) on the machine "
            f"of {ORACLE_IP}, check that its port is open to this machine, or wait "
            f"longer with `chief_timeout`. Received: {ORACLE_IP}={role.host!r}, "
            f"{ORACLE_PORT}={role.port}"
        ) from None
    finally:
        channel.close()


def check_same_space(tuner: Any, space: Any) -> None:
    """Refuses to work for a chief whose search space is another.

    Args:
        tuner: The worker's ``keras_tuner.Tuner``, connected to the chief.
        space: The worker's own ``keras_tuner.HyperParameters``.

    Raises:
        ValueError: the chief's space differs; the message names both.
    """
    import keras_tuner

    theirs = tuner.oracle.get_space()
    # The chief's space came over gRPC as a proto: ours goes through the same, so
    # that the same space compares equal.
    ours = keras_tuner.HyperParameters.from_proto(space.to_proto())
    if theirs.get_config()["space"] != ours.get_config()["space"]:
        raise ValueError(
            "The chief searches another space than this worker: run the same "
            "command (the same recipe file and SEARCH) on every machine. Received: "
            f"the chief's {[hp.name for hp in theirs.space]}, this worker's "
            f"{[hp.name for hp in ours.space]}"
        )


@contextlib.contextmanager
def held(out: Path, role: Role, lock_path: Path) -> Iterator[None]:
    """One process at a time holds a search's oracle in a folder: a second one
    would overwrite its state.

    Args:
        out: The search folder, as the message names it.
        role: This process's role; a worker holds nothing.
        lock_path: The file locked while the search runs (made if missing).

    Raises:
        ValueError: another process holds ``lock_path``.
    """
    if not role.owns_oracle:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"`out` {out}: another process runs this search now (it holds "
                f"{lock_path}). Wait for it to end, or make this process one of its "
                f"workers with {TUNER_ID}, {ORACLE_IP} and {ORACLE_PORT}. "
                f"Received: out={str(out)!r}"
            ) from None
        yield


@contextlib.contextmanager
def repeating(seconds: float, action: Callable[[], Any]) -> Iterator[None]:
    """Runs ``action`` every ``seconds`` in a thread of its own while the block runs.

    The thread is a daemon, and is not waited for at the end: an action blocked on
    a chief that is gone must not hold up the process.
    """
    stop = threading.Event()

    def repeat() -> None:
        while not stop.wait(seconds):
            action()

    thread = threading.Thread(target=repeat, name="gan_cookbook.repeating")
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        stop.set()


def heartbeat(oracle: Any, trial_id: str) -> Callable[[], None]:
    """What a worker in trial ``trial_id`` sends its chief every
    :data:`HEARTBEAT_SECONDS`: a request for the trial, which the chief's oracle
    counts as word from the worker that runs it.

    Args:
        oracle: The worker's client of the chief's oracle.
        trial_id: The trial the worker runs.
    """
    import grpc

    def beat() -> None:
        try:
            oracle.get_trial(trial_id)
        except grpc.RpcError:
            # The chief is away (stopped, or being started again): the next beat
            # tries again, and the worker's own calls wait for it.
            pass

    return beat
