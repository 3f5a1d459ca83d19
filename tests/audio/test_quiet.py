"""quiet_c_stderr(): C-level writes to fd 2 from many threads at once, with real descriptors."""

from __future__ import annotations

import os
import threading

import pytest

from jobrunner.audio.quiet import quiet_c_stderr

NOTE = b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset %d.\n"
ERROR = b"[src/libmpg123/parse.c:wetwork():1349] error: Giving up resync after 1024 bytes\n"


def test_threads_leaving_early_do_not_let_the_others_noise_through(
    capfd: pytest.CaptureFixture[str],
) -> None:
    inside = threading.Barrier(6)
    first_left = threading.Event()

    def probe(i: int) -> None:
        with quiet_c_stderr():
            inside.wait(timeout=10)
            if i > 0:
                first_left.wait(timeout=10)  # write only once thread 0 has left
                os.write(2, NOTE % i)
                os.write(2, ERROR)
        if i == 0:
            first_left.set()

    threads = [threading.Thread(target=probe, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_other_output_written_meanwhile_is_kept_in_order(capfd: pytest.CaptureFixture[str]) -> None:
    os.write(2, b"before\n")
    with quiet_c_stderr():
        os.write(2, NOTE % 1)
        os.write(2, b"a warning of our own\n")
        with quiet_c_stderr():  # nested: one capture
            os.write(2, b"Warning: Xing stream size off by more than 1%\n")
        os.write(2, b"partial")
    assert capfd.readouterr().err == "before\na warning of our own\npartial"
