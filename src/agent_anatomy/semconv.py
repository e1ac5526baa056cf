"""Every span, attribute, event and metric name that agent-anatomy writes or reads.

The GenAI names follow the semantic conventions as released in opentelemetry-util-genai 1.3b0; the
``anatomy.*`` names are the project's own. Nothing else in the package spells a name string, so a
convention change is a change to this file alone.
"""

from __future__ import annotations

from typing import Final

# --- instrumentation scope -------------------------------------------------------------------------

INSTRUMENTATION_SCOPE: Final = "agent_anatomy"
SCOPE_ANTHROPIC_SDK: Final = "com.anthropic.sdk.python"
"""The instrumentation scope of the anthropic SDK's own spans (from 1.14)."""
SCOPE_OTEL_GENAI_ANTHROPIC: Final = "opentelemetry.instrumentation.genai.anthropic"
"""The OpenTelemetry project's own anthropic instrumentation (opentelemetry-instrumentation-genai-anthropic)."""
SCOPE_CLAUDE_CODE: Final = "com.anthropic.claude_code.tracing"
"""The Claude Code CLI's own spans (``claude_code.*``)."""

# --- gen_ai.operation.name values, which are also the first word of span names ----------------------

OPERATION_CHAT: Final = "chat"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
OPERATION_INVOKE_AGENT: Final = "invoke_agent"
OPERATION_INVOKE_WORKFLOW: Final = "invoke_workflow"
OPERATION_STEP: Final = "step"
"""Not a GenAI operation: the project's name for one step of an agent (``@step``)."""
OPERATION_TOOL_BATCH: Final = "tool_batch"
"""The project's span around one batch of tool calls run by ``ParallelExecutor``."""
OPERATION_CACHE_LOOKUP: Final = "cache_lookup"
"""The project's span around one ``ResultCache`` lookup."""
OPERATION_ROUTE: Final = "route"
OPERATION_PERMISSION: Final = "check_permission"
"""A permission callback deciding whether a tool may run (the Claude Agent SDK's ``can_use_tool``): the user's
code, waited for before the tool starts; a phase of its own."""
"""The project's span around one ``ModelRouter`` call: its attempts are the LLM spans under it."""

PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"

# --- GenAI attributes ----------------------------------------------------------------------------------

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"

GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"

GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
"""Opt-in content: written only when content capture is on."""
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
"""Opt-in content: written only when content capture is on."""

GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
"""Written only on a streamed call (true); absent on a plain one."""
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Seconds from the request to the first content chunk."""

GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
"""Includes cache read and cache write tokens."""
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens the model spent thinking (part of ``gen_ai.usage.output_tokens``), where the API reports them."""
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"

GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
"""Opt-in content: the tools offered to the model, as JSON."""
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
SESSION_ID: Final = "session.id"
"""A session id, as OpenInference (and the OTel session conventions) write it."""

FINISH_REASON_ERROR: Final = "error"
"""``gen_ai.response.finish_reasons`` of a stream cut short before the model said why it stopped."""

TOOL_ERROR: Final = "tool_error"
"""``error.type`` of a tool call whose result says it failed (an MCP ``isError`` result), with no exception."""
TOOL_TYPE_FUNCTION: Final = "function"
TOOL_TYPE_EXTENSION: Final = "extension"
"""``gen_ai.tool.type`` of a tool that runs outside the agent's process: an MCP server's."""

# --- MCP (the Model Context Protocol conventions) ---------------------------------------------------------

MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_METHOD_TOOLS_CALL: Final = "tools/call"
ANATOMY_MCP_SERVER_NAME: Final = "anatomy.mcp.server.name"
"""The name the MCP server gave itself when the session started (``serverInfo.name``)."""
MCP_META_TRACEPARENT: Final = "traceparent"
"""The W3C trace-context key an MCP request's ``_meta`` carries, as the MCP conventions ask."""

# --- general attributes ---------------------------------------------------------------------------------

ERROR_TYPE: Final = "error.type"
EVENT_EXCEPTION: Final = "exception"
"""The event OpenTelemetry's ``record_exception`` adds (``exception.type``, ``exception.message``)."""
EXCEPTION_TYPE: Final = "exception.type"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
SERVICE_NAME: Final = "service.name"

# --- the project's own attributes ---------------------------------------------------------------------

ANATOMY_STEP_NAME: Final = "anatomy.step.name"
ANATOMY_STEP_TYPE: Final = "anatomy.step.type"
"""What kind of work a step does (``routing``, ``extraction``, ``summarisation``...), free text."""
ANATOMY_DESCRIPTION: Final = "anatomy.description"
"""Description of a step or workflow (agents and tools have GenAI attributes for it)."""
ANATOMY_INPUT: Final = "anatomy.input"
"""Opt-in content: arguments of an agent, step or workflow, as JSON."""
ANATOMY_OUTPUT: Final = "anatomy.output"
"""Opt-in content: return value of an agent, step or workflow, as JSON."""
ANATOMY_TOOL_SIDE_EFFECTS: Final = "anatomy.tool.side_effects"
ANATOMY_GENERATOR_END: Final = "anatomy.generator.end"
"""How a traced generator ended; one of the ``GENERATOR_END_*`` values."""

ANATOMY_LLM_API: Final = "anatomy.llm.api"
"""Which SDK method made the call: ``messages.create``, ``messages.stream``, ``beta.messages.create``..."""
ANATOMY_LLM_TIME_TO_HEADERS: Final = "anatomy.llm.time_to_headers"
"""Seconds from the request to its response headers (streams only: a plain call reads the body first)."""
ANATOMY_LLM_GENERATION_TIME: Final = "anatomy.llm.generation_time"
"""Seconds from the first visible content to the end of the stream (after any thinking time)."""
ANATOMY_LLM_OUTPUT_TOKENS_PER_SECOND: Final = "anatomy.llm.output_tokens_per_second"
ANATOMY_LLM_TIME_TO_FIRST_TEXT: Final = "anatomy.llm.time_to_first_text"
"""Seconds from the request to the first visible content (text, or a tool call's input), after any thinking:
the wait the user feels. Equal to the time to first chunk when the model did not think."""
ANATOMY_LLM_FIRST_CONTENT: Final = "anatomy.llm.first_content"
"""What that first visible content was: ``text`` (words the user can read, a sentence before tool calls too) or
``tool_use`` (a tool call's input)."""
FIRST_CONTENT_TEXT: Final = "text"
FIRST_CONTENT_TOOL_USE: Final = "tool_use"
ANATOMY_LLM_THINKING_TIME: Final = "anatomy.llm.thinking_time"
"""Seconds the model streamed reasoning (thinking, signature, redacted blocks) before its visible answer."""
ANATOMY_LLM_THINKING_TYPE: Final = "anatomy.llm.thinking.type"
"""The requested thinking: ``enabled``, ``adaptive`` or ``disabled``."""
ANATOMY_LLM_THINKING_BUDGET: Final = "anatomy.llm.thinking.budget_tokens"
ANATOMY_LLM_EFFORT: Final = "anatomy.llm.effort"
"""The requested effort level (``output_config.effort``): ``low`` ... ``max``."""
ANATOMY_LLM_REQUEST_SPEED: Final = "anatomy.llm.request.speed"
"""The requested inference speed (``speed``): ``standard`` or ``fast``."""
ANATOMY_LLM_SPEED: Final = "anatomy.llm.speed"
"""The speed the response says served the call (``usage.speed``)."""
SPEED_FAST: Final = "fast"
"""The value of the speed attributes (and of the API's ``speed``) for fast mode."""
ANATOMY_LLM_REQUEST_SERVICE_TIER: Final = "anatomy.llm.request.service_tier"
"""The requested capacity (``service_tier``): ``auto`` or ``standard_only``."""
ANATOMY_LLM_SERVICE_TIER: Final = "anatomy.llm.service_tier"
"""The capacity that served the call (``usage.service_tier``): ``standard``, ``priority`` or ``batch``."""
ANATOMY_LLM_CACHE_DIAGNOSED: Final = "anatomy.llm.cache_miss.diagnosed"
"""True when the call asked the API why its prompt cache missed (``diagnostics.previous_message_id``)."""
ANATOMY_LLM_CACHE_MISS_REASON: Final = "anatomy.llm.cache_miss.reason"
"""Why the prompt cache missed the previous call's prefix, as the response says (``cache_miss_reason.type``):
``model_changed``, ``system_changed``, ``tools_changed``, ``messages_changed``, ``previous_message_not_found``,
``unavailable``."""
ANATOMY_LLM_CACHE_MISSED_TOKENS: Final = "anatomy.llm.cache_miss.input_tokens"
"""About how many input tokens would have been read from the cache had the prefix matched."""
ANATOMY_STREAM_END: Final = "anatomy.stream.end"
"""How a streamed LLM call ended; one of the ``STREAM_END_*`` values."""

STREAM_END_COMPLETED: Final = "completed"
STREAM_END_CLOSED: Final = "closed"
"""Closed before the end: ``close()``, ``break`` then close, or leaving a ``with`` block early."""
STREAM_END_ABANDONED: Final = "abandoned"
"""Dropped unread and garbage collected."""
STREAM_END_ERROR: Final = "error"
STREAM_END_CANCELLED: Final = "cancelled"
"""Cancelled by the application (a hedged request's loser): not an error."""
STREAM_END_INTERRUPTED: Final = "interrupted"
"""Cut by the user's interrupt (the Claude Agent SDK's ``ClaudeSDKClient.interrupt()``): an error, ``interrupted``."""
ERROR_INTERRUPTED: Final = "interrupted"
"""``error.type`` of an LLM call or tool use the user's interrupt cut short."""
STREAM_END_UNOBSERVED: Final = "unobserved"
"""A raw streamed response (``with_raw_response`` / ``with_streaming_response``): the span ends at headers."""

ANATOMY_LLM_CANCELLED: Final = "anatomy.llm.cancelled"
"""True on an LLM call the application cancelled; such a call is not an error."""

EVENT_FIRST_TOKEN: Final = "anatomy.first_token"
EVENT_AGENT_READY: Final = "anatomy.agent.ready"
EVENT_TOOL_USE_READY: Final = "anatomy.tool_use.ready"
"""On a streamed ``chat`` span: a ``tool_use`` block is complete, its input known (``gen_ai.tool.call.id``,
``gen_ai.tool.name``), before the message ends; a tool could start from here."""
"""On an agent span: the runtime that runs the agent is ready (the Claude Code CLI started and initialised);
the agent's own time before it is its start-up."""
"""Span event at the moment the first content delta of a stream arrived."""

ANATOMY_TOOL_INPUT_HASH: Final = "anatomy.tool.input_hash"
"""Hash of a tool call's canonical input: repeated calls are visible without recording the input."""

ANATOMY_BATCH_MODE: Final = "anatomy.batch.mode"
BATCH_MODE_PARALLEL: Final = "parallel"
BATCH_MODE_SEQUENTIAL: Final = "sequential"
ANATOMY_BATCH_TOOL_COUNT: Final = "anatomy.batch.tool_count"
ANATOMY_BATCH_WALL_TIME: Final = "anatomy.batch.wall_time"
"""Seconds from the batch's start to its last tool's end."""
ANATOMY_BATCH_SUM_TIME: Final = "anatomy.batch.sum_time"
"""Seconds the batch's tools took added up: its wall time had they run one after another."""
ANATOMY_BATCH_SAVED_TIME: Final = "anatomy.batch.saved_time"
"""``sum_time - wall_time``: what running concurrently saved (0 in sequential mode)."""
ANATOMY_BATCH_MAX_CONCURRENCY: Final = "anatomy.batch.max_concurrency"
ANATOMY_BATCH_ERROR_COUNT: Final = "anatomy.batch.error_count"
ANATOMY_BATCH_EARLY_COUNT: Final = "anatomy.batch.early_count"
"""How many of the batch's tools started while the model's answer was still streaming (each as its
``tool_use`` block completed)."""
ANATOMY_BATCH_STREAMED_TIME: Final = "anatomy.batch.streamed_time"
"""Seconds the batch had been running when the model's answer ended: the wait a start at the answer's end
would have added (0 when no tool started early)."""

ANATOMY_CACHE_FUNCTION: Final = "anatomy.cache.function"
ANATOMY_CACHE_HIT: Final = "anatomy.cache.hit"
ANATOMY_CACHE_BACKEND: Final = "anatomy.cache.backend"
ANATOMY_CACHE_KEY_HASH: Final = "anatomy.cache.key_hash"
ANATOMY_CACHE_KEY: Final = "anatomy.cache.key"
"""Opt-in content: the raw cache key, only when content capture is on."""
ANATOMY_CACHE_AGE: Final = "anatomy.cache.age"
"""Seconds since the entry found was stored."""
ANATOMY_CACHE_TTL: Final = "anatomy.cache.ttl"
ANATOMY_CACHE_SINGLE_FLIGHT_WAIT: Final = "anatomy.cache.single_flight_wait"
"""True when this caller waited for another caller's computation of the same key."""
ANATOMY_CACHE_SAVED_TIME: Final = "anatomy.cache.saved_time"
"""On a hit: seconds the original computation took, which this call did not spend."""
ANATOMY_CACHE_ERROR: Final = "anatomy.cache.error"
"""The backend failure the cache failed open on (the call still ran)."""

ANATOMY_ROUTE_STEP: Final = "anatomy.route.step"
ANATOMY_ROUTE_MODEL: Final = "anatomy.route.model"
"""The model that served the routed call."""
ANATOMY_ROUTE_REASON: Final = "anatomy.route.reason"
"""Why that model served it; one of the ``ROUTE_REASON_*`` values."""
ANATOMY_ROUTE_ALTERNATIVES: Final = "anatomy.route.alternatives"
"""The step's other acceptable models, in the order they would be tried."""
ANATOMY_ROUTE_ATTEMPTS: Final = "anatomy.route.attempts"
ANATOMY_ROUTE_HEDGE_DELAY: Final = "anatomy.route.hedge_delay"
"""Seconds the router waited for the first token before starting a hedge."""
ANATOMY_ROUTE_SPEED: Final = "anatomy.route.speed"
"""``fast`` when the step asked for fast mode and the chosen model has it; absent at standard speed."""
ANATOMY_ROUTE_ROLE: Final = "anatomy.route.role"
"""On an LLM span: ``primary``, ``fallback`` or ``hedge``."""
ANATOMY_ROUTE_OUTCOME: Final = "anatomy.route.outcome"
"""On an LLM span: ``won`` (its answer was used), ``lost`` (cancelled for a faster one) or ``failed``."""

ROUTE_REASON_STATIC: Final = "static"
ROUTE_REASON_FASTEST: Final = "fastest_observed"
ROUTE_REASON_EXPLORE: Final = "explore"
ROUTE_REASON_FALLBACK: Final = "fallback"
ROUTE_REASON_HEDGE_WON: Final = "hedge_won"
ROUTE_REASON_HEDGE_LOST: Final = "hedge_lost"
ROUTE_ROLE_PRIMARY: Final = "primary"
ROUTE_ROLE_FALLBACK: Final = "fallback"
ROUTE_ROLE_HEDGE: Final = "hedge"
ROUTE_OUTCOME_WON: Final = "won"
ROUTE_OUTCOME_LOST: Final = "lost"
ROUTE_OUTCOME_FAILED: Final = "failed"

ANATOMY_AGENT_ITERATIONS: Final = "anatomy.agent.iterations"
ANATOMY_AGENT_STOP_REASON: Final = "anatomy.agent.stop_reason"
ANATOMY_AGENT_PREAMBLE: Final = "anatomy.agent.preamble"
"""True when ``run_agent`` asked the model for a sentence to the user before its first tool call."""

# A Claude Agent SDK session (the Claude Code CLI ran the agent; these are what its result reports).
CLAUDE_CODE_SUBAGENT_TOOLS: Final = frozenset({"Agent", "Task"})
"""The Claude Code CLI's tools that start a subagent."""
CLAUDE_CODE_AGENT: Final = "claude-code"
"""``gen_ai.agent.name`` of a Claude Agent SDK session's main agent (a subagent carries its own type)."""
ANATOMY_AGENT_TURNS: Final = "anatomy.agent.turns"
"""Turns of the query as the CLI counts them (``num_turns``: not its API calls, which are the chat spans)."""
ANATOMY_AGENT_COST_USD: Final = "anatomy.agent.cost_usd"
"""What the query cost, as the CLI prices it (its part of the session's ``total_cost_usd``)."""
ANATOMY_AGENT_API_TIME: Final = "anatomy.agent.api_time"
"""Seconds the query spent in API calls, as the CLI counts them (its part of the session's ``duration_api_ms``)."""
ANATOMY_AGENT_REPORTED_DURATION: Final = "anatomy.agent.reported_duration"
"""Seconds the session took, as the CLI counts them (``duration_ms``)."""
ANATOMY_AGENT_ID: Final = "anatomy.agent.id"
"""A subagent's id within its session (the CLI's ``agent_id``)."""
ANATOMY_AGENT_TOOL_CALL_ID: Final = "anatomy.agent.tool_call_id"
"""The tool call that started a subagent (the CLI's ``Agent`` tool use): its span is beside the subagent's."""
ANATOMY_TOOL_REPORTED_DURATION: Final = "anatomy.tool.reported_duration"
"""Seconds a tool ran, as the process that ran it counts them (the CLI's ``duration_ms``: no permission prompt)."""
ANATOMY_TOOL_SCHEDULED_BY: Final = "anatomy.tool.scheduled_by"
"""Who decides when a tool runs, when it is not the user's code: ``claude_code`` (the CLI runs its tools, one
after another or at once, as it sees fit), so no advice is given on how they are scheduled."""
SCHEDULER_CLAUDE_CODE: Final = "claude_code"
CLAUDE_CODE_START_UP: Final = "claude-code start-up"
"""The step span of a ``ClaudeSDKClient.connect()``: the CLI starting, before any query."""

GENERATOR_END_EXHAUSTED: Final = "exhausted"
GENERATOR_END_CLOSED: Final = "closed"
GENERATOR_END_ERROR: Final = "error"

# --- names other instrumentations write, which the anatomy reads ---------------------------------------------

# Other gen_ai.operation.name values of the GenAI conventions (current and older).
OPERATION_TEXT_COMPLETION: Final = "text_completion"
OPERATION_GENERATE_CONTENT: Final = "generate_content"
OPERATION_EMBEDDINGS: Final = "embeddings"
OPERATION_CREATE_AGENT: Final = "create_agent"
OPERATION_RETRIEVAL: Final = "retrieval"
"""A retrieval or embedding call, as the anatomy names it (a phase of its own)."""
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""The provider, before the conventions renamed it ``gen_ai.provider.name``."""
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
"""Output tokens, by the conventions' older name (OpenLLMetry still writes it)."""
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
"""Input tokens, by the conventions' older name."""

TRACELOOP_SPAN_KIND: Final = "traceloop.span.kind"
"""OpenLLMetry / Traceloop: ``workflow``, ``task``, ``agent`` or ``tool``."""
TRACELOOP_ENTITY_NAME: Final = "traceloop.entity.name"
TRACELOOP_IS_STREAMING: Final = "gen_ai.is_streaming"
"""OpenLLMetry (Traceloop): the call streamed; it records no time to first token."""
TRACELOOP_LLM_REQUEST_TYPE: Final = "llm.request.type"
"""OpenLLMetry: ``chat``, ``completion``, ``embedding``..."""

OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
"""OpenInference: ``LLM``, ``TOOL``, ``AGENT``, ``CHAIN``, ``RETRIEVER``, ``EMBEDDING``, ``RERANKER``..."""
OPENINFERENCE_LLM_MODEL_NAME: Final = "llm.model_name"
OPENINFERENCE_LLM_TOKEN_COUNT_COMPLETION: Final = "llm.token_count.completion"
OPENINFERENCE_LLM_TOKEN_COUNT_PROMPT: Final = "llm.token_count.prompt"
OPENINFERENCE_TOOL_NAME: Final = "tool.name"
OPENINFERENCE_LLM_IS_STREAMING: Final = "llm.is_streaming"
OPENINFERENCE_LLM_INVOCATION_PARAMETERS: Final = "llm.invocation_parameters"
"""OpenInference: the call's parameters as JSON text; ``"stream": true`` there for a streamed call."""
ANTHROPIC_REQUEST_ID: Final = "anthropic.request.id"
"""The anthropic SDK's own spans carry it; they mark a streamed call with ``gen_ai.request.stream``."""

CLAUDE_CODE_INTERACTION: Final = "claude_code.interaction"
"""The Claude Code CLI's span of one turn of its agent (``invoke_agent``): under the Agent SDK's session span,
a second record of that agent."""
CLAUDE_CODE_REQUEST_ID: Final = "request_id"
"""The Claude Code CLI's ``claude_code.llm_request`` spans: the request's id, which they also write as
``gen_ai.response.id`` (not the message id other instrumentations write there)."""
CLAUDE_CODE_TTFT_MS: Final = "ttft_ms"
"""The Claude Code CLI's ``claude_code.llm_request``: milliseconds to the first stream event (``message_start``),
not to the first token."""
CLAUDE_CODE_SPAN_TYPE: Final = "span.type"
"""The Claude Code CLI's kind of span (``llm_request``, ``tool``, ``interaction``): Claude Code 2.1.142 writes no
``gen_ai.operation.name``, and its calls are known by this."""
CLAUDE_CODE_LLM_REQUEST: Final = "llm_request"
CLAUDE_CODE_INTERACTION_TYPE: Final = "interaction"
CLAUDE_CODE_TOOL_TYPE: Final = "tool"
CLAUDE_CODE_TOOL_NAME: Final = "tool_name"
"""The Claude Code CLI's ``claude_code.tool``: the tool's name (2.1.142 writes no ``gen_ai.tool.name``)."""
CLAUDE_CODE_OUTPUT_TOKENS: Final = "output_tokens"
CLAUDE_CODE_INPUT_TOKENS: Final = "input_tokens"
CLAUDE_CODE_CACHE_READ_TOKENS: Final = "cache_read_tokens"
CLAUDE_CODE_CACHE_CREATION_TOKENS: Final = "cache_creation_tokens"
"""The Claude Code CLI's ``claude_code.llm_request``: its usage as the API reports it (input without the cache's
reads and writes). Claude Code 2.1.142 writes only these; 2.1.332 the ``gen_ai.usage.*`` too."""

STREAMING_ATTRIBUTES: Final = (GEN_AI_REQUEST_STREAM, TRACELOOP_IS_STREAMING, OPENINFERENCE_LLM_IS_STREAMING)
"""Any of these true: the LLM call streamed its answer."""

OTEL_STATUS_CODE: Final = "otel.status_code"
"""Jaeger's tag for the span status (``OK`` / ``ERROR``)."""
OTEL_SCOPE_NAME: Final = "otel.scope.name"
"""The tag a span's instrumentation scope becomes outside OTLP (Jaeger's API v1, Zipkin)."""
OTEL_LIBRARY_NAME: Final = "otel.library.name"
"""The same, as older exporters name it."""
JAEGER_SPAN_KIND: Final = "span.kind"
JAEGER_ERROR: Final = "error"

# --- metrics ---------------------------------------------------------------------------------------------

METRIC_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_CLIENT_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
METRIC_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"

TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"

# The newest GenAI conventions' metrics, emitted instead of gen_ai.client.token.usage when
# OTEL_SEMCONV_STABILITY_OPT_IN holds gen_ai_latest_experimental (open-telemetry/semantic-conventions-genai,
# model/gen-ai/token-metrics.yaml and metrics.yaml).
METRIC_INFERENCE_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
METRIC_INFERENCE_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"
METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.cache_write.input_tokens"
METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.reasoning.output_tokens"
METRIC_INFERENCE_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
METRIC_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"
METRIC_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
METRIC_WORKFLOW_DURATION: Final = "gen_ai.workflow.duration"
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"
TOKEN_MODALITY_TEXT: Final = "text"
TOKEN_MODALITY_UNKNOWN: Final = "unknown"
"""The modality of a usage counter's 0 when the call received no usage at all (it failed before)."""

# The fleet view: each finished trace's anatomy as metrics (anatomy.metrics.AnatomyMetricsProcessor).
METRIC_ANATOMY_TRACE_DURATION: Final = "agent_anatomy.trace.duration"
METRIC_ANATOMY_PHASE_DURATION: Final = "agent_anatomy.phase.duration"
METRIC_ANATOMY_TIME_TO_FIRST_TOKEN: Final = "agent_anatomy.llm.time_to_first_token"
METRIC_ANATOMY_TIME_TO_FIRST_TEXT: Final = "agent_anatomy.llm.time_to_first_text"
METRIC_ANATOMY_TIME_PER_OUTPUT_TOKEN: Final = "agent_anatomy.llm.time_per_output_token"
METRIC_ANATOMY_CRITICAL_PATH: Final = "agent_anatomy.critical_path.duration"
METRIC_ANATOMY_SAVING_AVAILABLE: Final = "agent_anatomy.whatif.saving"
METRIC_ANATOMY_LEVER_SAVED: Final = "agent_anatomy.lever.saved"
METRIC_ANATOMY_TRACES_DROPPED: Final = "agent_anatomy.processor.dropped"
ANATOMY_PHASE: Final = "anatomy.phase"
"""On the phase and critical-path metrics: the phase (``llm_time_to_first_token``, ``tool``, ...)."""
ANATOMY_WHATIF_KIND: Final = "anatomy.whatif.kind"
"""``parallelise``, ``route``, ``cache`` or ``stream``."""
ANATOMY_LEVER: Final = "anatomy.lever"
LEVER_PARALLEL: Final = "parallel_tools"
LEVER_CACHE: Final = "cache"
ANATOMY_DROP_REASON: Final = "anatomy.drop.reason"
DROP_TRACES_IN_FLIGHT: Final = "traces_in_flight"
"""More traces waiting for their root than the processor holds: the oldest is dropped."""
DROP_SPANS_PER_TRACE: Final = "spans_per_trace"
"""A span beyond the most one trace may hold (counted once per trace, which is analysed without them)."""
DROP_LATE: Final = "late"
"""A span that ended after its trace was analysed."""
DROP_FAILED: Final = "failed"
"""A trace whose analysis failed (logged once)."""


READ_ONLY: Final = frozenset(
    {
        GEN_AI_SYSTEM,
        GEN_AI_USAGE_COMPLETION_TOKENS,
        TRACELOOP_IS_STREAMING,
    }
)
"""``gen_ai.*`` names the anatomy reads in other instrumentations' traces and never writes."""

NEWER_THAN_REGISTRY: Final = {
    GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: "semantic-conventions-genai model/gen-ai/registry.yaml (was "
    "gen_ai.usage.cache_creation.input_tokens)",
    GEN_AI_TOKEN_MODALITY: "semantic-conventions-genai model/gen-ai/registry.yaml",
    METRIC_INFERENCE_USAGE_INPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INFERENCE_USAGE_OUTPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INFERENCE_OPERATION_INPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS: "semantic-conventions-genai model/gen-ai/token-metrics.yaml",
    METRIC_INVOKE_AGENT_DURATION: "semantic-conventions-genai model/gen-ai/metrics.yaml",
    METRIC_EXECUTE_TOOL_DURATION: "semantic-conventions-genai model/gen-ai/metrics.yaml",
    METRIC_WORKFLOW_DURATION: "semantic-conventions-genai model/gen-ai/metrics.yaml",
}
"""``gen_ai.*`` names the project writes that the released ``opentelemetry-semantic-conventions`` registry
does not hold yet, with where the newer conventions define them (checked by the conformance test)."""


def span_name(operation: str, target: str | None) -> str:
    """``{operation} {target}``, the GenAI span-name shape; the bare operation when there is no target."""
    return f"{operation} {target}" if target else operation
