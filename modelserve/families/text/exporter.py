"""Transformers -> ONNX with optimum's exporter, checked against the source model, written with
its tokenizer (the API tokenises; strings never cross Triton).

Tasks: ``sentiment`` and ``nli`` (sequence classification; NLI records its entailment index for
zero-shot classification), ``ner`` (token classification, for entity spans), ``embeddings``
(sentence-transformers: mean pooling and L2 normalisation inside the graph, ``sentence_embedding``).
"""

from __future__ import annotations

import contextlib
import json
import os

# TensorFlow is installed for the vision exports; transformers would then try its Keras 3 path and
# refuse ("Keras 3 ... not yet supported"). This exporter is PyTorch-only: say so before it loads.
os.environ.setdefault("USE_TF", "0")

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from modelserve.export.errors import ExportError, ParityError
from modelserve.export.hf_source import resolve
from modelserve.families.text.contract import TextContract
from modelserve.repository import ModelRepository, WrittenVersion
from modelserve.repository.spec import DynamicBatching, ModelEntry, TensorConfig

logger = logging.getLogger(__name__)

OPSET = 17  # optimum's torch exporter is happiest at <= 20; the NGC release runs <= 21
MAX_BATCH = 64
ATOL = 1e-4
# The last text is longer than any model reads (~450 tokens): the check covers truncation too, so an
# export that truncates elsewhere than its source (MiniLM reads 256 tokens, its tokenizer says 512)
# fails here rather than drifting on long inputs.
SAMPLE_TEXTS = (
    "john smith works at acme corp in london",
    "the movie is good",
    "a cat sits on the mat",
    " ".join(["the quick brown fox jumps over the lazy dog near the river bank"] * 35),
)
SAMPLE_PAIRS = ("a man works", "the film is bad", "an animal rests", "a dog sleeps")
TOKENIZER_DIR = "tokenizer"


@dataclass(frozen=True, kw_only=True)
class Task:
    optimum_task: str
    library: str
    output: str
    kind: str  # "sequence" | "token" | "embedding"
    pairs: bool = False


TASKS = {
    "sentiment": Task(
        optimum_task="text-classification", library="transformers", output="logits", kind="sequence"
    ),
    "nli": Task(
        optimum_task="text-classification",
        library="transformers",
        output="logits",
        kind="sequence",
        pairs=True,
    ),
    "ner": Task(optimum_task="token-classification", library="transformers", output="logits", kind="token"),
    "embeddings": Task(
        optimum_task="feature-extraction",
        library="sentence_transformers",
        output="sentence_embedding",
        kind="embedding",
    ),
}


def _run_optimum(source: Path, out: Path, task: Task) -> None:
    from optimum.exporters.onnx import main_export

    try:
        main_export(
            str(source),
            output=out,
            task=task.optimum_task,
            opset=OPSET,
            device="cpu",
            library_name=task.library,
            do_validation=False,
            no_post_process=True,
        )
    except Exception as exc:  # optimum raises many kinds; the user needs one line
        raise ExportError(f"optimum could not export {source} as {task.optimum_task}: {exc}") from exc


def max_length(source: Path, tokenizer: Any, config: Any) -> int:
    """Tokens the served model reads, as its source does: the tokenizer's limit, the position
    embeddings, and a sentence-transformers model's own ``max_seq_length``."""
    limits = [int(tokenizer.model_max_length), int(getattr(config, "max_position_embeddings", 512))]
    st_config = source / "sentence_bert_config.json"
    if st_config.is_file():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            limits.append(int(json.loads(st_config.read_text())["max_seq_length"]))
    return min(limits)


def _encode(tokenizer: Any, task: Task, limit: int) -> dict[str, np.ndarray]:
    texts, pairs = list(SAMPLE_TEXTS), list(SAMPLE_PAIRS)
    # longest_first, as the API's tokenizer truncates pairs
    options = {"padding": True, "truncation": True, "max_length": limit}
    enc = tokenizer(texts, pairs, **options) if task.pairs else tokenizer(texts, **options)
    return {k: np.asarray(v, dtype=np.int64) for k, v in enc.items()}


def _reference(source: Path, task: Task, texts: dict[str, np.ndarray]) -> np.ndarray:
    """The source framework's answer on the same tokens."""
    import torch

    if task.kind == "embedding":
        from sentence_transformers import SentenceTransformer

        return np.asarray(SentenceTransformer(str(source), device="cpu").encode(list(SAMPLE_TEXTS)))
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    auto = AutoModelForTokenClassification if task.kind == "token" else AutoModelForSequenceClassification
    model = auto.from_pretrained(str(source)).eval()
    with torch.inference_mode():
        return np.asarray(model(**{k: torch.from_numpy(v) for k, v in texts.items()}).logits.numpy())


def _pin_dims(model: onnx.ModelProto, observed: dict[str, tuple[int, ...]], variable_axes: int) -> None:
    """Give symbolic feature dims their observed size (batch and sequence axes stay variable)."""
    for output in model.graph.output:
        shape = observed.get(output.name)
        if shape is None:
            continue
        for axis, dim in enumerate(output.type.tensor_type.shape.dim):
            if axis >= variable_axes and not dim.HasField("dim_value"):
                dim.ClearField("dim_param")
                dim.dim_value = shape[axis]


def check_parity(
    model: onnx.ModelProto, source: Path, task: Task, tokenizer: Any, limit: int
) -> dict[str, Any]:
    texts = _encode(tokenizer, task, limit)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {i.name: texts[i.name] for i in session.get_inputs()}
    got = session.run([task.output], feed)[0]
    ref = _reference(source, task, texts)
    mask = texts["attention_mask"].astype(bool) if task.kind == "token" else np.ones(got.shape[0], dtype=bool)
    diff = float(np.abs(got[mask] - ref[mask]).max())
    if not np.isfinite(diff) or diff > ATOL:
        raise ParityError(
            f"ONNX differs from the source model by {diff:.3g} (allowed {ATOL}) on {len(mask)} texts"
        )
    return {"texts": len(SAMPLE_TEXTS), "max_abs_diff": diff, "tolerance": ATOL, "output": task.output}


def _labels(config: Any) -> tuple[str, ...]:
    id2label = getattr(config, "id2label", None) or {}
    return tuple(str(id2label[i]) for i in sorted(int(k) for k in id2label))


HEADS = {"sequence": "ForSequenceClassification", "token": "ForTokenClassification"}


def _check_head(src: Path, config: Any, task_name: str, task: Task) -> None:
    """The checkpoint's head must be the task's: a sentence classifier exported for NER applied
    its head per token and exported 'fine'; the reverse failed as a puzzling parity error."""
    wanted = HEADS.get(task.kind)
    architectures = [str(a) for a in getattr(config, "architectures", None) or []]
    if wanted is None or not architectures or any(a.endswith(wanted) for a in architectures):
        return
    heads = {kind for kind, suffix in HEADS.items() if any(a.endswith(suffix) for a in architectures)}
    fits = [n for n, t in TASKS.items() if t.kind in heads]
    hint = f"; use --task {' or '.join(fits)}" if fits else ""
    raise ExportError(
        f"{src} is a {', '.join(architectures)} checkpoint, but --task {task_name} needs a "
        f"*{wanted} model{hint}"
    )


def export_transformer(
    repository: ModelRepository | Path,
    name: str,
    source: str,
    task_name: str,
    *,
    random_weights: bool = False,
    version: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> WrittenVersion:
    """``random_weights``: the source holds random initialisation (a tiny test model): recorded so."""
    if task_name not in TASKS:
        raise ExportError(f"unknown task '{task_name}'; choose from {', '.join(TASKS)}")
    task = TASKS[task_name]
    resolved = resolve(source)
    src = resolved.path
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(str(src))
    _check_head(src, config, task_name, task)
    labels = _labels(config) if task.kind != "embedding" else ()
    entailment = {k.lower(): int(v) for k, v in (getattr(config, "label2id", None) or {}).items()}.get(
        "entailment"
    )
    if task_name == "nli" and entailment is None:
        raise ExportError(f"{src}: an NLI model needs an 'entailment' label; it has {list(labels)}")
    with tempfile.TemporaryDirectory(prefix="modelserve-hf-") as tmp:
        out = Path(tmp)
        progress(f"exporting {src} with optimum ({task.optimum_task})")
        _run_optimum(src, out, task)
        model = onnx.load(str(out / "model.onnx"))
        tokenizer = AutoTokenizer.from_pretrained(str(out))  # type: ignore[no-untyped-call]
        limit = max_length(src, tokenizer, config)
        progress("checking parity against the source model")
        parity = check_parity(model, src, task, tokenizer, limit)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        sample = _encode(tokenizer, task, limit)
        inputs = [i.name for i in session.get_inputs()]
        observed = session.run([task.output], {n: sample[n] for n in inputs})[0]
        _pin_dims(model, {task.output: observed.shape}, variable_axes=2 if task.kind == "token" else 1)
        feature_dims = tuple(int(d) for d in observed.shape[1:])
        if task.kind == "token":
            feature_dims = (-1, *feature_dims[1:])
        entry = ModelEntry(
            name=name,
            max_batch_size=MAX_BATCH,
            inputs=tuple(TensorConfig(name=n, data_type="INT64", dims=(-1,)) for n in inputs),
            outputs=(
                TensorConfig(
                    name=task.output,
                    data_type="FP32",
                    dims=feature_dims,
                    label_filename="labels.txt" if labels else None,
                ),
            ),
            dynamic_batching=DynamicBatching(max_queue_delay_us=500),
        )
        tokenizer_files = {
            f"{TOKENIZER_DIR}/{p.name}": p
            for p in out.iterdir()
            if p.is_file() and not p.name.endswith(".onnx")
        }
        return ModelRepository.of(repository).write_version(
            entry,
            model,
            version=version,
            labels=labels or None,
            extra_files=tokenizer_files,
            contract=TextContract(
                source=source,
                provenance=resolved.provenance(random=random_weights),
                framework="transformers",
                task=task_name,  # type: ignore[arg-type]  # checked against TASKS above
                opset=OPSET,
                versions=_versions(),
                inputs=tuple(inputs),
                labels=tuple(labels),
                entailment_index=entailment if task_name == "nli" else None,
                tokenizer=TOKENIZER_DIR,
                max_length=limit,
                pairs=task.pairs,
                preprocessing="tokenise with the tokenizer/ files (padding, truncation to max_length); "
                + (
                    "mean pooling and L2 normalisation are in the graph"
                    if task.kind == "embedding"
                    else "softmax over logits in postprocessing"
                ),
                parity=parity,
            ),
        )


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("torch", "transformers", "optimum-onnx", "onnx", "onnxruntime")}
