#!/usr/bin/env python3
"""Writes a GGUF with random F16 weights at an IQuest-Coder-V1 shape, for speed comparisons only.

The IQuest-7B shape (issue #13): 14 layers of the 40B layer (hidden 5120, MLP 27648, 40/8 heads of
128), vocab 76,800, llama architecture, RoPE θ 500000. The tokenizer is llama.cpp's SPM test
vocabulary (ggml-vocab-llama-spm.gguf, fetched by tools/fetch-assets.sh) padded with unused
pieces to 76,800 entries, so llama.cpp's llama-bench loads the file as well as `iquest bench`.
The weights are normal(0, 0.02) (norms 1): text from such a model is noise, but every byte is
read as a real model's would be. Quantize it with `iquest quantize --type q4_0|q8_0|bf16` or
llama.cpp's llama-quantize (Q4_K_M). Such files are large (7B F16: ~15 GB) and stay out of the
repository.

Usage: python3 tools/gen_shape_gguf.py OUT.gguf [--layers 14] [--seed 0]
Needs numpy and gguf (pip install gguf).
"""
import argparse
import os

import numpy as np
import gguf

CACHE = os.environ.get("IQUEST_CACHE", os.path.expanduser("~/.cache/iquest"))
SPM_VOCAB = os.path.join(CACHE, "llama-vocab", "ggml-vocab-llama-spm.gguf")


def spm_tokenizer(size):
    """tokens, scores, types of the SPM test vocabulary padded to `size` pieces."""
    reader = gguf.GGUFReader(SPM_VOCAB)
    fields = reader.fields

    def array(name):
        f = fields[name]
        return [f.parts[i] for i in f.data]

    tokens = [bytes(p).decode("utf-8") for p in array("tokenizer.ggml.tokens")]
    scores = [float(p[0]) for p in array("tokenizer.ggml.scores")]
    types = [int(p[0]) for p in array("tokenizer.ggml.token_type")]
    for i in range(len(tokens), size):
        tokens.append(f"<unused_{i}>")
        scores.append(-1e9)
        types.append(5)  # unused
    return tokens[:size], scores[:size], types[:size]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    vocab, h, f, heads, kv_heads, hd = 76800, 5120, 27648, 40, 8, 128
    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("iquest-7b-shape-random")
    w.add_context_length(131072)
    w.add_embedding_length(h)
    w.add_feed_forward_length(f)
    w.add_block_count(a.layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    tokens, scores, types = spm_tokenizer(vocab)
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    rng = np.random.default_rng(a.seed)

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    def tensors():
        yield "token_embd.weight", lambda: matrix(vocab, h)
        for i in range(a.layers):
            p = f"blk.{i}."
            yield p + "attn_norm.weight", lambda: np.ones(h, np.float32)
            yield p + "attn_q.weight", lambda: matrix(heads * hd, h)
            yield p + "attn_k.weight", lambda: matrix(kv_heads * hd, h)
            yield p + "attn_v.weight", lambda: matrix(kv_heads * hd, h)
            yield p + "attn_output.weight", lambda: matrix(h, heads * hd)
            yield p + "ffn_norm.weight", lambda: np.ones(h, np.float32)
            yield p + "ffn_gate.weight", lambda: matrix(f, h)
            yield p + "ffn_up.weight", lambda: matrix(f, h)
            yield p + "ffn_down.weight", lambda: matrix(h, f)
        yield "output_norm.weight", lambda: np.ones(h, np.float32)
        yield "output.weight", lambda: matrix(vocab, h)

    # Header first (shapes and types only), then each tensor's data generated and written in turn,
    # so memory holds one tensor at a time.
    made = list(tensors())
    for name, make in made:
        probe = make() if name.endswith("norm.weight") else None
        if probe is not None:
            w.add_tensor_info(name, probe.shape, probe.dtype, probe.nbytes)
        else:
            shape = {"token_embd.weight": (vocab, h), "output.weight": (vocab, h)}.get(name)
            if shape is None:
                kind = name.split(".")[2]
                shape = {"attn_q": (heads * hd, h), "attn_k": (kv_heads * hd, h), "attn_v": (kv_heads * hd, h),
                         "attn_output": (h, heads * hd), "ffn_gate": (f, h), "ffn_up": (f, h),
                         "ffn_down": (h, f)}[kind]
            w.add_tensor_info(name, shape, np.dtype(np.float16), shape[0] * shape[1] * 2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, make in made:
        w.write_tensor_data(make())
    w.close()


if __name__ == "__main__":
    main()
