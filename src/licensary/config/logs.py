"""The web server's access log handler (`licensary serve` hands it to granian through
`granian_logging.json`)."""

import logging
import sys
import threading
import time
from typing import IO, Any


class BufferedStreamHandler(logging.StreamHandler[IO[str]]):
    """A stream handler that writes its lines in batches: when BUFFER_BYTES are waiting, and
    otherwise from a timer thread at most FLUSH_SECONDS after a line came, so a line is never
    held longer than that (and `flush()`, at exit too, writes everything at once).

    granian's access log writes and flushes every line under the handler's lock; with several
    threads a worker that lock was where a verify request spent most of its logging time
    (py-spy: 14% of all samples in `Handler.acquire`, queued behind a write system call)."""

    BUFFER_BYTES = 64 * 1024
    FLUSH_SECONDS = 1.0

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._pending: list[str] = []
        self._size = 0
        self._timer = threading.Thread(target=self._flush_often, name="access-log", daemon=True)
        self._timer.start()

    def handle(self, record: logging.LogRecord) -> bool:
        """`Handler.handle`, with the line formatted before the lock is taken: only the append
        (and, once the buffer is full, the write) is done under it."""
        if not self.filter(record):
            return False
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return True
        with self.lock:  # type: ignore[union-attr]
            self._add(line)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._add(line)

    def _add(self, line: str) -> None:
        self._pending.append(line)
        self._size += len(line)
        if self._size >= self.BUFFER_BYTES:
            self._write()

    def _write(self) -> None:
        text, self._pending, self._size = "".join(self._pending), [], 0
        stream: Any = self.stream
        stream.write(text)
        stream.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._pending:
                self._write()

    def _flush_often(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # a closed stream at shutdown: nothing left to write to
                return
