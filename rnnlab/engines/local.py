"""LocalEngine: worker processes on this machine, spawned fresh and kept warm between runs."""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import rnnlab
from rnnlab.engines import EngineError
from rnnlab.protocol import Channel, Kind, ProtocolError

READY_TIMEOUT_S = 180.0  # a cold start on a loaded machine imports torch in seconds, not minutes
PACKAGE_ROOT = Path(rnnlab.__file__).resolve().parents[1]


class LocalWorker:
    """A worker process and its end of the socket pair."""

    def __init__(self, process: subprocess.Popen, channel: Channel, spawned_at: float) -> None:
        self.process, self.channel, self.pid = process, channel, process.pid
        self.spawned_at = spawned_at
        self.startup_s = 0.0
        self.import_s = 0.0
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        """Read the worker's READY; EngineError if it died or said something else first."""
        try:
            message = self.channel.receive(timeout)
        except (TimeoutError, ProtocolError) as e:
            self.kill()
            raise EngineError(f"the worker process did not start ({e})") from None
        if message is None or message.kind is not Kind.READY:
            raise EngineError(f"the worker process did not start: {self.exit_reason(5.0)}")
        self.startup_s = round(time.monotonic() - self.spawned_at, 3)
        self.import_s = float(message.data.get("import_s", 0.0))
        self.ready = True

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_reason(self, timeout: float) -> str:
        """How the process ended, in words; waits up to `timeout` s for it to end, then kills it."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait()
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
            return f"killed by {name}"
        return f"exited with code {code}"

    def kill(self) -> None:
        if self.alive():
            self.process.kill()

    def close(self, timeout: float = 5.0) -> None:
        """Close the channel, which tells the worker to exit; kill it if it does not."""
        self.channel.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()


class LocalEngine:
    """Starts `python -m rnnlab.worker` processes and keeps up to `keep_warm` idle ones for the next run.

    Every process is spawned from one long-lived thread: Linux's parent-death signal fires when
    the spawning *thread* ends, and a page's script thread ends after every rerun.
    `command` replaces the worker's command line (the engine appends --fd and --parent), for a
    different interpreter, a wrapper such as `nice`, or a test that injects a fault.
    """

    def __init__(
        self, shared_filesystem: bool = True, keep_warm: int = 1, command: Sequence[str] | None = None
    ) -> None:
        self.shared_filesystem = shared_filesystem
        self.keep_warm = max(0, keep_warm)
        self.command = list(command or [sys.executable, "-m", "rnnlab.worker"])
        self._idle: list[LocalWorker] = []
        self._lock = threading.Lock()
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rnnlab-spawner")

    def acquire(self) -> LocalWorker:
        """A ready worker: a warm one when there is one, else a new process (seconds: it imports torch)."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop(0)
                if worker.alive():
                    break
                worker.close()
            else:
                worker = None
        if worker is None:
            worker = self._spawn()
        if not worker.ready:
            worker.wait_ready(READY_TIMEOUT_S)
        else:
            worker.startup_s = 0.0
        return worker

    def release(self, worker: LocalWorker, reusable: bool) -> None:
        """Keep a worker whose run ended in order for the next run; close any other."""
        with self._lock:
            if reusable and worker.alive() and len(self._idle) < self.keep_warm:
                self._idle.append(worker)
                return
        worker.close()

    def warm_up(self, count: int = 1) -> None:
        """Start idle workers now (without waiting), so the next Start finds one ready."""
        with self._lock:
            self.keep_warm = max(self.keep_warm, count)
            missing = count - len(self._idle)
        for _ in range(missing):
            worker = self._spawn()
            with self._lock:
                self._idle.append(worker)

    def idle_pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._idle]

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _spawn(self) -> LocalWorker:
        try:
            return self._spawner.submit(self._popen).result()
        except OSError as e:
            raise EngineError(f"cannot start a worker process ({' '.join(self.command)}): {e}") from None

    def _popen(self) -> LocalWorker:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH", "")]))
        command = [*self.command, "--fd", str(theirs.fileno()), "--parent", str(os.getpid())]
        spawned_at = time.monotonic()
        try:
            process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return LocalWorker(process, Channel(ours), spawned_at)


_default: LocalEngine | None = None
_default_lock = threading.Lock()


def default_engine() -> LocalEngine:
    """The process's one local engine: every Lab here shares its warm workers."""
    global _default
    with _default_lock:
        if _default is None:
            _default = LocalEngine()
            atexit.register(_default.shutdown)
        return _default
