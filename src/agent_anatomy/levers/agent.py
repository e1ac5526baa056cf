"""``run_agent``: the tool-calling agent loop as one call, traced as one ``invoke_agent`` span.

LLM call, then the turn's tool calls through a ``ParallelExecutor``, then the next LLM call, until
the model ends its turn or ``max_iterations`` LLM calls were made. Streams by default, so each call's
time to first token is recorded and ``on_text`` sees text as it arrives. With ``preamble``, the model is asked to
say in a sentence what it will do before its first tool call, so the user reads something while the tools run.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.util.types import AttributeValue

from .. import semconv
from ..telemetry.recorder import format_trace_id
from ..tracing import (
    NO_INPUT,
    USAGE_FIELDS,
    TelemetryHandler,
    agent_spec,
    client_provider,
    default_handler,
    input_total,
)
from ._tools import ToolSpec
from .executor import ParallelExecutor, ToolBatch
from .prompt_cache import with_cache_breakpoints
from .router import ModelRouter

__all__ = [
    "PREAMBLE_INSTRUCTION",
    "STEP_FINAL_SYNTHESIS",
    "STEP_TOOL_DECISION",
    "AgentResult",
    "run_agent",
    "run_agent_sync",
]

TextCallback = Callable[[str], None] | Callable[[str], Awaitable[None]]
ToolsArg = ParallelExecutor | Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any] | ToolSpec]


@dataclass
class AgentResult:
    """What ``run_agent`` ends with."""

    text: str
    """The text of the last answer."""
    messages: list[dict[str, Any]]
    """The whole conversation, the given messages first, ready for a follow-up turn."""
    usage: dict[str, int] = field(default_factory=dict)
    """Tokens summed over every LLM call: input, output, cache read and cache creation."""
    iterations: int = 0
    """LLM calls made."""
    stop_reason: str = "end_turn"
    """The last call's stop reason, or ``max_iterations`` when the loop was cut short."""
    trace_id: str | None = None


def _is_async_client(client: object) -> bool:
    from anthropic.resources.beta.messages import AsyncMessages as AsyncBetaMessages
    from anthropic.resources.messages import AsyncMessages

    return isinstance(getattr(client, "messages", None), AsyncMessages | AsyncBetaMessages)


async def _emit(on_text: TextCallback | None, text: str) -> None:
    if on_text is None:
        return
    result = on_text(text)
    if inspect.isawaitable(result):
        await result


def _completed_tool_use(event: Any, events: Any) -> Any:
    """The ``tool_use`` block a stream event completes, or None."""
    if event.type != "content_block_stop":
        return None
    block = getattr(event, "content_block", None)
    if block is None:  # an SDK whose stop event does not carry the block: the stream's snapshot has it
        block = events.current_message_snapshot.content[event.index]
    return block if getattr(block, "type", None) == "tool_use" else None


async def _llm_call(
    client: Any,
    request: dict[str, Any],
    stream: bool,
    on_text: TextCallback | None,
    router: ModelRouter | None,
    step: str,
    batch: ToolBatch | None = None,
) -> Any:
    """One Messages API call (routed when there is a router); the final message. Sync clients run in a
    thread, with the trace context carried over. A streamed call offers ``batch`` each ``tool_use`` block as
    it completes."""
    if _is_async_client(client):
        if not stream:
            if router is not None:
                return await router.acreate(client, step=step, **request)
            return await client.messages.create(**request)
        manager = router.astream(client, step=step, **request) if router else client.messages.stream(**request)
        async with manager as events:
            async for event in events:
                if event.type == "text":
                    await _emit(on_text, event.text)
                elif batch is not None and (block := _completed_tool_use(event, events)) is not None:
                    batch.offer(block)
            return await events.get_final_message()
    if on_text is not None and inspect.iscoroutinefunction(on_text):
        raise TypeError("an async on_text callback needs an anthropic.AsyncAnthropic client")
    loop = asyncio.get_running_loop()

    def call() -> Any:
        if not stream:
            return router.create(client, step=step, **request) if router else client.messages.create(**request)
        manager = router.stream(client, step=step, **request) if router else client.messages.stream(**request)
        with manager as events:
            for event in events:
                if event.type == "text" and on_text is not None:
                    on_text(event.text)
                elif batch is not None and (block := _completed_tool_use(event, events)) is not None:
                    loop.call_soon_threadsafe(batch.offer, block)  # the batch's tasks run on the loop
            return events.get_final_message()

    return await asyncio.to_thread(call)


def _content_blocks(message: Any) -> list[dict[str, Any]]:
    return [
        block.model_dump(mode="json", exclude_none=True) if hasattr(block, "model_dump") else dict(block)
        for block in message.content
    ]


def _text(message: Any) -> str:
    return "".join(getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text")


StepsArg = Sequence[str] | Callable[[int, Sequence[Mapping[str, Any]]], str]

PREAMBLE_INSTRUCTION: Final = (
    "Before your first tool call, write one short sentence to the user that says what you are about to look up."
)
"""What ``run_agent(preamble=True)`` adds to the system prompt."""


def _with_preamble(system: str | Sequence[Mapping[str, Any]] | None, instruction: str) -> str | list[dict[str, Any]]:
    """The system prompt with ``instruction`` at its end: the same on every call, so the prompt cache holds."""
    if system is None or system == "":
        return instruction
    if isinstance(system, str):
        return f"{system}\n\n{instruction}"
    return [*(dict(block) for block in system), {"type": "text", "text": instruction}]


STEP_TOOL_DECISION = "tool_decision"
STEP_FINAL_SYNTHESIS = "final_synthesis"


def _step_namer(steps: StepsArg | None, has_tools: bool, max_iterations: int) -> Callable[[int, list[Any]], str]:
    if callable(steps):
        return steps
    if steps is not None:
        named = list(steps)
        if not named:
            raise ValueError("steps must name at least one step")
        return lambda iteration, _: named[min(iteration, len(named) - 1)]

    def default(iteration: int, _: list[Any]) -> str:
        may_call_tools = has_tools and iteration < max_iterations - 1
        return STEP_TOOL_DECISION if may_call_tools else STEP_FINAL_SYNTHESIS

    return default


async def run_agent(
    client: Any,
    *,
    messages: Sequence[Mapping[str, Any]],
    model: str | None = None,
    router: ModelRouter | None = None,
    steps: StepsArg | None = None,
    tools: ToolsArg | None = None,
    tool_definitions: Sequence[Mapping[str, Any]] | None = None,
    system: str | Sequence[Mapping[str, Any]] | None = None,
    max_tokens: int = 1024,
    max_iterations: int = 5,
    stream: bool = True,
    on_text: TextCallback | None = None,
    start_tools_early: bool = True,
    prompt_cache: bool = True,
    preamble: bool | str = False,
    name: str = "agent",
    handler: TelemetryHandler | None = None,
    **request_options: Any,
) -> AgentResult:
    """Run the agent loop with ``client`` (``anthropic.AsyncAnthropic``, or a sync ``Anthropic``).

    ``tools``: a ``ParallelExecutor``, or what one is built from (``@tool`` functions, a name-to-callable
    mapping); the model is offered ``tool_definitions`` or, by default, the executor's definitions.
    With a ``router``, each LLM call goes through it under a step name: ``steps`` gives them (a list,
    one per call, the last repeating, or a function of the call's index and the conversation); by
    default ``tool_decision`` while tools may still be called and ``final_synthesis`` for the last
    allowed call. Without a router, ``model`` is required. ``start_tools_early``: with ``stream``, a turn's reads
    start as their ``tool_use`` blocks complete, before the answer ends (a tool with side effects, and what
    follows it, waits as in ``ParallelExecutor.run``). ``prompt_cache``: each call marks its tools, system prompt and
    conversation so far with ``cache_control`` (``with_cache_breakpoints``), so the next call reads that prefix
    from the prompt cache. ``preamble``: ask the model (``PREAMBLE_INSTRUCTION``, or the instruction given) to
    stream one short sentence to ``on_text`` before its first tool call, which the user reads while the tools
    run. ``handler``: the telemetry handler the run's spans
    start with (default: the executor's when one is given, else the process's), resolved once for the run.
    Further keyword arguments (``extra_headers``, ``tool_choice``, ``metadata``...) go to every call.
    """
    if max_iterations < 1:
        raise ValueError(f"max_iterations={max_iterations!r} must be at least 1")
    if model is None and router is None:
        raise ValueError("run_agent needs model=... or router=...")
    if handler is None:
        handler = tools.handler if isinstance(tools, ParallelExecutor) else default_handler()
    executor = (
        tools if isinstance(tools, ParallelExecutor) or tools is None else ParallelExecutor(tools, handler=handler)
    )
    conversation = [dict(message) for message in messages]
    request: dict[str, Any] = {"max_tokens": max_tokens, **request_options}
    if router is None:
        request["model"] = model
    if preamble:
        system = _with_preamble(system, preamble if isinstance(preamble, str) else PREAMBLE_INSTRUCTION)
    if system is not None:
        request["system"] = system
    definitions = (
        list(tool_definitions)
        if tool_definitions is not None
        else (executor.definitions() if executor is not None else [])
    )
    if definitions:
        request["tools"] = definitions
    agent_attributes: dict[str, AttributeValue] = {}
    if model is not None and router is None:
        agent_attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    if preamble:
        agent_attributes[semconv.ANATOMY_AGENT_PREAMBLE] = True
    step_for = _step_namer(steps, bool(definitions), max_iterations)
    spec = agent_spec(name, provider=client_provider(client), attributes=agent_attributes)
    invocation = handler.start_agent(spec, raw_input=NO_INPUT)
    context = invocation.span.get_span_context()
    result = AgentResult(
        text="",
        messages=conversation,
        usage=dict.fromkeys(USAGE_FIELDS, 0),
        trace_id=format_trace_id(context.trace_id) if context.is_valid else None,
    )
    try:
        options = _LoopOptions(max_iterations, stream, stream and start_tools_early, prompt_cache)
        await _loop(client, request, conversation, executor, result, options, on_text, router, step_for)
    except BaseException as exc:
        invocation.fail(exc, _summary(result))
        raise
    invocation.returned(result.text, _summary(result))
    return result


@dataclass(frozen=True, slots=True)
class _LoopOptions:
    max_iterations: int
    stream: bool
    start_tools_early: bool
    prompt_cache: bool


async def _loop(
    client: Any,
    request: dict[str, Any],
    conversation: list[dict[str, Any]],
    executor: ParallelExecutor | None,
    result: AgentResult,
    options: _LoopOptions,
    on_text: TextCallback | None,
    router: ModelRouter | None,
    step_for: Callable[[int, list[Any]], str],
) -> None:
    max_iterations = options.max_iterations
    for iteration in range(max_iterations):
        step = step_for(iteration, conversation)
        # The last allowed call's tools never run: nothing of it starts early.
        early = options.start_tools_early and iteration < max_iterations - 1
        batch = executor.begin() if early and executor is not None else None
        call_request = {**request, "messages": conversation}
        if options.prompt_cache:
            call_request = with_cache_breakpoints(call_request)
        try:
            message = await _llm_call(client, call_request, options.stream, on_text, router, step, batch)
        except BaseException:
            if batch is not None:
                batch.cancel()
            raise
        result.iterations = iteration + 1
        for name in USAGE_FIELDS:
            result.usage[name] += getattr(message.usage, name, 0) or 0
        conversation.append({"role": "assistant", "content": _content_blocks(message)})
        result.text = _text(message)
        result.stop_reason = message.stop_reason or "end_turn"
        calls = [block for block in message.content if getattr(block, "type", "") == "tool_use"]
        if message.stop_reason != "tool_use" or not calls:
            if batch is not None:
                batch.cancel()
            return
        if iteration == max_iterations - 1:
            result.stop_reason = "max_iterations"
            return
        if executor is None:
            raise TypeError("the model asked for tools, but run_agent was given none (tools=...)")
        results = await (batch.finish(calls) if batch is not None else executor.run(calls))
        conversation.append({"role": "user", "content": results})


def _summary(result: AgentResult) -> dict[str, AttributeValue]:
    return {
        semconv.ANATOMY_AGENT_ITERATIONS: result.iterations,
        semconv.ANATOMY_AGENT_STOP_REASON: result.stop_reason,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: input_total(result.usage),
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: result.usage["output_tokens"],
    }


def run_agent_sync(client: Any, **kwargs: Any) -> AgentResult:
    """``run_agent`` for code without an event loop; the same keyword arguments."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_agent(client, **kwargs))
    raise RuntimeError("run_agent_sync() was called inside a running event loop; use 'await run_agent(...)'")
