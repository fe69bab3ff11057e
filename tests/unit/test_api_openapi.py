"""Every HTTP route documents its answer: /docs shows a named schema, not ``dict``."""

from __future__ import annotations

from typing import Any

from modelserve.api.app import create_app
from modelserve.serving.settings import ApiSettings


def test_every_route_documents_its_answer_with_a_named_schema_or_a_media_type(tmp_path):
    schema = create_app(ApiSettings(repository=tmp_path, monitoring=False)).openapi()
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 20
    undocumented = []
    for path, method, op in operations:
        ok: dict[str, Any] = next((op["responses"][c] for c in ("200", "201") if c in op["responses"]), {})
        content = ok.get("content", {})
        json_schema = content.get("application/json", {}).get("schema")
        named = json_schema is not None and "$ref" in json_schema
        other_media = any(media != "application/json" for media in content)
        if not (named or other_media):
            undocumented.append(f"{method.upper()} {path}")
    assert undocumented == []
