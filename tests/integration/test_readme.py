"""The README as a new user runs it: every shell and Python block, in order, in an empty folder,
against the real server the README starts (`modelserve up`), and the demo's output compared with
the one the README shows.

Only the ports change: the README's 8000/8001/8002/8080 become free ones (the same numbers in
every block), so the test runs beside other servers. `make demo` is what the Makefile's demo
target runs once set up (`modelserve demo`); `make test` is the command running this test.
curl runs with `--fail-with-body`, so an HTTP error fails its block.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelserve.serve.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002, "api": 8080}


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


def blocks(markdown: str) -> list[Block]:
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```$", markdown, flags=re.S | re.M):
        line = markdown.count("\n", 0, match.start()) + 1
        found.append(Block(match.group(1), match.group(2), line))
    return found


class Sandbox:
    """An empty folder with the project's virtualenv at `.venv`, as after `make setup`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / ".venv").symlink_to(Path(sys.prefix))
        self.ports = {k: free_port() for k in README_PORTS}
        self.env = {
            **os.environ,
            "MODELSERVE_HTTP_PORT": str(self.ports["http"]),
            "MODELSERVE_GRPC_PORT": str(self.ports["grpc"]),
            "MODELSERVE_METRICS_PORT": str(self.ports["metrics"]),
            "MODELSERVE_API_PORT": str(self.ports["api"]),
            # Where the CLI's --url defaults to the README's 127.0.0.1:8001.
            "MODELSERVE_TRITON_URL": f"127.0.0.1:{self.ports['grpc']}",
        }
        self.env.pop("MODELSERVE_REPOSITORY", None)
        self.demo_output = ""

    def local(self, text: str) -> str:
        """The README's port numbers as this sandbox's."""
        for name, port in README_PORTS.items():
            text = re.sub(rf"(?<=[:=\s]){port}\b", str(self.ports[name]), text)
        return text

    def readme(self, text: str) -> str:
        """This sandbox's port numbers as the README's (to compare output)."""
        for name, port in README_PORTS.items():
            text = re.sub(rf"(?<=:){self.ports[name]}\b", str(port), text)
        return text

    def bash(self, block: Block, timeout: float = 600) -> str:
        prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 60 "$@"; }\n'
        return self._run(["bash", "-c", prelude + self.local(block.text)], block, timeout)

    def python(self, block: Block, timeout: float = 300) -> str:
        return self._run([str(self.path / ".venv/bin/python"), "-c", self.local(block.text)], block, timeout)

    def _run(self, argv: list[str], block: Block, timeout: float) -> str:
        done = subprocess.run(
            argv, cwd=self.path, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, (
            f"{block.where} failed ({done.returncode}):\n{block.text}\n--- stdout\n{done.stdout[-3000:]}"
            f"\n--- stderr\n{done.stderr[-3000:]}"
        )
        return done.stdout


@pytest.fixture(scope="module")
def readme_blocks() -> list[Block]:
    return [b for b in blocks(README.read_text()) if b.lang in ("bash", "python", "")]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, readme_blocks: list[Block]) -> Sandbox:
    """After `make demo` (what its recipe runs once set up): the demo set exported."""
    box = Sandbox(tmp_path_factory.mktemp("readme"))
    box.demo_output = box.bash(Block("bash", ".venv/bin/modelserve demo\n", readme_blocks[0].line))
    return box


@pytest.fixture(scope="module")
def up(sandbox: Sandbox, readme_blocks: list[Block]) -> Iterator[subprocess.Popen[str]]:
    (start,) = [b for b in readme_blocks if b.lang == "bash" and "modelserve up" in b.text]
    command = sandbox.local(start.text.strip())
    assert command == ".venv/bin/modelserve up", f"{start.where}: the test starts exactly this"
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=sandbox.path,
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{sandbox.ports['api']}"
    deadline = time.monotonic() + 240
    while True:
        assert proc.poll() is None, f"`modelserve up` exited:\n{proc.stdout.read() if proc.stdout else ''}"
        assert time.monotonic() < deadline, "`modelserve up` was not ready within 240 s"
        try:
            if httpx.get(f"{api}/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    yield proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)


def test_the_first_commands_are_make_demo_and_make_test(readme_blocks: list[Block]) -> None:
    first = readme_blocks[0]
    commands = [line.split("#")[0].strip() for line in first.text.splitlines()]
    assert commands == ["make demo", "make test"], first.where
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: setup\n\t\$\(BIN\)/modelserve demo$", makefile, flags=re.M)
    assert re.search(r"^test: lint typecheck\n\t\$\(BIN\)/pytest -q$", makefile, flags=re.M)
    assert (ROOT / ".ci/run").read_text().rstrip().endswith("make test")


def test_make_demo_prints_what_the_readme_shows(sandbox: Sandbox, readme_blocks: list[Block]) -> None:
    shown = readme_blocks[1]
    assert shown.lang == "" and shown.text.startswith("exporting demo models"), shown.where
    assert sandbox.readme(sandbox.demo_output) == shown.text


def test_every_block_runs_as_written(
    sandbox: Sandbox, readme_blocks: list[Block], up: subprocess.Popen[str]
) -> None:
    """In order, after the server start: each shell block exits 0 (an HTTP error fails curl), each
    Python block runs."""
    ran = 0
    for block in readme_blocks[2:]:
        if "modelserve up" in block.text:
            continue  # running: the `up` fixture
        if block.lang == "bash":
            sandbox.bash(block)
        elif block.lang == "python":
            sandbox.python(block)
        else:
            continue
        ran += 1
    assert ran >= 4, f"only {ran} blocks ran: the README test no longer finds the README's examples"
