"""Write a tiny llama-architecture GGUF with random weights and a byte-level vocabulary: a real
model file for a real llama.cpp, made here, nothing downloaded. Run by the Python that has
``gguf`` and ``numpy`` (tests/e2e/test_real_llama_cpp.py): ``python tiny_gguf.py OUT.gguf``.
"""

from __future__ import annotations

import sys
from typing import Any

import gguf
import numpy as np

WINDOW, WIDTH, FEED_FORWARD, HEADS, LAYERS = 4_096, 64, 128, 4, 1


def main(path: str) -> None:
    # The server's tokenizer: one token a byte (SentencePiece's byte fallback).
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), "▁"]
    kinds = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    kinds += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL]
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny-random")
    writer.add_context_length(WINDOW)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(WIDTH // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(kinds)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_chat_template(
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>"
    )
    random = np.random.default_rng(0)

    def weights(*shape: int) -> Any:
        return (random.standard_normal(shape) * 0.02).astype(np.float32)

    def ones() -> Any:
        return np.ones(WIDTH, dtype=np.float32)

    writer.add_tensor("token_embd.weight", weights(len(tokens), WIDTH))
    writer.add_tensor("output_norm.weight", ones())
    writer.add_tensor("output.weight", weights(len(tokens), WIDTH))
    for layer in range(LAYERS):
        block = f"blk.{layer}."
        writer.add_tensor(block + "attn_norm.weight", ones())
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(block + name + ".weight", weights(WIDTH, WIDTH))
        writer.add_tensor(block + "ffn_norm.weight", ones())
        writer.add_tensor(block + "ffn_gate.weight", weights(FEED_FORWARD, WIDTH))
        writer.add_tensor(block + "ffn_up.weight", weights(FEED_FORWARD, WIDTH))
        writer.add_tensor(block + "ffn_down.weight", weights(WIDTH, FEED_FORWARD))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1])
