"""A key in a URL never reaches a log line, whatever the spelling or encoding of its name."""

from __future__ import annotations

import logging

import pytest

from modelserve.api.auth import RedactSecrets, redact_query

KEY = "s3cr3t-KEY"


@pytest.mark.parametrize(
    "query",
    [
        f"api_key={KEY}",
        f"api%5Fkey={KEY}",
        f"API_KEY={KEY}",
        f"Api%5FKey={KEY}",
        f"api-key={KEY}",
        f"x-api-key={KEY}",
        f"apikey={KEY}",
        f"token={KEY}",
        f"access_token={KEY}",
        f"model=m&api%5fkey={KEY}&x=1",
        f"model=m;API_KEY={KEY}",
    ],
)
def test_secret_named_parameters_are_blanked(query):
    line = f'1.2.3.4:5 - "GET /ws/metrics?{query} HTTP/1.1" 403'
    redacted = redact_query(line)
    assert KEY not in redacted and "=***" in redacted


def test_other_parameters_and_paths_are_left_alone():
    line = '"GET /v1/monitoring/m/report?window=50&since_s=10 HTTP/1.1" 200'
    assert redact_query(line) == line
    assert redact_query("no query here") == "no query here"


def test_the_log_filter_blanks_arguments_and_messages():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", f"/ws/metrics?model=m&Api%5FKey={KEY}", "1.1", 101),
        None,
    )
    RedactSecrets().filter(record)
    assert KEY not in record.getMessage()
    plain = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, f"refused /ws/metrics?API_KEY={KEY}", (), None
    )
    RedactSecrets().filter(plain)
    assert KEY not in plain.getMessage()
