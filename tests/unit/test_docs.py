"""The docs stay what a newcomer can use: a short README whose links resolve, generated benchmark
tables that match the recorded history, and no name for the original system outside its page."""

from __future__ import annotations

import re
from pathlib import Path

from modelserve.benchmarks import docs_tables, history

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "model_repository" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert first_block.strip().splitlines()[0].startswith("make demo")
    assert first_block.strip().splitlines()[1].startswith("make test")


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_benchmark_results_page_is_generated_from_the_history():
    runs = history.read(ROOT / "benchmarks" / "results" / "history.jsonl")
    assert runs, "the committed history has runs"
    page = (ROOT / "docs" / "benchmark-results.md").read_text()
    assert page == docs_tables.render(runs), "run `python -m modelserve.benchmarks.docs_tables`"
    for run in runs:
        assert run["run_id"] in page and str(run["machine"]["commit"]) in page


def test_the_original_system_is_named_on_its_own_page_only():
    code = [
        p
        for d in ("api", "client", "contracts", "export", "serve", "monitor", "modelserve", "benchmarks")
        for p in (ROOT / d).rglob("*.py")
    ]
    mentions = [
        str(p.relative_to(ROOT)) for p in [*PAGES, *code] if re.search(r"\bthe seed\b", p.read_text(), re.I)
    ]
    assert mentions == []
