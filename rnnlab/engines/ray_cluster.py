"""RayEngine: the same worker (`rnnlab.worker`) hosted by a Ray actor, anywhere on a Ray cluster.

For each run the head listens on a TCP port, asks Ray for an actor with the run's CPUs/GPUs, and
the actor connects back and runs the ordinary worker loop over that socket, speaking
rnnlab.protocol. No disk is shared: metric rows, status and checkpoints come back over the
socket and the head's RunHandle writes them into its own run store. The actor is never restarted
by Ray (max_restarts=0): when its node is lost the socket ends, the run reads as interrupted, and
rnnlab continues it from the checkpoint it already holds (a sweep does this itself).
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

import ray

import rnnlab
from rnnlab.engines import EngineError
from rnnlab.lab import Lab
from rnnlab.protocol import Channel, Kind, ProtocolError

# A new actor may wait for room on the cluster (after a node is lost, say), then import torch.
CONNECT_TIMEOUT_S = 600.0
READY_TIMEOUT_S = 120.0
TOKEN_BYTES = 16
PACKAGE_DIR = Path(rnnlab.__file__).resolve().parent
_init_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rnnlab-ray")  # lives with us


@ray.remote(max_restarts=0, max_task_retries=0)
class WorkerActor:
    """Hosts one rnnlab worker: connects to the head, proves it with the token, then serves runs."""

    def serve(self, host: str, port: int, token: bytes) -> int:
        from rnnlab import worker

        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(None)
        sock.sendall(token)
        return worker.main(["--fd", str(sock.detach())])


class RayWorker:
    """The head's view of one actor: its channel, its pid (from READY) and whether its task still runs."""

    def __init__(self, actor: Any, task: Any, channel: Channel, pid: int, startup_s: float) -> None:
        self.actor, self.task, self.channel, self.pid, self.startup_s = actor, task, channel, pid, startup_s

    def alive(self) -> bool:
        ready, _ = ray.wait([self.task], timeout=0)
        return not ready

    def exit_reason(self, timeout: float) -> str:
        """How the actor ended, in Ray's words (a lost node reads as the actor's death)."""
        try:
            ray.get(self.task, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self.kill()
            return "its Ray actor stopped answering and was killed"
        except ray.exceptions.RayError as e:
            return f"its Ray actor died: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        return "its Ray actor closed the connection"

    def kill(self) -> None:
        ray.kill(self.actor, no_restart=True)


class RayEngine:
    """Hands each run a fresh actor on the cluster at `address` ("" starts a local Ray here)."""

    shared_filesystem = False

    def __init__(self, address: str = "", num_cpus: float = 1, num_gpus: float = 0) -> None:
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus
        self.keep_warm = 0  # idle actors kept for the next run; the Lab raises it to its concurrency
        self._idle: list[RayWorker] = []
        self._waiting = 0  # acquires waiting for a new actor
        self._lock = threading.Lock()
        _init_thread.submit(_init, address).result()
        self.host = ray.util.get_node_ip_address()

    def acquire(self) -> RayWorker:
        """An idle actor whose last run ended in order, else a new one (it imports torch: seconds)."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    worker.startup_s = 0.0
                    return worker
            self._waiting += 1  # meanwhile no idle actor is kept: its CPUs may be what this one waits for
        try:
            return self._new_worker()
        finally:
            with self._lock:
                self._waiting -= 1

    def _new_worker(self) -> RayWorker:
        started = time.monotonic()
        token = secrets.token_bytes(TOKEN_BYTES)
        with socket.create_server(("", 0)) as server:
            server.settimeout(CONNECT_TIMEOUT_S)
            actor = WorkerActor.options(num_cpus=self.num_cpus, num_gpus=self.num_gpus).remote()
            task = actor.serve.remote(self.host, server.getsockname()[1], token)
            try:
                conn = _accept(server, token)
            except OSError as e:
                ray.kill(actor, no_restart=True)
                raise EngineError(
                    f"no Ray worker connected back to {self.host} ({e}; does the cluster have "
                    f"{self.num_cpus:g} CPUs and {self.num_gpus:g} GPUs free for a trial?)"
                ) from None
        _keep_alive(conn)
        channel = Channel(conn)
        try:
            ready = channel.receive(READY_TIMEOUT_S)
        except (TimeoutError, ProtocolError) as e:
            ready = None
            reason = str(e)
        else:
            reason = "it closed the connection"
        if ready is None or ready.kind is not Kind.READY:
            channel.close()
            ray.kill(actor, no_restart=True)
            raise EngineError(f"the Ray worker did not start ({reason})")
        return RayWorker(
            actor, task, channel, int(ready.data.get("pid", 0)), round(time.monotonic() - started, 3)
        )

    def release(self, worker: RayWorker, reusable: bool) -> None:
        """Keep an actor whose run ended in order for the next run; end any other, freeing its CPUs."""
        with self._lock:
            if reusable and not self._waiting and worker.alive() and len(self._idle) < self.keep_warm:
                self._idle.append(worker)
                return
        worker.channel.close()
        worker.kill()

    def warm_up(self, count: int = 1) -> None:
        """Nothing to do ahead: Ray places each new actor when a run asks for one."""

    def shutdown(self) -> None:
        """End the idle actors; Ray itself stays up for the process (a local one ends with it)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            self.release(worker, reusable=False)


def ray_lab(lab: Lab, address: str = "", num_cpus: float = 1, num_gpus: float = 0) -> Lab:
    """A Lab over `lab`'s runs and data folders whose runs train on Ray, as many at once as it has CPUs."""
    engine = RayEngine(address or os.environ.get("RNNLAB_RAY_ADDRESS", ""), num_cpus, num_gpus)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // max(num_cpus, 1)))
    return Lab(
        runs_dir=lab.store.root,
        data_dir=lab.data_dir,
        max_concurrent=slots,
        cpu_threads=int(max(1, num_cpus)),
        engine=engine,
    )


_init_lock = threading.Lock()


def _init(address: str) -> None:
    """Connect to (or start) Ray once per process, shipping this rnnlab to the workers (no shared disk)."""
    with _init_lock:
        if ray.is_initialized():
            return
        runtime_env = {"py_modules": [str(PACKAGE_DIR)]}
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            cpus = int(os.environ.get("RNNLAB_RAY_CPUS", "0")) or os.cpu_count() or 1
            ray.init(num_cpus=cpus, include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)


def _accept(server: socket.socket, token: bytes) -> socket.socket:
    """The actor's connection; one that does not open with the token is refused and waited past."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        server.settimeout(max(0.1, deadline - time.monotonic()))
        conn, _ = server.accept()
        conn.settimeout(10.0)
        try:
            received = b""
            while len(received) < len(token):
                chunk = conn.recv(len(token) - len(received))
                if not chunk:
                    break
                received += chunk
        except OSError:
            received = b""
        if secrets.compare_digest(received, token):
            conn.settimeout(None)
            return conn
        conn.close()


def _keep_alive(conn: socket.socket) -> None:
    """Probe an idle connection every few seconds, so a lost node ends the run in seconds, not hours."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            conn.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
