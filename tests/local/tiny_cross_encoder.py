"""A tiny randomly initialised BERT cross-encoder, built at test time (no weights can be downloaded here).

It proves the CrossEncoder plumbing (pairs in, one score per pair, order kept), never quality.
"""

from __future__ import annotations

import string
from pathlib import Path


def build_tiny_cross_encoder(folder: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase, *string.digits]
    words += [f"##{c}" for c in string.ascii_lowercase + string.digits]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"))
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=1,
        initializer_range=0.5,  # spread the random scores so their order is clear-cut
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "OMNIVEC_RANDOM_WEIGHTS").write_text("random weights: benchmark quality of this model is not a result\n")
    return folder
