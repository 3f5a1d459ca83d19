"""Settings resolution order and secrecy of the API key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobrunner.config import Secret, Settings, load_settings
from jobrunner.errors import ConfigError

KEY = "sk_live_do_not_leak_123"


def test_defaults_come_from_the_cartesia_profile() -> None:
    settings = load_settings(env={})
    assert settings.profile == "cartesia"
    assert settings.base_url == "https://api.cartesia.ai"
    assert settings.model == "ink-2"
    assert settings.chunk_ms == 100
    assert settings.db_url == "sqlite:///jobrunner.db"


def test_order_is_profile_then_env_then_flags(tmp_path: Path) -> None:
    profile = tmp_path / "mine.toml"
    profile.write_text('[run]\nconcurrency = 7\n[service]\nbase_url = "http://profile:1"\n')
    env = {"CARTESIA_BASE_URL": "http://env:2", "JOBRUNNER_DB": "sqlite:///env.db"}

    from_profile = load_settings(profile=str(profile), env={})
    assert (from_profile.concurrency, from_profile.base_url) == (7, "http://profile:1")

    from_env = load_settings(profile=str(profile), env=env)
    assert (from_env.base_url, from_env.db_url) == ("http://env:2", "sqlite:///env.db")

    from_flags = load_settings(
        profile=str(profile), env=env, overrides={"base_url": "http://flag:3", "concurrency": None}
    )
    assert from_flags.base_url == "http://flag:3"
    assert from_flags.concurrency == 7  # a flag that was not given changes nothing


def test_profile_from_environment_variable() -> None:
    settings = load_settings(env={"JOBRUNNER_PROFILE": "local"})
    assert settings.profile == "local"
    assert settings.base_url.startswith("http://127.0.0.1")


def test_unknown_profile_and_unknown_keys_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'nope'.*cartesia"):
        load_settings(profile="nope", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nconcurency = 3\n")
    with pytest.raises(ConfigError, match="unknown setting.*concurency"):
        load_settings(profile=str(bad), env={})


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        load_settings(env={}, overrides={"concurrency": 0})
    with pytest.raises(ConfigError, match="not a number"):
        load_settings(env={}, overrides={"pace": "fast"})


def test_api_key_never_shows_in_repr_str_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(env={"CARTESIA_API_KEY": KEY})
    assert settings.api_key.reveal() == KEY
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info(
            "settings: %s / %r / %s", settings, settings, settings.api_key
        )
    rendered = f"{settings!r} {settings} {settings.api_key} {settings.api_key!r}" + caplog.text
    assert KEY not in rendered
    assert "***" in rendered


def test_api_key_from_a_config_file(tmp_path: Path) -> None:
    profile = tmp_path / "secret.toml"
    profile.write_text(f'[service]\napi_key = "{KEY}"\n')
    settings = load_settings(profile=str(profile), env={})
    assert isinstance(settings.api_key, Secret)
    assert settings.api_key.reveal() == KEY
    # the environment wins over the file
    assert (
        load_settings(profile=str(profile), env={"CARTESIA_API_KEY": "other"}).api_key.reveal()
        == "other"
    )


def test_fingerprint_tracks_only_result_settings() -> None:
    base = load_settings(env={})
    assert base.fingerprint() == base.replace(concurrency=9, base_url="http://x").fingerprint()
    assert base.fingerprint() == base.replace(api_key=Secret("k")).fingerprint()
    assert base.fingerprint() != base.replace(turn_end_threshold=0.3).fingerprint()
    assert base.fingerprint() != base.replace(keyterms=("Cartesia",)).fingerprint()
    assert base.fingerprint() != base.replace(model="ink-3").fingerprint()


def test_price_and_channel_labels_from_a_profile_and_flags(tmp_path: Path) -> None:
    assert load_settings(env={}).price_per_audio_hour is None  # no built-in price
    profile = tmp_path / "mine.toml"
    profile.write_text(
        'price_per_audio_hour = 0.3\n[export]\nchannel_labels = ["agent", "caller"]\n'
    )
    settings = load_settings(profile=str(profile), env={})
    assert settings.price_per_audio_hour == 0.3
    assert settings.channel_labels == ("agent", "caller")
    flags = load_settings(
        profile=str(profile),
        env={},
        overrides={"channel_labels": "a, b", "price_per_audio_hour": 1},
    )
    assert (flags.channel_labels, flags.price_per_audio_hour) == (("a", "b"), 1.0)
    with pytest.raises(ConfigError, match="price_per_audio_hour"):
        load_settings(env={}, overrides={"price_per_audio_hour": -1})


def test_the_endpoint_is_part_of_the_result_but_auto_keys_stay_as_they_were() -> None:
    base = load_settings(env={})
    # the hash of an Auto job is what it was before endpoints existed (queues keep their keys)
    assert Settings().fingerprint() == "10da3724b457c978"  # main's, before this change
    manual, batch = base.replace(endpoint="manual"), base.replace(endpoint="batch")
    assert len({base.fingerprint(), manual.fingerprint(), batch.fingerprint()}) == 3
    assert manual.fingerprint() != manual.replace(finalize_hangover_ms=500).fingerprint()
    assert batch.fingerprint() != batch.replace(language="de").fingerprint()
    assert base.fingerprint() == base.replace(language="de").fingerprint()  # Auto has none


def test_endpoint_settings_come_from_profiles_and_flags(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(
        '[service]\nendpoint = "manual"\nmodel = "ink-whisper"\n'
        "[manual]\nfinalize_hangover_ms = 200\nmin_volume = 0.2\n[run]\nbatch_concurrency = 3\n"
    )
    settings = load_settings(profile=str(profile), env={})
    assert (settings.endpoint, settings.finalize_hangover_ms) == ("manual", 200)
    assert (settings.min_volume, settings.batch_concurrency) == (0.2, 3)
    with pytest.raises(ConfigError, match="min_volume: only the manual endpoint"):
        load_settings(profile=str(profile), env={}, overrides={"endpoint": "batch"})
    assert load_settings(env={}, overrides={"endpoint": "batch"}).endpoint == "batch"
    with pytest.raises(ConfigError, match="endpoint must be one of auto, manual, batch"):
        load_settings(env={}, overrides={"endpoint": "turbo"})
    with pytest.raises(ConfigError, match="batch_concurrency"):
        load_settings(env={}, overrides={"batch_concurrency": 0})
