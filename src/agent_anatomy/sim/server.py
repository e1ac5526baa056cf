"""The simulated Anthropic Messages API: an aiohttp app, and a server you can start in-process.

``make_app()`` gives the aiohttp application (``POST /v1/messages``); ``SimServer`` runs it on a
background thread with its own event loop, on 127.0.0.1 and a free port by default, for tests and the
demo; ``agent-anatomy sim`` runs it in the foreground. Events of a stream are written on an absolute
schedule from the moment the request arrived, so injected latencies hold under concurrent load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Final

from .. import catalogue
from ..errors import MissingDependencyError, SimulatorError
from .platforms import Platform, Route, frame, route, stream_content_type
from .profiles import SimProfile, Timing, seeded_rng
from .prompt_cache import PromptCache
from .protocol import (
    Block,
    Pace,
    RequestError,
    apply_headers,
    betas,
    error_body,
    estimate_tokens,
    message_body,
    new_id,
    stream_events,
    validate_request,
)
from .scenarios import DEFAULT_SCENARIO, Scenario, conversation_depth, plan_answer, plan_thinking
from .threads import ThreadStore

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("the simulated Anthropic API", extra="sim", module="aiohttp") from exc

__all__ = ["DEFAULT_HOST", "ReceivedRequest", "SimServer", "make_app"]

_logger = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
_RECEIVED_KEPT: Final = 1000
_BATCHES_KEPT: Final = 100
MODELS: Final = catalogue.MODELS
"""The models ``GET /v1/models`` lists; any id of a known line is answered, listed or not."""
HEADER_SCENARIO: Final = "x-sim-scenario"
"""Names the scenario (of those the server holds) a request is answered by; ``metadata.user_id`` of
``scenario:NAME`` does the same for a client that cannot set headers."""
_ISSUED_KEPT: Final = 100_000


@dataclass(frozen=True)
class ReceivedRequest:
    """What arrived at the simulator: for tests that check what a client puts on the wire."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Header names in lower case."""
    arrived_ns: int = 0
    """When it arrived (``time.time_ns()``): tests set a client's own timestamps against it."""


class _State:
    """Per-app mutable state: the scenarios, prompt-cache prefixes seen, request counters, recent requests, and
    the turn at which each tool-use id was handed out (so a conversation's depth is known however little of it
    the agent resends)."""

    def __init__(self, scenario: Scenario, scenarios: Mapping[str, Scenario]) -> None:
        self.scenario = scenario
        self.scenarios = dict(scenarios)
        self.issued: OrderedDict[str, int] = OrderedDict()
        self.threads = ThreadStore()
        self.prompt_cache = PromptCache()
        self.requests = 0
        self.in_flight = 0
        self.received: deque[ReceivedRequest] = deque(maxlen=_RECEIVED_KEPT)
        self.batches: OrderedDict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = OrderedDict()

    def scenario_for(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Scenario:
        """The scenario the request names (header, then metadata), else the server's; RequestError for a name
        the server does not hold."""
        name = headers.get(HEADER_SCENARIO)
        metadata = body.get("metadata")
        if name is None and isinstance(metadata, Mapping) and str(metadata.get("user_id", "")).startswith("scenario:"):
            name = str(metadata["user_id"]).removeprefix("scenario:")
        if name is None:
            return self.scenario
        if name not in self.scenarios:
            held = ", ".join(sorted(self.scenarios)) or "none"
            raise RequestError(400, f"scenario {name!r} is not one this simulator holds (it holds: {held})")
        return self.scenarios[name]

    def remember(self, blocks: list[Block], depth: int) -> None:
        for block in blocks:
            if block.tool_id is not None:
                self.issued[block.tool_id] = depth
        while len(self.issued) > _ISSUED_KEPT:
            self.issued.popitem(last=False)


class _Simulator:
    """The request handling of the simulated API, shared by ``make_app`` and ``SimServer``."""

    def __init__(self, profile: SimProfile, scenario: Scenario, scenarios: Mapping[str, Scenario]) -> None:
        self.profile = profile
        self.state = _State(scenario, scenarios)

    async def dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        """Routing for the low-level server: the two endpoints, and Anthropic's 404 for anything else."""
        self.state.received.append(
            ReceivedRequest(
                request.method, request.path, {k.lower(): v for k, v in request.headers.items()}, time.time_ns()
            )
        )
        try:
            found = route(request.method, request.path)
            if found is not None and found.endpoint == "messages":
                return await self.messages(request, found)
            if found is not None:
                return await self.count_tokens(request, found)
            if request.method == "GET" and request.path == "/health":
                return await self.health(request)
            if request.method in ("GET", "HEAD") and request.path == "/api/hello":  # the Claude Code CLI's probe
                return web.json_response({"message": "hello"})
            if request.path.startswith("/v1/models") and request.method == "GET":
                return self.models(request)
            if request.path.startswith("/v1/messages/batches"):
                return await self.batches(request)
            return _error_response(
                404, f"{request.method} {request.path} is not an endpoint of the simulator", new_id("req")
            )
        finally:
            if isinstance(request.protocol, _StampingRequestHandler):
                request.protocol.arrived_at = None  # the next request on this connection stamps afresh

    async def health(self, request: web.BaseRequest) -> web.Response:
        return web.json_response({"status": "ok", "requests": self.state.requests, "in_flight": self.state.in_flight})

    async def messages(self, request: web.BaseRequest, where: Route | None = None) -> web.StreamResponse:
        where = where or Route("anthropic", "messages")
        received = _arrival_time(request)
        # Yield before any work, so that under a burst the loop goes back to stamping the arrivals of
        # the requests behind this one instead of planning this one's answer first.
        await asyncio.sleep(0)
        state, profile = self.state, self.profile
        request_id = new_id("req")
        state.requests += 1
        state.in_flight += 1
        try:
            if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
                return _error_response(401, "x-api-key header is required", request_id)
            try:
                enabled = betas(request.headers.get("anthropic-beta"))
                raw = _on_platform(await _read_json(request), where)
                body = validate_request(state.threads.expand(raw, enabled) if isinstance(raw, dict) else raw, enabled)
                if not profile.serves(body["model"]):
                    raise RequestError(404, f"model: {body['model']}")
                scenario = state.scenario_for(body, request.headers)
                timing = apply_headers(profile.draw(body["model"]), request.headers)
            except RequestError as exc:
                return _error_response(exc.status, exc.message, request_id, exc.details)
            if timing.header_delay_ms:
                await _sleep_until(received + timing.header_delay_ms / 1000)
            if timing.status is not None:
                return _error_response(timing.status, None, request_id)
            answer = self._answer(body, timing, request_id, received, where.platform, scenario)
            state.threads.keep(body, answer.message_id, answer.blocks)
            if body.get("stream"):
                return await _stream(request, answer)
            await _sleep_until(answer.first_token_at + answer.thinking_s + answer.generation_s)
            return web.json_response(answer.body(), headers={"request-id": request_id})
        finally:
            state.in_flight -= 1

    def _answer(
        self,
        body: Mapping[str, Any],
        timing: Timing,
        request_id: str,
        received: float,
        platform: Platform,
        scenario: Scenario | None = None,
    ) -> _Answer:
        """Everything about a validated request's answer: reasoning, content, usage, schedule."""
        rng = seeded_rng(self.profile.seed, request_id)
        message_id = new_id("msg")
        thinking, thinking_tokens = plan_thinking(body, timing, rng)
        depth = conversation_depth(body["messages"], self.state.issued)
        plan = plan_answer(body, scenario or self.state.scenario, timing.output_tokens, rng, depth)
        self.state.remember(plan.blocks, depth)
        input_tokens = estimate_tokens({k: body.get(k) for k in ("system", "tools", "messages")})
        cache = self.state.prompt_cache.use(body, input_tokens, message_id)
        usage: dict[str, Any] = {
            **cache.usage(),
            "output_tokens": plan.output_tokens + thinking_tokens,
            "service_tier": "standard",
        }
        if body.get("speed") is not None:
            usage["speed"] = body["speed"]
        if thinking:
            usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
        timing = timing.with_prompt(cache.uncached + cache.written, cache.read, catalogue.CACHE_READ_SHARE)
        if body.get("speed") == "fast" and timing.generation_ms is None:
            timing = replace(timing, tokens_per_s=timing.tokens_per_s * catalogue.FAST_MODE_SPEEDUP)
        return _Answer(
            request_id,
            received,
            timing,
            body["model"],
            thinking + plan.blocks,
            plan.stop_reason,
            usage,
            stop_sequence=plan.stop_sequence,
            thinking_tokens=thinking_tokens,
            platform=platform,
            message_id=message_id,
            diagnostics=cache.diagnostics,
        )

    async def count_tokens(self, request: web.BaseRequest, where: Route) -> web.Response:
        """``messages.count_tokens``: the input tokens the request would be billed, answered at once."""
        request_id = new_id("req")
        try:
            body = await _read_json(request)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise RequestError(400, "messages: Field required")
        except RequestError as exc:
            return _error_response(exc.status, exc.message, request_id)
        tokens = estimate_tokens({k: body.get(k) for k in ("system", "tools", "messages")})
        return web.json_response({"input_tokens": tokens}, headers={"request-id": request_id})

    def models(self, request: web.BaseRequest) -> web.Response:
        """``models.list`` and ``models.retrieve``, over the models the simulator advertises."""
        request_id = new_id("req")
        model_id = request.path.removeprefix("/v1/models").strip("/")
        if model_id:
            return web.json_response(_model_info(model_id), headers={"request-id": request_id})
        data = [_model_info(model) for model in MODELS]
        page = {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
        return web.json_response(page, headers={"request-id": request_id})

    async def batches(self, request: web.BaseRequest) -> web.StreamResponse:
        """Message batches: created already ended (answers planned at once, with no latency), retrieved,
        and their results served as JSON lines."""
        request_id = new_id("req")
        parts = request.path.removeprefix("/v1/messages/batches").strip("/").split("/")
        if request.method == "POST" and parts == [""]:
            return await self._create_batch(request, request_id)
        stored = self.state.batches.get(parts[0])
        if request.method != "GET" or stored is None or len(parts) > 2 or parts[1:] not in ([], ["results"]):
            return _error_response(404, f"{request.method} {request.path}: no such message batch", request_id)
        batch, results = stored
        if parts[1:] == ["results"]:
            lines = "".join(json.dumps(result, separators=(",", ":")) + "\n" for result in results)
            return web.Response(text=lines, content_type="application/binary", headers={"request-id": request_id})
        return web.json_response(batch, headers={"request-id": request_id})

    async def _create_batch(self, request: web.BaseRequest, request_id: str) -> web.Response:
        try:
            body = await _read_json(request)
            requests = body.get("requests") if isinstance(body, dict) else None
            if not isinstance(requests, list) or not requests:
                raise RequestError(400, "requests: Field required")
            results = []
            for index, item in enumerate(requests):
                if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
                    raise RequestError(400, f"requests.{index}.custom_id: Field required")
                params = validate_request(item.get("params"))
                if not self.profile.serves(params["model"]):
                    raise RequestError(404, f"requests.{index}.params.model: {params['model']}")
                timing = self.profile.draw(params["model"])
                answer = self._answer(params, timing, new_id("req"), 0.0, "anthropic")
                result = {"type": "succeeded", "message": answer.body()}
                results.append({"custom_id": item["custom_id"], "result": result})
        except RequestError as exc:
            return _error_response(exc.status, exc.message, request_id)
        batch_id = new_id("msgbatch")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batch = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "request_counts": {"processing": 0, "succeeded": len(results), "errored": 0, "canceled": 0, "expired": 0},
            "created_at": now,
            "ended_at": now,
            "expires_at": now,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{request.scheme}://{request.host}/v1/messages/batches/{batch_id}/results",
        }
        batches = self.state.batches
        batches[batch_id] = (batch, results)
        while len(batches) > _BATCHES_KEPT:
            batches.popitem(last=False)
        return web.json_response(batch, headers={"request-id": request_id})


async def _read_json(request: web.BaseRequest) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError(400, "request body is not valid JSON") from None


def _on_platform(body: object, where: Route) -> object:
    """A cloud platform's request body as a first-party one: the model and stream its path names put back."""
    if not isinstance(body, dict):
        return body
    if where.model is not None:
        body = {**body, "model": where.model}
    if where.stream is not None:
        body = {**body, "stream": where.stream}
    return body


def _model_info(model_id: str) -> dict[str, Any]:
    display = " ".join(part.capitalize() for part in model_id.removeprefix("claude-").split("-"))
    return {"type": "model", "id": model_id, "display_name": f"Claude {display}", "created_at": "2026-01-01T00:00:00Z"}


class _StampingRequestHandler(web.RequestHandler):
    """Notes when a request's first bytes arrived, before it waits for the event loop to reach it.

    Under a burst of requests a handler can start tens of milliseconds after its bytes came in;
    latency scheduled from the arrival keeps an injected TTFT what the client sees.
    """

    __slots__ = ("arrived_at",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrived_at: float | None = None

    def data_received(self, data: bytes) -> None:
        if self.arrived_at is None:
            self.arrived_at = asyncio.get_running_loop().time()
        super().data_received(data)


class _StampingServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _StampingRequestHandler(self, loop=asyncio.get_running_loop(), access_log=None)


def _arrival_time(request: web.BaseRequest) -> float:
    """When the request's first bytes arrived; the handler's start where the server did not stamp it."""
    protocol = request.protocol
    if isinstance(protocol, _StampingRequestHandler) and protocol.arrived_at is not None:
        return protocol.arrived_at
    return asyncio.get_running_loop().time()


def make_app(
    profile: SimProfile | None = None,
    scenario: Scenario | None = None,
    *,
    scenarios: Mapping[str, Scenario] | None = None,
) -> web.Application:
    """The simulated API as an aiohttp application, to mount or serve with your own runner (the arguments are
    ``SimServer``'s)."""
    simulator = _Simulator(profile or SimProfile(), scenario or DEFAULT_SCENARIO, scenarios or {})
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_route("*", "/{path:.*}", simulator.dispatch)
    return app


def _error_response(
    status: int, message: str | None, request_id: str, details: Mapping[str, Any] | None = None
) -> web.Response:
    headers = {"request-id": request_id}
    if status == 429:
        headers["retry-after"] = "1"
    return web.json_response(error_body(status, message, request_id, details), status=status, headers=headers)


@dataclass(frozen=True)
class _Answer:
    """Everything decided about one request's answer before the first byte goes out."""

    request_id: str
    received: float
    """Loop time at which the request arrived: every event is scheduled from here."""
    timing: Timing
    model: str
    blocks: list[Block]
    stop_reason: str
    usage: dict[str, Any]
    stop_sequence: str | None = None
    thinking_tokens: int = 0
    platform: Platform = "anthropic"
    message_id: str = field(default_factory=lambda: new_id("msg"))
    diagnostics: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return message_body(
            message_id=self.message_id,
            model=self.model,
            blocks=self.blocks,
            stop_reason=self.stop_reason,
            usage=self.usage,
            stop_sequence=self.stop_sequence,
            diagnostics=self.diagnostics,
        )

    def events(self) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Pace]], list[dict[str, Any]]]:
        return stream_events(
            message_id=self.message_id,
            model=self.model,
            blocks=self.blocks,
            stop_reason=self.stop_reason,
            usage=self.usage,
            stop_sequence=self.stop_sequence,
            diagnostics=self.diagnostics,
        )

    @property
    def first_token_at(self) -> float:
        return self.received + self.timing.ttft_ms / 1000

    @property
    def thinking_s(self) -> float:
        """How long the model reasons before its answer starts: its own seeded duration."""
        return self.timing.thinking_seconds(self.thinking_tokens) if self.thinking_tokens else 0.0

    @property
    def generation_s(self) -> float:
        return self.timing.generation_seconds(self.usage["output_tokens"] - self.thinking_tokens)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _stream(request: web.BaseRequest, answer: _Answer) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": stream_content_type(answer.platform),
            "Cache-Control": "no-cache",
            "request-id": answer.request_id,
        }
    )
    await response.prepare(request)
    try:
        await _write_events(request, response, answer)
    except ConnectionError:  # the client went away (closed or abandoned its stream): nothing to send to
        _logger.debug("sim: client of %s disconnected mid-stream", answer.request_id)
    return response


class _Schedule:
    """When each token of a stream is due: reasoning tokens over the thinking time from the first token,
    then answer tokens over the generation time, plus any injected stall."""

    def __init__(self, answer: _Answer, body: list[tuple[dict[str, Any], Pace]]) -> None:
        self.start = answer.first_token_at
        self.thinking_s = answer.thinking_s
        thinking = sum(1 for _, pace in body if pace == "thinking")
        answering = sum(1 for _, pace in body if pace == "answer")
        self.per_thought = self.thinking_s / thinking if thinking else 0.0
        self.per_token = answer.generation_s / answering if answering else 0.0
        self.thoughts = 0
        self.tokens = 0
        self.stall = 0.0

    def next_due(self, pace: Pace) -> float:
        """When the next event on ``pace`` is due (counting it); None-paced events are due now."""
        if pace == "thinking":
            self.thoughts += 1
            return self.start + (self.thoughts - 1) * self.per_thought + self.stall
        if pace == "answer":
            self.tokens += 1
            return self.start + self.thinking_s + (self.tokens - 1) * self.per_token + self.stall
        return 0.0

    @property
    def end(self) -> float:
        return self.start + self.thinking_s + self.tokens * self.per_token + self.stall


async def _write_events(request: web.BaseRequest, response: web.StreamResponse, answer: _Answer) -> None:
    """Head at once, each token event on its slot after the first-token time, then the tail."""
    timing = answer.timing
    head, body, tail = answer.events()
    platform = answer.platform
    await response.write(b"".join(frame(platform, event) for event in head))
    schedule = _Schedule(answer, body)
    for number, (event, pace) in enumerate(body, start=1):
        if timing.cut_after_events is not None and number > timing.cut_after_events:
            _logger.debug("sim: cutting stream %s after %d events", answer.request_id, number - 1)
            if request.transport is not None:
                request.transport.abort()
            return
        if timing.stall_ms and number == timing.stall_after_events:
            # a real pause of stall_ms here, however late the schedule already is
            planned = schedule.end
            schedule.stall += max(asyncio.get_running_loop().time() - planned, 0.0) + timing.stall_ms / 1000
        if pace is not None:
            await _sleep_until(schedule.next_due(pace))
        await response.write(frame(platform, event))
    await _sleep_until(schedule.end)
    await response.write(b"".join(frame(platform, event) for event in tail))
    await response.write_eof()


class SimServer:
    """Runs the simulated API on a background thread: ``with SimServer() as sim: sim.base_url``.

    Binds 127.0.0.1 on a free port unless told otherwise. ``start()`` returns once the port is
    listening and raises SimulatorError if it cannot bind. ``scenario`` answers every request that names none
    (the seed article's support agent by default; agents it does not know get the automatic scenario);
    ``scenarios`` are those a request can name with the ``x-sim-scenario`` header or ``metadata.user_id``
    ``scenario:NAME``.
    """

    def __init__(
        self,
        profile: SimProfile | None = None,
        scenario: Scenario | None = None,
        *,
        scenarios: Mapping[str, Scenario] | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
    ) -> None:
        self.profile = profile or SimProfile()
        self.scenario = scenario or DEFAULT_SCENARIO
        self.scenarios = dict(scenarios or {})
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._simulator = _Simulator(self.profile, self.scenario, self.scenarios)

    @property
    def base_url(self) -> str:
        """What to give ``anthropic.Anthropic(base_url=...)``."""
        if not self._ready.is_set():
            raise SimulatorError("the simulator is not running: call start() or use it as a context manager")
        return f"http://{self.host}:{self.port}"

    @property
    def received(self) -> list[ReceivedRequest]:
        """The last requests that arrived (up to 1,000), oldest first, with their headers."""
        return list(self._simulator.state.received)

    def start(self) -> SimServer:
        if self._thread is not None:
            raise SimulatorError("this SimServer was already started; create a new one")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR only: it lets a restarted simulator take a port in TIME_WAIT, and still refuses one
        # that another process listens on (SO_REUSEPORT would let two servers split the requests).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise SimulatorError(f"the simulator cannot listen on {self.host}:{self.port}: {exc.strerror}") from exc
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name="agent-anatomy sim", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise SimulatorError(f"the simulator could not start on {self.host}:{self.port}: {self._error}") from (
                self._error
            )
        if not self._ready.is_set():
            raise SimulatorError("the simulator did not start within 10 s")
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = _new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        loop.run_forever()
        loop.run_until_complete(self._cleanup())
        loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        self._runner = web.ServerRunner(_StampingServer(self._simulator.dispatch), handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=1024).start()
        self._ready.set()

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving; open connections are closed. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed (the ``sim`` extra has it on Linux): it takes a burst of requests in far
    less time, which is what keeps injected latencies exact under load."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
