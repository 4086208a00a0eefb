"""The server's access log handler writes its lines in batches, in order, and never holds a
line longer than its flush interval."""

import io
import logging
import time

from licensary.config.logs import BufferedStreamHandler


def test_access_log_lines_are_written_in_order_within_a_second_or_at_once_on_flush() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    logger = logging.getLogger("tests.access")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        for n in range(3):
            logger.info("line %d", n)
        assert stream.getvalue() == ""  # batched, not one write a line
        deadline = time.monotonic() + 3 * handler.FLUSH_SECONDS
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stream.getvalue() == "line 0\nline 1\nline 2\n"
        logger.info("line 3")
        handler.flush()
        assert stream.getvalue().endswith("line 2\nline 3\n")
    finally:
        logger.removeHandler(handler)


def test_access_log_writes_at_once_when_its_buffer_is_full() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    line = "x" * 1000
    for _ in range(handler.BUFFER_BYTES // 1000 + 1):
        handler.handle(logging.makeLogRecord({"msg": line}))
    assert stream.getvalue().count(line) == handler.BUFFER_BYTES // 1000 + 1


def test_a_filtered_out_line_is_not_written() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    assert handler.handle(logging.makeLogRecord({"msg": "the secret"})) is False
    assert handler.handle(logging.makeLogRecord({"msg": "kept"})) is True
    handler.flush()
    assert stream.getvalue() == "kept\n"
