"""The worker protocol: small typed messages between a run's handle and its worker, over any byte stream.

One frame is an 12-byte prefix (header length, blob length), a JSON header and raw bytes. Nothing is
pickled: tensors travel as `torch.save` bytes and are read back with `weights_only=True`, so a
worker on another machine (a Ray actor, say) can speak it over a socket without a shared disk.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

PREFIX = struct.Struct(">IQ")
MAX_HEADER = 16 * 2**20  # a header is a few hundred bytes; more means the stream is not ours


class Kind(StrEnum):
    """Commands go from the handle to the worker, events come back."""

    # commands
    START = "start"  # job fields; blob: the checkpoint to continue from (when the worker has no disk)
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    SET_LR = "set_lr"  # lr
    SET_THREADS = "set_threads"  # threads: torch threads for a CPU run, from its next step
    RENAME = "rename"  # name
    SNAPSHOT = "snapshot"  # request: an id the WEIGHTS reply carries back
    # events
    READY = "ready"  # pid, import_s: the worker is up and waits for a START
    STATUS = "status"  # record: the run's status fields; active: whether its clock runs
    ROWS = "rows"  # rows: metric rows, in order
    CHECKPOINT = "checkpoint"  # step; blob: the checkpoint, only when the head keeps the files
    WEIGHTS = "weights"  # request, step; blob: a state_dict (empty before the model exists)
    LOG = "log"  # text: something a person reading the server's log should see
    DONE = "done"  # state, message: the run ended; the worker may take another START


@dataclass(frozen=True)
class Message:
    kind: Kind
    data: dict[str, Any] = field(default_factory=dict)
    blob: bytes = b""


class ProtocolError(RuntimeError):
    """The other side sent something that is not a frame of this protocol."""


def encode(message: Message) -> bytes:
    header = json.dumps({"kind": str(message.kind), **message.data}).encode("utf-8")
    return PREFIX.pack(len(header), len(message.blob)) + header + message.blob


def decode(header: bytes, blob: bytes) -> Message:
    try:
        data = json.loads(header.decode("utf-8"))
        kind = Kind(data.pop("kind"))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ProtocolError(f"unreadable message header: {e}") from None
    return Message(kind, data, blob)


def tensors_to_bytes(value: dict[str, Any]) -> bytes:
    """A state_dict or checkpoint as bytes: `torch.save` of plain containers of tensors and numbers."""
    import torch  # here, not at the top: the CLI starts its worker before it imports torch itself

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def tensors_from_bytes(blob: bytes, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The inverse of `tensors_to_bytes`, refusing anything but tensors and plain data."""
    import torch

    value = torch.load(io.BytesIO(blob), map_location=map_location, weights_only=True)
    if not isinstance(value, dict):
        raise ProtocolError("a tensor payload must be a dict")
    return value


class Channel:
    """One end of a connected stream socket, speaking frames; sends are safe from any thread.

    `receive` returns None when the other end has gone (closed, or its process died): the one
    signal both sides act on, with no heartbeat needed.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self._closed = False

    def send(self, message: Message) -> bool:
        """False when the other end is gone (the caller decides what that means)."""
        data = encode(message)
        with self._send_lock:
            if self._closed:
                return False
            try:
                self.sock.sendall(data)
            except OSError:
                return False
        return True

    def receive(self, timeout: float | None = None) -> Message | None:
        """The next message; None when the stream ended. Raises TimeoutError when none came in time."""
        self.sock.settimeout(timeout)
        try:
            prefix = self._read(PREFIX.size, first=True)
        finally:
            self.sock.settimeout(None)
        if prefix is None:
            return None
        header_len, blob_len = PREFIX.unpack(prefix)
        if header_len > MAX_HEADER:
            raise ProtocolError(f"a header of {header_len} bytes: the stream is out of step")
        header = self._read(header_len)
        blob = self._read(blob_len) if blob_len else b""
        if header is None or blob is None:
            return None
        return decode(header, blob)

    def pending(self) -> bool:
        """Whether a message waits to be read, without blocking (the worker asks between steps)."""
        import select

        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def close(self) -> None:
        with self._send_lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _read(self, n: int, first: bool = False) -> bytes | None:
        chunks, left = [], n
        while left:
            try:
                chunk = self.sock.recv(min(left, 2**20))
            except TimeoutError:
                if first and left == n:
                    raise
                continue  # a frame has begun: finish it whatever the timeout
            except OSError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
