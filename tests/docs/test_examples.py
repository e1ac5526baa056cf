"""Every example in the README and the docs that claims to run is run, and every output shown is checked.

The pages' fences say what they hold (``docs/development.md``, "Examples that cannot rot"):

- ```` ```python ````: a whole program, run in a fresh interpreter against the simulator (``ANTHROPIC_BASE_URL``
  set); it must exit 0. A fragment that is not a program follows ``<!-- skip: next -->``.
- ```` ```console ````: ``$ command`` lines, each followed by what it prints. The command is run by bash and
  its output (stdout and stderr as one) must match what is shown, figures aside: any number stands for any
  number, a hex id for any id, ``...`` for anything, and runs of blank space (line breaks included) for any
  blank space, as timings change a line's wrapping. A last line ``[exit status N]`` says the command fails
  with N; otherwise it must succeed.
- ```` ```sh ````, ```` ```toml ````, unlabelled fences: listings to read, not run.

The examples of one page run in order in one scratch directory, which links ``examples/`` from the checkout,
so a page can make a file with one command and read it with the next. Sybil reads the pages (its Markdown
lexer and its ``skip`` directive); these evaluators run what it finds.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, SkipParser

from agent_anatomy.sim import SimServer

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT_S = 180
EXIT_STATUS = re.compile(r"^\[exit status (\d+)\]$")

_TOKENS = re.compile(
    r"(?P<ellipsis>\.\.\.|…)"
    r"|(?P<id>\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,32}\b)"
    r"|(?P<number>[-+±]?\d+(?:[.,]\d+)*)"
    r"|(?P<space>\s+)"
)
_MATCHES = {"ellipsis": r".*?", "id": r"[0-9a-f]+", "number": r"[-+±]?\d+(?:[.,]\d+)*", "space": r"\s+"}
_BARS = re.compile(r"█+")
"""A bar's length is a figure too: bars are left out of both sides (a share under a cell has none)."""


def output_pattern(shown: str) -> re.Pattern[str]:
    """The pattern an output (as ``printed`` leaves it) must match to be what ``shown`` shows, figures
    aside (see the module's docstring)."""
    shown = printed(shown)
    parts, at = [], 0
    for token in _TOKENS.finditer(shown):
        parts.append(re.escape(shown[at : token.start()]))
        parts.append(_MATCHES[token.lastgroup or "space"])
        at = token.end()
    parts.append(re.escape(shown[at:]))
    return re.compile("".join(parts), re.DOTALL)


def printed(output: str) -> str:
    """An output as it is compared: its lines' trailing blanks and its bars left out."""
    return "\n".join(_BARS.sub("", line).rstrip() for line in output.strip().splitlines())


def first_difference(shown: str, output: str) -> str:
    """The first line of ``shown`` that ``output`` does not match, after the lines before it did."""
    lines = shown.splitlines()
    for count in range(1, len(lines) + 1):
        pattern = re.compile(output_pattern("\n".join(lines[:count])).pattern + r"(?:\s.*)?", re.DOTALL)
        if not pattern.fullmatch(printed(output)):
            return lines[count - 1]
    return "(every line matches: the output goes on past them)"


def commands(block: str) -> Iterator[tuple[str, str, int]]:
    """Each ``$ command`` of a console block (continued over lines ending in a backslash), what it is shown to
    print, and the exit status it is shown to end with."""
    lines = block.splitlines()
    at = 0
    while at < len(lines):
        if not lines[at].startswith("$ "):
            raise ValueError(f"a console block's line {at + 1} is neither a command ($ ...) nor a command's output")
        command = [lines[at][2:]]
        while command[-1].endswith("\\"):
            at += 1
            command.append(lines[at])
        at += 1
        shown = []
        while at < len(lines) and not lines[at].startswith("$ "):
            shown.append(lines[at])
            at += 1
        status = 0
        if shown and (last := EXIT_STATUS.match(shown[-1].strip())):
            status = int(last.group(1))
            shown.pop()
        yield "\n".join(command), "\n".join(shown).strip(), status


def _environment(example: Example) -> dict[str, str]:
    environment: dict[str, str] = example.namespace["environment"]
    return environment


def run_python(example: Example) -> None:
    scratch: Path = example.namespace["scratch"]
    program = scratch / f"example_line_{example.line}.py"
    program.write_text(example.parsed)
    done = subprocess.run(
        [sys.executable, program.name],
        cwd=scratch,
        env=_environment(example),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    where = f"{Path(example.path).relative_to(ROOT)}:{example.line}"
    assert done.returncode == 0, f"the example at {where} exited {done.returncode}:\n{done.stderr[-3000:]}"
    example.namespace["ran"].append(where)


def run_console(example: Example) -> None:
    where = f"{Path(example.path).relative_to(ROOT)}:{example.line}"
    for command, shown, status in commands(example.parsed):
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=example.namespace["scratch"],
            env=_environment(example),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        output = done.stdout
        assert done.returncode == status, (
            f"`{command}` ({where}) exited {done.returncode}, the page says {status}:\n{output[-3000:]}"
        )
        if shown:
            assert output_pattern(shown).fullmatch(printed(output)), (
                f"`{command}` ({where}) no longer prints what the page shows; the first line that differs:\n"
                f"{first_difference(shown, output)}\n--- shown\n{shown}\n--- printed\n{output}"
            )
        example.namespace["checked" if shown else "ran"].append(f"{where}: {command}")


PAGE_READER = Sybil(
    parsers=[
        SkipParser(),
        CodeBlockParser("python", run_python),
        CodeBlockParser("console", run_console),
    ],
)


@pytest.fixture(scope="module")
def environment(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment the pages' examples run in: the checkout's interpreter and commands first on PATH, the
    simulator as the Anthropic API, no OTEL_* of the developer's shell, no colour, 80 columns."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "AGENT_ANATOMY_"))}
    home = tmp_path_factory.mktemp("home")
    return {
        **keep,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), keep.get("PATH", "")]),
        "ANTHROPIC_BASE_URL": sim.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-docs-example",
        "HOME": str(home),
        "NO_COLOR": "1",
        "COLUMNS": "80",
        "PYTHONPATH": "",
    }


def run_page(page: Path, environment: dict[str, str], scratch: Path) -> tuple[list[str], list[str]]:
    """Run a page's examples in order in ``scratch``: what was run, and what was checked against its output."""
    (scratch / "examples").symlink_to(ROOT / "examples")
    document = PAGE_READER.parse(page)
    document.namespace.update(scratch=scratch, environment=environment, ran=[], checked=[])
    for example in document.examples():
        example.evaluate()
    return document.namespace["ran"], document.namespace["checked"]


Outcome = tuple[list[str], list[str]] | Exception


@pytest.fixture(scope="module")
def page_outcomes(
    request: pytest.FixtureRequest, environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, Outcome]:
    """Every selected page run at once, each on a thread of its own: their examples mostly wait on the
    simulator's latency, so together they take about as long as the longest page, not the sum."""
    selected = [
        item.callspec.params["page"]
        for item in request.session.items
        if item.originalname == "test_page_examples" and hasattr(item, "callspec")
    ]

    def outcome(page: Path) -> Outcome:
        try:
            return run_page(page, environment, tmp_path_factory.mktemp(page.stem))
        except Exception as failure:  # reported by the page's own test
            return failure

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(selected))) as pool:
        return dict(zip(selected, pool.map(outcome, selected), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_page_examples(page: Path, page_outcomes: dict[Path, Outcome]) -> None:
    outcome = page_outcomes[page]
    if isinstance(outcome, Exception):
        raise outcome
    ran, checked = outcome
    print(f"{page.relative_to(ROOT)}: {len(ran)} run, {len(checked)} checked against their output")


@pytest.mark.parametrize(
    ("shown", "output", "matches"),
    [
        ("Total: 5,721 ms", "Total: 4,980 ms", True),
        ("Total: 5,721 ms", "Total: 4,980 s", False),
        ("-580 ms (-24%)", "+12 ms (+3%)", True),
        ("-2 ms   now streamed", "±0 ms   now streamed", True),
        ("code  40 ms   1.5 %\ngaps", "code  133 ms   4.3 %  █\ngaps", True),
        ("claude-sonnet-4-6", "claude-haiku-4-5", False),
        ("trace aad50288 · support-agent", "trace 4bf92f35 · support-agent", True),
        ("trace aad50288 · support-agent", "trace 4bf92f35 · billing-agent", False),
        ("tools  1,112 ms  23.5 %  ██████\ncache  0 ms", "tools  12 ms  0.5 %  \ncache  0 ms", True),
        ("LLM call 1\n...\nTotal: 1 ms", "LLM call 1\nLLM call 2\nTool calls\nTotal: 9 ms", True),
        ("a long line that\n  wraps here", "a long line that wraps\n  here", True),
        ("a long line that wraps", "a long line, that wraps", False),
    ],
)
def test_output_pattern(shown: str, output: str, matches: bool) -> None:
    assert bool(output_pattern(shown).fullmatch(printed(output))) is matches


def test_the_first_line_that_differs_is_named() -> None:
    shown = "Total: 5 ms\nWhere the time went\n  tools  3 ms"
    assert first_difference(shown, "Total: 7 ms\nWhere the time went\n  agent  3 ms") == "  tools  3 ms"
    assert first_difference(shown, "Total: 7 ms\nWhere the time went\n  tools  3 ms\n  more") == (
        "(every line matches: the output goes on past them)"
    )


def test_commands_split_a_console_block() -> None:
    block = "$ agent-anatomy check runs.jsonl \\\n    --budget b.toml\nAll 5 limits met\n$ false\n[exit status 1]"
    assert list(commands(block)) == [
        ("agent-anatomy check runs.jsonl \\\n    --budget b.toml", "All 5 limits met", 0),
        ("false", "", 1),
    ]
    with pytest.raises(ValueError, match="neither a command"):
        list(commands("agent-anatomy report"))


def test_every_page_is_reachable_and_its_console_blocks_are_commands() -> None:
    """Every page is in the site's navigation and in llms.txt; the README's links lead to files that exist
    (mkdocs --strict checks the site's own); a console block holds commands, since output shown without its
    command cannot be checked."""
    nav = (ROOT / "mkdocs.yml").read_text()
    llms = (ROOT / "docs" / "llms.txt").read_text()
    for page in PAGES:
        text = page.read_text()
        for block in re.findall(r"^```console\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            assert block.startswith("$ "), f"{page.name}: a console block that does not start with a command"
        if page.parent.name == "docs":
            assert f": {page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"
            assert page.name == "index.md" or f"]({page.name})" in llms, f"{page.name} is not in docs/llms.txt"
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert links, "the README links into the docs"
    for link in links:
        assert (ROOT / link).exists(), f"the README links to {link}, which does not exist"
