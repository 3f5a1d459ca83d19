"""The pre-stream checks on real files: missing or unreadable is retryable, another file under
the same name is a permanent "changed since enqueue", a broken recording stays invalid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from clientkit import TURNS
from helpers import fast_settings

from jobrunner.client.source import Enqueued, explain, prepare
from jobrunner.errors import AudioError, FileChangedError, FileUnavailableError
from jobrunner.server.tones import write_wav

SETTINGS = fast_settings()


def enqueued(path: Path) -> Enqueued:
    """What enqueue records of ``path`` as it is now."""
    st = os.stat(path)
    plan = prepare(str(path), SETTINGS)
    return Enqueued(st.st_size, st.st_mtime_ns, plan.source_frames, plan.source_rate)


def test_the_file_as_enqueued_is_planned(tone_wav: Path) -> None:
    plan = prepare(str(tone_wav), SETTINGS, enqueued(tone_wav))
    assert plan.source_rate == 16000 and plan.source_frames > 0


def test_a_missing_file_is_unavailable_not_invalid(tone_wav: Path, tmp_path: Path) -> None:
    facts = enqueued(tone_wav)
    tone_wav.rename(tmp_path / "moved.wav")
    with pytest.raises(FileUnavailableError) as missing:
        prepare(str(tone_wav), SETTINGS, facts)
    assert missing.value.reason == "file not found" and missing.value.retryable
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "nowhere.wav")
    with pytest.raises(FileUnavailableError, match="broken symlink"):
        prepare(str(link), SETTINGS)


def test_another_file_under_the_same_name_has_changed_since_enqueue(tone_wav: Path) -> None:
    facts = enqueued(tone_wav)
    st = os.stat(tone_wav)
    os.utime(tone_wav, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same bytes
    with pytest.raises(FileChangedError) as touched:
        prepare(str(tone_wav), SETTINGS, facts)
    assert "changed since enqueue (modified " in touched.value.reason
    assert not touched.value.retryable
    write_wav(tone_wav, ["Short."])
    with pytest.raises(FileChangedError, match=rf"{facts.size_bytes} bytes then, \d+ now"):
        prepare(str(tone_wav), SETTINGS, facts)


def test_what_enqueue_did_not_record_is_not_compared(tone_wav: Path) -> None:
    facts = enqueued(tone_wav)
    st = os.stat(tone_wav)
    os.utime(tone_wav, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    before_0002 = Enqueued(facts.size_bytes, None, facts.frames, facts.sample_rate)
    assert prepare(str(tone_wav), SETTINGS, before_0002).source_frames == facts.frames


def test_other_frames_or_rate_from_the_probe_have_changed_since_enqueue(tone_wav: Path) -> None:
    facts = enqueued(tone_wav)
    write_wav(tone_wav, TURNS, sample_rate=8000)  # half the bytes: keep the size out of it
    only_probe = Enqueued(None, None, facts.frames, facts.sample_rate)
    with pytest.raises(FileChangedError, match="at 16000 Hz then, .* at 8000 now"):
        prepare(str(tone_wav), SETTINGS, only_probe)


def test_a_folder_in_place_of_the_file_has_changed(tmp_path: Path) -> None:
    folder = tmp_path / "call.wav"
    folder.mkdir()
    with pytest.raises(FileChangedError, match="now a folder"):
        prepare(str(folder), SETTINGS)


def test_a_failed_read_is_explained_by_a_second_look_at_the_file(
    tone_wav: Path, tmp_path: Path
) -> None:
    facts = enqueued(tone_wav)
    broken = AudioError(str(tone_wav), "read failed after 100 frames")
    assert explain(str(tone_wav), broken, facts) is broken  # still there, unchanged: the file
    tone_wav.rename(tmp_path / "gone.wav")
    assert isinstance(explain(str(tone_wav), broken, facts), FileUnavailableError)
