"""The text kind: texts -> the tokenizer that travels with the version -> a task's answer."""

from __future__ import annotations

from typing import Literal

from modelserve.contracts.model import ContractBase

TextTask = Literal["sentiment", "nli", "ner", "embeddings"]


class TextContract(ContractBase):
    kind: Literal["text"] = "text"
    task: TextTask
    inputs: tuple[str, ...]  # the graph's token inputs, in the order the API sends them
    labels: tuple[str, ...] = ()
    entailment_index: int | None = None  # nli: which logit means "entailment"
    tokenizer: str = "tokenizer"  # directory inside the version
    max_length: int = 512
    pairs: bool = False  # the task takes (text, text) pairs

    @property
    def output(self) -> str:
        return "sentence_embedding" if self.task == "embeddings" else "logits"
