"""Latency profiles: defaults from the seed, seeded draws, files in three formats, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_anatomy.errors import ConfigurationError
from agent_anatomy.sim import SimProfile, load_profile
from agent_anatomy.sim.profiles import ModelProfile


@pytest.mark.parametrize(
    ("model", "low", "high"),
    [
        ("claude-haiku-4-5", 200, 400),
        ("claude-sonnet-4-6", 400, 800),
        ("claude-opus-4-6", 1000, 2000),
        ("some-other-model", 400, 800),
    ],
)
def test_default_ttft_by_family(model: str, low: float, high: float) -> None:
    profile = SimProfile(seed=1)
    draws = [profile.draw(model).ttft_ms for _ in range(50)]
    assert all(low <= d <= high for d in draws)
    assert max(draws) - min(draws) > (high - low) / 3, "drawn, not constant"


def test_same_seed_same_draws_different_seed_different() -> None:
    first = [SimProfile(seed=5).draw("claude-haiku-4-5") for _ in range(1)]
    a, b, c = SimProfile(seed=5), SimProfile(seed=5), SimProfile(seed=6)
    assert [a.draw("m") for _ in range(5)] == [b.draw("m") for _ in range(5)]
    assert [SimProfile(seed=5).draw("m") for _ in range(1)] != [c.draw("m") for _ in range(1)]
    assert first == [SimProfile(seed=5).draw("claude-haiku-4-5")]


def test_heavy_tail() -> None:
    profile = SimProfile(
        seed=2,
        models={"m": ModelProfile(ttft_ms=(100, 100), tokens_per_s=(50, 50), tail_probability=0.1, tail_multiplier=10)},
    )
    draws = [profile.draw("m").ttft_ms for _ in range(400)]
    slow = sum(1 for d in draws if d == pytest.approx(1000))
    assert 20 <= slow <= 65 and draws.count(100.0) == 400 - slow


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_profile_files(tmp_path: Path, suffix: str) -> None:
    content = {
        ".toml": 'seed = 9\n[models."claude-haiku-4-5"]\nttft_ms = [250, 250]\ntokens_per_s = 100\n'
        "[faults]\nerror_rates = { 529 = 0.1 }\ncut_stream_rate = 0.05\n",
        ".yaml": "seed: 9\nmodels:\n  claude-haiku-4-5: {ttft_ms: [250, 250], tokens_per_s: 100}\n"
        "faults: {error_rates: {529: 0.1}, cut_stream_rate: 0.05}\n",
        ".json": '{"seed": 9, "models": {"claude-haiku-4-5": {"ttft_ms": [250, 250], "tokens_per_s": 100}},'
        ' "faults": {"error_rates": {"529": 0.1}, "cut_stream_rate": 0.05}}',
    }[suffix]
    path = tmp_path / f"profile{suffix}"
    path.write_text(content)
    profile = load_profile(path)
    assert profile.seed == 9
    assert profile.faults.error_rates == {529: 0.1}
    timing = profile.draw("claude-haiku-4-5")
    assert timing.ttft_ms == 250 and timing.tokens_per_s == 100
    assert profile.draw("claude-opus-4-6").ttft_ms >= 1000, "other models keep their family default"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("seed = 'x'\n", "seed='x' must be an integer"),
        ("speed = 1\n", "unknown top-level settings ['speed']"),
        ('[models."m"]\nttft = 1\n', "unknown settings ['ttft']"),
        ('[models."m"]\nttft_ms = [5, 1]\n', "expected [low, high] with 0 <= low <= high"),
        ('[models."m"]\nttft_ms = "fast"\n', "must be a number or a [low, high] pair"),
        ("[faults]\nerror_rates = { 418 = 0.1 }\n", "statuses are 400, 401, 429, 500, 529"),
        ("[faults]\nerror_rates = { 529 = 0.7, 500 = 0.6 }\n", "add up to more than 1"),
        ("seed = \n", "is not valid"),
    ],
)
def test_bad_profiles_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        load_profile(path)
    assert message in str(raised.value)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown format '\.ini'"):
        (tmp_path / "p.ini").write_text("x")
        load_profile(tmp_path / "p.ini")
    with pytest.raises(ConfigurationError, match="cannot read profile"):
        load_profile(tmp_path / "missing.toml")
