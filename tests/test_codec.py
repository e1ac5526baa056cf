"""codec: orjson where installed (and msgspec for OTLP lines), the standard library otherwise, and the same values
and errors either way."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agent_anatomy import codec
from agent_anatomy.anatomy import Anatomy
from agent_anatomy.anatomy.sources import otlp_structs, records_from_file
from agent_anatomy.errors import SourceError

FIXTURES = Path(__file__).parent / "anatomy" / "fixtures"


@pytest.fixture(params=["fast", "stdlib"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with orjson (when installed) and with the standard library alone."""
    if request.param == "fast":
        if not codec.FAST:
            pytest.skip("orjson is not installed (pip install 'agent-anatomy[fast]')")
    else:
        monkeypatch.setattr(codec, "_orjson", None)
        monkeypatch.setattr(otlp_structs, "msgspec", None)  # (the fast extra's other half)
    return str(request.param)


def test_what_only_the_standard_library_reads_is_read_the_same(decoder: str) -> None:
    """NaN and integers past 64 bits, which orjson refuses, read as json reads them."""
    assert codec.loads(b'{"n": 18446744073709551616, "x": 1.5}') == {"n": 2**64, "x": 1.5}
    assert math.isnan(codec.loads('{"v": NaN}')["v"])
    assert codec.loads('"caf\\u00e9"') == "café"


def test_a_bad_line_fails_with_the_standard_librarys_message(decoder: str) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        codec.loads('{"resourceSpans": [}')
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads('{"resourceSpans": [}')
    assert (raised.value.msg, raised.value.colno) == (expected.value.msg, expected.value.colno)


def test_dumps_is_compact_utf8_and_reads_back(decoder: str) -> None:
    value = {"name": "café", "n": [1, 2.5, None, True], "big": 2**70}
    written = codec.dumps(value)
    assert isinstance(written, bytes) and b" " not in written and "café".encode() in written
    assert json.loads(written) == value


def test_a_trace_file_reads_the_same_with_either(decoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    records = records_from_file(FIXTURES / "otlp_skew_orphan.json")
    monkeypatch.setattr(codec, "_orjson", None)
    monkeypatch.setattr(otlp_structs, "msgspec", None)
    assert records == records_from_file(FIXTURES / "otlp_skew_orphan.json")


def test_a_bad_jsonl_line_is_named_with_either(decoder: str, tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    good = (FIXTURES / "otlp_skew_orphan.json").read_text().replace("\n", "")
    path.write_text(good + "\n" + '{"resourceSpans": [}' + "\n")
    with pytest.raises(SourceError, match=r"line 2 is not valid JSON \(column 20: Expecting value\)"):
        Anatomy.from_file(path)
