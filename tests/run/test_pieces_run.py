"""Pieces end to end against the bundled server (tones engine): a long file split at -c 4
stitches exactly the unsplit transcript, a stereo file in channel-split mode gets per-channel
turns, and a piece failing mid-stream retries alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import Serve, fast_settings, invoke
from workerkit import enqueue, exported, jobrunner, poll, profile_file

from jobrunner.config import Settings
from jobrunner.run import run_queue
from jobrunner.server.tones import synthesize, turn_texts, write_wav
from jobrunner.store import Store

#: tones files with 2 s between turns: silences the planner may cut (>= 1.5 s)
GAP_S = 2.0
#: a "long" file in these tests: pieces at least 2 s, so a 20 s file makes about 4 at -c 4
SPLIT_MIN_S = 4.0


def turns(n: int, tag: str = "") -> list[str]:
    return [f"{'' if i == 0 else ' '}Turn {i} of {tag}file says words." for i in range(n)]


def long_file(tmp_path: Path) -> tuple[Path, str, list[str]]:
    """A folder with one tones file of 12 turns 2 s apart (about 36 s): its path and turns."""
    texts = turns(12)
    audio = tmp_path / "audio"
    audio.mkdir()
    return audio, str(write_wav(audio / "long.wav", texts, gap_s=GAP_S)), texts


def pieces_of(store: Store) -> list[tuple[int, int, int | None]]:
    """(parent, piece index, source channel) of every piece in the store."""
    import sqlalchemy as sa

    from jobrunner.store.schema import jobs

    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(jobs.c.parent_id, jobs.c.piece_index, jobs.c.source_channel)
            .where(jobs.c.parent_id.is_not(None))
            .order_by(jobs.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def settings_for(serve: Serve, db_url: str, **changes: object) -> Settings:
    values: dict[str, object] = {"concurrency": 4, "split_min_s": SPLIT_MIN_S, "pace": 10.0}
    values.update(changes)
    return fast_settings(serve(), db_url, **values)


def test_a_long_file_splits_and_stitches_the_unsplit_transcript_exactly(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    audio, path, texts = long_file(tmp_path)
    settings = settings_for(serve, db_url)
    enqueue(store, settings, audio)
    summary = run_queue(settings, store)
    assert summary.exit_code == 0
    assert (summary.counts.succeeded, summary.counts.claimed) == (1, 1)  # one file
    pieces = pieces_of(store)
    assert 3 <= len(pieces) <= 4, pieces
    split = exported(store)[path]
    assert split.job.state == "succeeded"
    assert split.transcript == "".join(turn_texts(texts))
    assert [t.transcript for t in split.turns] == turn_texts(texts)
    assert [t.index for t in split.turns] == list(range(len(texts)))
    starts = [t.start_audio_s for t in split.turns]
    assert starts == sorted(starts) and starts[-1] is not None and starts[-1] > 15.0
    assert split.job.coverage == "covered"

    with Store.open(f"sqlite:///{tmp_path / 'whole.db'}") as whole:
        unsplit = settings.replace(split=False, db_url=f"sqlite:///{tmp_path / 'whole.db'}")
        enqueue(whole, unsplit, audio)
        assert run_queue(unsplit, whole).exit_code == 0
        assert pieces_of(whole) == []
        reference = exported(whole)[path]
    assert split.transcript == reference.transcript
    assert [t.transcript for t in split.turns] == [t.transcript for t in reference.turns]


def test_a_long_manual_job_splits_and_finalizes_inside_each_piece(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    """The Manual endpoint streams pieces too: each piece's finalize points are its own
    speech ends, in its own seconds, and the stitched text is the file's, exactly."""
    audio, path, texts = long_file(tmp_path)
    settings = settings_for(serve, db_url, endpoint="manual")
    enqueue(store, settings, audio)
    assert run_queue(settings, store).exit_code == 0
    assert len(pieces_of(store)) >= 2
    split = exported(store)[path]
    assert split.job.state == "succeeded"
    assert split.transcript == "".join(turn_texts(texts))
    assert {t.ended_by for t in split.turns} <= {"flush_done", "done"}
    assert len(split.turns) > len(pieces_of(store))  # finalized inside pieces, not only at close


def test_a_stereo_file_in_channel_split_mode_gets_turns_per_channel(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    left, right = turns(3, "agent "), turns(2, "caller ")
    audio, path = stereo_file(
        tmp_path, synthesize(left, gap_s=GAP_S), synthesize(right, gap_s=GAP_S)
    )
    settings = settings_for(serve, db_url, channels="split", split=False)
    enqueue(store, settings.replace(channels="downmix"), audio)  # the run's flag splits it
    assert run_queue(settings, store).exit_code == 0
    assert [c for _, _, c in pieces_of(store)] == [0, 1]
    job = exported(store)[path]
    by_channel = {c: [t.transcript for t in job.turns if t.channel == c] for c in (0, 1)}
    assert by_channel == {0: turn_texts(left), 1: turn_texts(right)}
    assert job.transcript == "".join(turn_texts(left)) + "\n" + "".join(turn_texts(right))
    # aligned per channel against the file's per-channel map: every turn has speech times
    assert job.job.coverage == "covered"
    assert all(t.speech_start_s is not None for t in job.turns)
    assert job.settings["channels"] == "split"


def test_a_piece_failing_mid_stream_retries_alone(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    audio, path, texts = long_file(tmp_path)
    server = serve(faults="drop@1.0=first:1")
    settings = fast_settings(server, db_url, concurrency=4, split_min_s=SPLIT_MIN_S, pace=10.0)
    enqueue(store, settings, audio)
    outcomes: list[str] = []
    summary = run_queue(settings, store, on_outcome=lambda o: outcomes.append(o.outcome))
    assert summary.exit_code == 0
    assert outcomes.count("retry") == 1 and outcomes.count("split") == 1
    assert outcomes.count("succeeded") == len(pieces_of(store))
    job = exported(store)[path]
    assert job.transcript == "".join(turn_texts(texts))
    assert [t.index for t in job.turns] == list(range(len(texts)))


def test_kill_9_during_a_split_job_then_one_run_finishes_it_exactly(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    audio, path, texts = long_file(tmp_path)
    server = serve()
    settings = fast_settings(server, db_url, split_min_s=SPLIT_MIN_S)
    enqueue(store, settings, audio)
    profile = profile_file(tmp_path, server, concurrency=4, pace=4.0, lease_ttl_s=600.0)
    args = ("run", "-q", "--split-min", str(SPLIT_MIN_S))
    first = jobrunner(db_url, profile, *args)
    poll(
        lambda: any(s == "running" for s in piece_states(store)) or first.poll() is not None,
        what="a piece to run",
    )
    assert first.poll() is None, first.communicate()
    first.kill()
    first.communicate(timeout=60)
    pieces = pieces_of(store)
    assert len(pieces) >= 3

    final = jobrunner(db_url, profile, *args)
    _, stderr = final.communicate(timeout=60)  # waiting for the 600 s leases would time out
    assert final.returncode == 0, stderr
    assert pieces_of(store) == pieces  # split once, never again
    job = exported(store)[path]
    assert job.job.state == "succeeded"
    assert job.transcript == "".join(turn_texts(texts))
    assert [t.index for t in job.turns] == list(range(len(texts)))
    assert lost_piece_attempts(store) >= 1  # the kill cut a piece short; reaped at once


def lost_piece_attempts(store: Store) -> int:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM attempts JOIN jobs ON jobs.id = attempts.job_id"
                    " WHERE jobs.parent_id IS NOT NULL AND attempts.error_kind = 'worker_gone'"
                )
            ).scalar_one()
        )


def piece_states(store: Store) -> list[str]:
    import sqlalchemy as sa

    from jobrunner.store.schema import jobs

    with store.engine.connect() as conn:
        return list(
            conn.execute(sa.select(jobs.c.status).where(jobs.c.parent_id.is_not(None))).scalars()
        )


def test_a_piece_failing_for_good_fails_the_job_and_retry_runs_that_piece_alone(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    audio, path, texts = long_file(tmp_path)
    server = serve(faults="error_400@1.0=first:1")  # a 4xx: that piece fails at once
    settings = fast_settings(server, db_url, concurrency=4, split_min_s=SPLIT_MIN_S, pace=10.0)
    enqueue(store, settings, audio)
    assert run_queue(settings, store).exit_code == 1
    [job] = store.jobs()
    assert job.state == "failed" and (job.reason or "").startswith("piece ")
    pieces = pieces_of(store)
    assert sorted(piece_states(store)).count("succeeded") == len(pieces) - 1

    result = invoke(db_url, "retry")
    assert result.exit_code == 0, result.output
    outcomes: list[str] = []
    summary = run_queue(settings, store, on_outcome=lambda o: outcomes.append(o.outcome))
    assert summary.exit_code == 0
    assert outcomes == ["succeeded"]  # the failed piece alone
    assert (summary.counts.succeeded, summary.counts.claimed) == (1, 0)
    done = exported(store)[path]
    assert done.job.state == "succeeded"
    assert done.transcript == "".join(turn_texts(texts))
    assert pieces_of(store) == pieces


@pytest.mark.postgres
def test_pieces_on_postgresql_stitch_once_however_they_finish(
    serve: Serve, tmp_path: Path, pg_database: str
) -> None:
    """On a shared PostgreSQL queue (its own clock judging), eight pieces finishing at once
    in separate transactions settle their job exactly once, stitched."""
    audio, path, texts = long_file(tmp_path)
    settings = fast_settings(serve(), pg_database, concurrency=8, split_min_s=2.0, pace=10.0)
    with Store.open(pg_database) as store:
        enqueue(store, settings, audio)
        assert run_queue(settings, store).exit_code == 0
        assert len(pieces_of(store)) >= 6
        job = exported(store)[path]
        assert job.job.state == "succeeded"
        assert job.transcript == "".join(turn_texts(texts))
        outcomes = [a.outcome for a in store.attempts(job.job.id)]
        assert outcomes == ["succeeded"]  # one stitch


def stereo_file(tmp_path: Path, left: np.ndarray, right: np.ndarray) -> tuple[Path, str]:
    frames = max(len(left), len(right))
    stereo = np.zeros((frames, 2), dtype=np.float32)
    stereo[: len(left), 0], stereo[: len(right), 1] = left, right
    audio = tmp_path / "audio"
    audio.mkdir(parents=True)
    path = str(audio / "call.wav")
    sf.write(path, stereo, 16000, subtype="PCM_16")
    return audio, path


def test_channels_auto_splits_a_call_and_downmixes_mono_saved_as_stereo(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    left, right = turns(3, "agent "), turns(2, "caller ")
    a, b = synthesize(left, gap_s=GAP_S), synthesize(right, gap_s=GAP_S)
    audio, path = stereo_file(tmp_path / "call", a, np.concatenate([np.zeros(len(a)), b]))
    settings = settings_for(serve, db_url, channels="auto", split=False)
    enqueue(store, settings, audio)
    assert run_queue(settings, store).exit_code == 0
    assert [c for _, _, c in pieces_of(store)] == [0, 1]
    by_channel = {
        c: [t.transcript for t in exported(store)[path].turns if t.channel == c] for c in (0, 1)
    }
    assert by_channel == {0: turn_texts(left), 1: turn_texts(right)}

    db = f"sqlite:///{tmp_path / 'mono.db'}"
    with Store.open(db) as mono:
        audio, path = stereo_file(tmp_path / "mono", a, a)
        enqueue(mono, settings.replace(db_url=db), audio)
        assert run_queue(settings.replace(db_url=db), mono).exit_code == 0
        assert pieces_of(mono) == []
        job = exported(mono)[path]
        assert job.transcript == "".join(turn_texts(left))
        assert {t.channel for t in job.turns} == {0}


def test_a_pieces_speech_is_the_files_in_its_own_seconds() -> None:
    from jobrunner.audio.span import Span
    from jobrunner.audio.vad import Segment
    from jobrunner.run.endpoints import in_span

    speech = [Segment(1.0, 2.0), Segment(5.0, 6.5), Segment(9.0, 9.5)]
    assert in_span(speech, None, 8000) == tuple(speech)
    assert in_span(speech, Span(4 * 8000, 8 * 8000), 8000) == (Segment(1.0, 2.5),)
    assert in_span(speech, Span(8 * 8000, None), 8000) == (Segment(1.0, 1.5),)
