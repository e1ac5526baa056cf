"""Token usage: the API's counts read from SDK models or JSON, and the conventions' totals computed once."""

from __future__ import annotations

from anthropic.types import Usage as SdkUsage

from agent_anatomy import semconv
from agent_anatomy.tracing import Usage, input_total


def test_input_tokens_count_cache_reads_and_writes() -> None:
    assert input_total({"input_tokens": 10, "cache_read_input_tokens": 200, "cache_creation_input_tokens": 30}) == 240
    assert input_total({}) == 0


def test_an_sdk_model_and_its_json_read_the_same() -> None:
    sdk = SdkUsage(input_tokens=12, output_tokens=40, cache_read_input_tokens=100, cache_creation_input_tokens=None)
    from_model, from_json = Usage(), Usage()
    from_model.take(sdk)
    from_json.take(sdk.model_dump(mode="json"))
    assert (
        from_model.counts
        == from_json.counts
        == {"input_tokens": 12, "output_tokens": 40, "cache_read_input_tokens": 100}
    )
    # the cache write the response left null is no attribute: not a measured 0
    assert from_model.attributes() == {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 112,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 100,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
    }


def test_only_what_the_response_reports_is_an_attribute() -> None:
    """A count of 0 the API sent is kept; a field it did not send (an older API, a proxy) is left out."""
    reported, bare = Usage(), Usage()
    reported.take(
        {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    )
    bare.take({"input_tokens": 7, "output_tokens": 3})
    assert reported.attributes()[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0
    assert reported.attributes()[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 0
    assert bare.attributes() == {semconv.GEN_AI_USAGE_INPUT_TOKENS: 7, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3}
    only_output = Usage()
    only_output.take({"output_tokens": 9})  # a stream's message_delta alone
    assert only_output.attributes() == {semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 9}


def test_later_reports_replace_earlier_ones_field_by_field() -> None:
    usage = Usage()
    usage.take({"input_tokens": 5, "output_tokens": 1})  # message_start
    usage.take({"output_tokens": 90, "output_tokens_details": {"thinking_tokens": 60}})  # message_delta
    assert usage.counts == {"input_tokens": 5, "output_tokens": 90, "thinking_tokens": 60}
    assert usage.attributes()[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 60
    assert usage.by_kind() == {"input": 5, "output": 90, "cache_read": 0, "cache_write": 0, "reasoning": 60}


def test_no_report_means_no_attributes() -> None:
    usage = Usage()
    usage.take(None)
    assert not usage and usage.attributes() == {} and usage.output is None
    assert usage.by_kind()["input"] == 0
