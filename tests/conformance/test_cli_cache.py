"""`modelserve serve --cache-config ...` starts Triton with the wheel's response cache; a bad cache
option is one line of error, not a server that never gets ready."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import tritonclient.http as httpclient
from typer.testing import CliRunner

from modelserve.cli.app import app
from tests.conformance import models as m

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (
            "redis,host=localhost",
            "response cache 'redis' is not shipped with this tritonserver (available: local)",
        ),
        ("local", "is not <cache>,<key>=<value>"),
    ],
)
def test_a_cache_option_the_server_cannot_honour_is_one_line_of_error(tmp_path, option, words):
    result = CliRunner().invoke(
        app, ["serve", "-r", str(tmp_path), "--cache-config", option, "--work-dir", str(tmp_path / "w")]
    )
    assert result.exit_code == 1
    assert words in result.output and "Traceback" not in result.output


def test_serve_with_cache_config_answers_repeats_from_the_cache(tmp_path):
    config = m.config_for("cached", m.simple(), 8)
    config.response_cache.enable = True
    m.write(tmp_path / "repo", config, m.simple())
    argv = [
        sys.executable,
        "-m",
        "modelserve",
        "serve",
        "-r",
        str(tmp_path / "repo"),
        "--work-dir",
        str(tmp_path / "w"),
    ]
    argv += [
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--metrics-port",
        "0",
        "--cache-config",
        "local,size=1048576",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        ready = re.search(r"Triton ready: HTTP (\S+)", first)
        assert ready, first + proc.stdout.read()
        with httpclient.InferenceServerClient(ready.group(1)) as client:
            inputs = [httpclient.InferInput(n, [1, 16], "INT32") for n in ("INPUT0", "INPUT1")]
            for tensor in inputs:
                tensor.set_data_from_numpy(np.ones((1, 16), np.int32))
            for _ in range(3):
                client.infer("cached", inputs)
            stats = client.get_inference_statistics("cached")["model_stats"][0]
        assert stats["inference_stats"]["cache_hit"]["count"] == 2 and stats["execution_count"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
