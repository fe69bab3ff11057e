"""Tiny random-weight BERT models with an offline WordPiece vocabulary, saved like hub models."""

from __future__ import annotations

import string
from pathlib import Path

WORDS = (
    "the a an is are was on in of and to it this that not no good bad great terrible movie film cat "
    "kitten dog mat rug sits rests animal man woman john mary smith paris london acme corp works lives likes"
).split()
LABELS = {
    "sentiment": ("negative", "positive"),
    "nli": ("contradiction", "neutral", "entailment"),
    "ner": ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
}


def vocabulary() -> list[str]:
    letters = list(string.ascii_lowercase + string.digits)
    tokens = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *WORDS,
        *".,!?'",
        *letters,
        *(f"##{c}" for c in letters),
    ]
    return list(dict.fromkeys(tokens))


def save_tiny_model(task: str, directory: Path, *, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT for ``task`` (sentiment | nli | ner) with its tokenizer, in ``directory``."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertForTokenClassification,
        BertTokenizerFast,
    )

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary()) + "\n")
    labels = LABELS[task]
    config = BertConfig(  # type: ignore[no-untyped-call]
        vocab_size=len(vocabulary()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        pad_token_id=0,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(seed)
    cls = BertForTokenClassification if task == "ner" else BertForSequenceClassification
    cls(config).eval().save_pretrained(directory)  # type: ignore[no-untyped-call]
    tokenizer = BertTokenizerFast(  # type: ignore[no-untyped-call]
        vocab_file=str(vocab_file), do_lower_case=True, model_max_length=64
    )
    tokenizer.save_pretrained(directory)
    return directory
