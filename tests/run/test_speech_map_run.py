"""The speech map in a run, against the bundled server (tones engine): every transcript is
aligned with its file's map, maps are computed ahead of the claims and kept per content, and
silently damaged sessions are caught by the coverage check."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import numpy as np
import soundfile as sf
from helpers import Serve, fast_settings, invoke
from workerkit import enqueue, exported, poll

from jobrunner.audio.vad import detector_id
from jobrunner.enqueue import enqueue_paths
from jobrunner.run import run_queue
from jobrunner.run.prefetch import SpeechPrefetch
from jobrunner.server.tones import turn_texts, write_wav
from jobrunner.store import Store
from jobrunner.timing.latency import Latencies

#: how far a mapped boundary may lie from the synthesized one (the detector's own error on
#: clean tones is about 10 ms; the audio clock plays no part in it)
BOUNDARY_S = 0.05
#: pace of these runs: fast, but slow enough that events are not late by whole turns
PACE = 5.0


def long_turns(i: int) -> list[str]:
    """Three turns of more than a second of tones each (more than a dropped sentence must be
    to be noticed), different in every file."""
    return [
        f"File {i:03d} opens with a turn long enough to map.",
        f" Then turn two of file {i:03d} says more words.",
        f" And turn three, the last one of file {i:03d}.",
    ]


def make_long_files(folder: Path, count: int, start: int = 0) -> dict[str, list[str]]:
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for i in range(start, start + count):
        turns = long_turns(i)
        expected[str(write_wav(folder / f"call{i:03d}.wav", turns))] = turn_texts(turns)
    return expected


def true_turns(path: str) -> list[tuple[float, float]]:
    """Where the tones of each turn are: the synthesizer writes exact silence between them
    (runs of zeros longer than 0.3 s; symbols are 5 ms apart)."""
    audio, rate = sf.read(path, dtype="float32")
    loud = np.flatnonzero(np.abs(audio) > 0)
    breaks = np.flatnonzero(np.diff(loud) > 0.3 * rate)
    starts = [loud[0], *loud[breaks + 1]]
    ends = [*loud[breaks], loud[-1]]
    return [(s / rate, (e + 1) / rate) for s, e in zip(starts, ends, strict=True)]


def test_a_run_exports_true_turn_times_and_latencies_of_every_transcript(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_long_files(tmp_path / "audio", 4)
    settings = fast_settings(serve(), db_url, pace=PACE, concurrency=4)
    enqueue(store, settings, tmp_path / "audio")
    summary = run_queue(settings, store)
    assert summary.exit_code == 0 and summary.speech.aligned == 4 and summary.speech.uncovered == 0
    latencies = []
    for path, job in exported(store).items():
        assert job.job.coverage == "covered" and job.job.uncovered_s == 0.0
        assert [t.transcript for t in job.turns] == expected[path]
        for turn, (start, end) in zip(job.turns, true_turns(path), strict=True):
            assert turn.speech_start_s is not None and turn.speech_end_s is not None
            assert abs(turn.speech_start_s - start) <= BOUNDARY_S, (path, turn)
            assert abs(turn.speech_end_s - end) <= BOUNDARY_S, (path, turn)
            assert turn.end_audio_s is not None and turn.start_audio_s is not None
            if turn.end_latency_s is not None:  # null only for a turn ended by the flush
                assert turn.end_latency_s == round(turn.end_audio_s - turn.speech_end_s, 6)
                latencies.append(turn.end_latency_s)
            assert turn.start_latency_s == round(turn.start_audio_s - turn.speech_start_s, 6)
        assert job.turns[0].end_latency_s is not None  # turns ended by the detector
    assert summary.speech.end_latency == Latencies.of(latencies)
    # the same numbers come out of an export, computed either way
    out = tmp_path / "turns.jsonl"
    assert invoke(db_url, "export", "--by", "turn", "-o", str(out)).exit_code == 0
    for row in map(json.loads, out.read_text("utf-8").splitlines()):
        if row["end_latency_s"] is not None:
            assert abs(row["end_s"] - row["speech_end_s"] - row["end_latency_s"]) < 1e-9
    status = invoke(db_url, "status").stdout
    assert f"end_latency_s): {Latencies.of(latencies).describe()}" in status


def test_maps_are_kept_per_content_and_analyze_fills_in_what_a_run_did_not(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    make_long_files(tmp_path / "audio", 3)
    settings = fast_settings(serve(), db_url, pace=PACE)
    enqueue(store, settings, tmp_path / "audio")
    assert run_queue(settings, store, speech_map=False).exit_code == 0
    jobs = exported(store)
    assert all(j.job.coverage is None for j in jobs.values())
    assert all(t.speech_end_s is None for j in jobs.values() for t in j.turns)
    gone = sorted(jobs)[0]
    Path(gone).unlink()  # a file moved away after its run: reported, its job left alone

    result = invoke(db_url, "analyze", "--all")
    assert result.exit_code == 0, result.output
    assert f"not mapped  {gone}: " in result.stdout
    assert "2 maps computed" in result.stdout and "2 succeeded jobs aligned (0 uncovered)" in (
        result.stdout
    )
    after = exported(store)
    assert after[gone].job.state == "succeeded" and after[gone].job.coverage is None
    for path in sorted(after)[1:]:
        assert after[path].job.coverage == "covered"
        assert all(t.speech_end_s is not None for t in after[path].turns)

    # the same content under other settings is another job: its map is the stored one
    other = settings.replace(turn_end_threshold=0.6)
    assert enqueue_paths(store, other, [sorted(after)[1]]).summary.new == 1
    again = json.loads(invoke(db_url, "analyze", "--all", "--json").stdout)
    assert (again["mapped"], again["reused"], again["aligned"]) == (0, 3, 2)


def test_enqueue_analyze_stores_the_maps_before_any_run(tmp_path: Path) -> None:
    make_long_files(tmp_path / "audio", 2)
    db = tmp_path / "q.db"
    result = invoke(db, "enqueue", str(tmp_path / "audio"), "--analyze", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "analyze: 2 jobs; 2 maps computed" in result.stderr
    again = json.loads(invoke(db, "analyze", "--all", "--json").stdout)
    assert (again["mapped"], again["reused"], again["aligned"]) == (0, 2, 0)
    assert invoke(db, "enqueue", "x", "--analyze", "--dry-run").exit_code == 2
    assert invoke(db, "analyze").exit_code == 2  # which jobs? (--all or names)


def test_the_prefetch_maps_the_next_queued_jobs_in_claim_order_and_no_further(
    tmp_path: Path, store: Store, db_url: str
) -> None:
    make_long_files(tmp_path / "audio", 4)
    enqueue(store, fast_settings(None, db_url), tmp_path / "audio")
    contents = [t.sha256 for t in store.speech.next_queued(4)]

    async def prefetch() -> None:
        speech = SpeechPrefetch(store, set, ahead=2, idle_poll_s=0.05)
        async with anyio.create_task_group() as tg:
            tg.start_soon(speech.run)
            await anyio.to_thread.run_sync(
                lambda: poll(lambda: len(store.speech.keys(contents, detector_id())) == 2)
            )
            await speech.finish()

    anyio.run(prefetch)
    assert store.speech.keys(contents, detector_id()) == {(c, "downmix") for c in contents[:2]}


def test_the_coverage_check_flags_every_silently_damaged_job_and_no_clean_one(
    serve: Serve, tmp_path: Path, store: Store, db_url: str
) -> None:
    expected = make_long_files(tmp_path / "audio", 12)
    damaging = serve(faults="drop_text@1.5=first:3,end_early@3=first:3")
    settings = fast_settings(damaging, db_url, pace=PACE)
    enqueue(store, settings, tmp_path / "audio")
    summary = run_queue(settings, store)
    assert summary.exit_code == 0  # no error anywhere: the sessions "succeeded"
    injected = damaging.wait_idle().faults_injected
    assert injected == {"drop_text": 3, "end_early": 3}
    jobs = exported(store)
    damaged = {p for p, j in jobs.items() if [t.transcript for t in j.turns] != expected[p]}
    flagged = {p for p, j in jobs.items() if j.job.coverage == "uncovered"}
    assert len(damaged) == 6
    assert flagged == damaged
    assert summary.speech.uncovered == len(damaged)
    assert all(jobs[p].job.uncovered_s >= 1.0 for p in flagged)  # type: ignore[operator]

    listed = invoke(db_url, "jobs", "--state", "succeeded", "--uncovered", "--json").stdout
    assert {json.loads(line)["path"] for line in listed.splitlines()} == damaged
    assert "speech outside every turn" in invoke(db_url, "jobs", "--uncovered").stdout
    retried = invoke(db_url, "retry", "--uncovered")
    assert f"retry: {len(damaged)} jobs queued again" in retried.stdout

    clean = fast_settings(serve(), db_url, pace=PACE)
    assert run_queue(clean, store).speech.uncovered == 0
    jobs = exported(store)
    assert all(j.job.coverage == "covered" for j in jobs.values())
    assert all([t.transcript for t in j.turns] == expected[p] for p, j in jobs.items())
