"""`python -m rnnlab.worker --fd N`: a process that trains runs, one at a time, in its main thread.

It is started by an engine (never forked from a process whose torch already has threads), speaks
rnnlab.protocol over the socket it inherits as fd N, and ends when that socket closes. On Linux
it also asks the kernel to kill it when its parent dies, so no worker outlives its server.
"""

from __future__ import annotations

import time

_STARTED = time.monotonic()  # before the imports below: what a cold worker's start-up costs

import argparse  # noqa: E402
import os  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from rnnlab.config import RunConfig  # noqa: E402
from rnnlab.job import Job  # noqa: E402
from rnnlab.metrics import COLUMNS  # noqa: E402
from rnnlab.protocol import Channel, Kind, Message, tensors_from_bytes, tensors_to_bytes  # noqa: E402
from rnnlab.run_state import RunState  # noqa: E402
from rnnlab.run_status import disk_record  # noqa: E402
from rnnlab.store import RunStore  # noqa: E402
from rnnlab.trainer import Trainer  # noqa: E402


def die_with_parent(parent: int) -> None:
    """PR_SET_PDEATHSIG: SIGKILL this process when the thread that spawned it ends (Linux only).

    The engine spawns from one long-lived thread, so that is when the server process ends. Set
    after the imports, so the parent's pid is checked too: a parent that died while this process
    was importing torch has already handed it to another parent.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnlab.worker", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the inherited socket to the server")
    parser.add_argument("--parent", type=int, default=0, help="the server's pid (default: no death signal)")
    args = parser.parse_args(argv)
    if args.parent:
        die_with_parent(args.parent)
    # Ctrl-C in a terminal signals the whole process group: the server decides what it means (the
    # CLI stops the run, weights saved), so the worker must not die of it mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The first optimizer torch builds imports its compile machinery (about 2 s): pay it now, while
    # the worker waits warm, not between Start and the run's first step.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    torch.set_flush_denormal(True)  # denormal gradients slow x86 CPUs up to 100x; zero costs no accuracy
    channel = Channel(socket.socket(fileno=args.fd))
    import_s = round(time.monotonic() - _STARTED, 3)
    channel.send(Message(Kind.READY, {"pid": os.getpid(), "import_s": import_s}))
    while True:
        message = channel.receive()
        if message is None:  # the server closed the channel or died
            return 0
        if message.kind is Kind.START:
            state, text = serve(channel, message, {"import_s": import_s})
            import_s = 0.0  # the next run on this worker pays no import
            if not channel.send(Message(Kind.DONE, {"state": str(state), "message": text})):
                return 0


def serve(channel: Channel, start: Message, startup: dict[str, float]) -> tuple[RunState, str]:
    """Train the job a START message describes; the trainer's host writes the run folder if given one."""
    data = start.data
    store = RunStore(data["runs_dir"]) if data.get("runs_dir") else None
    try:
        config = RunConfig.from_dict(data["config"])
        checkpoint = None
        if data.get("continue"):
            checkpoint = (
                store.load_checkpoint(data["run_id"]) if store is not None else tensors_from_bytes(start.blob)
            )
    except Exception as e:  # a job this worker cannot even begin still ends in words
        return RunState.FAILED, f"the worker could not read its job: {type(e).__name__}: {e}"
    job = Job(
        run_id=data["run_id"],
        config=config,
        name=str(data.get("name", "")),
        data_dir=data.get("data_dir"),
        threads=data.get("threads"),
        checkpoint=checkpoint,
        elapsed_s=float(data.get("elapsed_s", 0.0)),
        best_test_acc=float(data.get("best_test_acc", float("nan"))),
        stop_at=float(data.get("stop_at") or 0.0),
        startup=startup,
    )
    return Trainer(job, ChannelHost(channel, store, job.run_id)).run()


class ChannelHost:
    """The trainer's Host over a channel: events to the handle, and the run folder when one is shared."""

    def __init__(self, channel: Channel, store: RunStore | None, run_id: str) -> None:
        self.channel, self.store, self.run_id = channel, store, run_id
        self._unsaved: list[dict[str, Any]] = []

    def status(self, record: dict[str, Any], active: bool) -> None:
        if self.store is not None:
            self.store.write_status(self.run_id, disk_record(record))
        self.channel.send(Message(Kind.STATUS, {"record": record, "active": active}))

    def rows(self, rows: list[dict[str, Any]]) -> None:
        if self.store is not None:
            self._unsaved.extend(rows)
        self.channel.send(Message(Kind.ROWS, {"rows": rows}))

    def flush(self) -> None:
        if self.store is not None and self._unsaved:
            rows, self._unsaved = self._unsaved, []
            self.store.append_metrics(self.run_id, rows, COLUMNS)

    def checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.save_checkpoint(self.run_id, checkpoint)
            self.channel.send(Message(Kind.CHECKPOINT, {"step": checkpoint["step"]}))
        else:
            blob = tensors_to_bytes(checkpoint)
            self.channel.send(Message(Kind.CHECKPOINT, {"step": checkpoint["step"]}, blob))

    def weights(self, request: int, step: int, state: dict[str, Any] | None) -> None:
        blob = tensors_to_bytes(state) if state is not None else b""
        self.channel.send(Message(Kind.WEIGHTS, {"request": request, "step": step}, blob))

    def commands(self, wait: float) -> list[Message]:
        """Every command waiting now (after up to `wait` s for the first); a closed channel reads as a
        stop that says the server is gone."""
        found: list[Message] = []
        if wait > 0:
            select.select([self.channel.sock], [], [], wait)
        while self.channel.pending():
            message = self.channel.receive()
            if message is None:
                return [*found, Message(Kind.STOP, {"lost": True})]
            found.append(message)
        return found


if __name__ == "__main__":
    sys.exit(main())
