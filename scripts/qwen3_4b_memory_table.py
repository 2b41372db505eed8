"""Qwen3-4B on one GPU, on paper: serving (Q4_K_M + KV cache) beside QLoRA training, by learn/memory.py.

Prints the markdown tables in docs/GPU.md ("Qwen3-4B on paper"). Every byte count comes from
``serve_bytes`` / ``train_bytes`` in ``openclaw_local/learn/memory.py`` with the shape of the
``qwen3-4b`` catalog entry (services/models.py), checked here against Qwen3-4B's published config.

    .venv/bin/python scripts/qwen3_4b_memory_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openclaw_local.learn.memory import GB, lora_params, serve_bytes, train_bytes  # noqa: E402
from openclaw_local.services.models import KNOWN  # noqa: E402

# Qwen3-4B's config.json (Qwen/Qwen3-4B): the inputs the rule needs, and the ones it approximates.
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, INTERMEDIATE, VOCAB = 2560, 36, 32, 8, 128, 9728, 151936
CARDS_GIB = (8, 12, 16, 24)
GIB = 1024 ** 3
N_CTX = (4096, 8192, 16384, 32768)
# Tokens in one forward pass of an update: the trainer's micro-batch (4 items) × its prompt+reply cut.
# The rule's own default (seq_len=1024, what check_training_fits and `models recommend` use) is the first;
# the trainer's defaults (micro_batch_size=4, max_seq_len=1024) allow up to the last.
FORWARD = ((1, 1024), (4, 256), (4, 512), (4, 1024))
RANKS = (8, 16, 32)


def check_shape():
    m = KNOWN["qwen3-4b"]
    s = m.shape
    assert (s.layers, s.hidden, s.vocab, s.kv_dim) == (LAYERS, HIDDEN, VOCAB, KV_HEADS * HEAD_DIM), s
    # parameters from the config (tied embeddings: the output head is the embedding)
    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    per_layer = HIDDEN * (q + 2 * kv) + q * HIDDEN + 3 * HIDDEN * INTERMEDIATE + 2 * HIDDEN + 2 * HEAD_DIM
    params = VOCAB * HIDDEN + LAYERS * per_layer + HIDDEN
    assert abs(params - s.params) / params < 0.01, (params, s.params)
    # LoRA on q/k/v/o/gate/up/down, exactly, vs the rule's 21 × hidden per layer per rank
    exact = LAYERS * ((HIDDEN + q) + 2 * (HIDDEN + kv) + (q + HIDDEN) + 3 * (HIDDEN + INTERMEDIATE))
    return m, params, exact


def gb(n: float) -> str:
    return f"{n / GB:.2f}"


def main() -> None:
    m, params, exact_lora = check_shape()
    s = m.shape
    print(f"Qwen3-4B shape (catalog entry `{m.name}`, checked against the config): {params / 1e9:.2f} B parameters, "
          f"{LAYERS} layers, hidden {HIDDEN}, {HEADS} heads / {KV_HEADS} KV heads × {HEAD_DIM}, intermediate "
          f"{INTERMEDIATE}, vocab {VOCAB}, tied embeddings; GGUF `{m.filename}` ~{m.approx_size / GB:.2f} GB.")
    print(f"LoRA parameters per rank: rule {lora_params(s, 1):,} (21 × hidden × layers), exact {exact_lora:,} "
          f"(q/k/v/o/gate/up/down); the difference is {(exact_lora - lora_params(s, 1)) * 16 * 16 / GB:.3f} GB "
          f"at rank 16; the tables use the rule's count.\n")

    print("Serving (llama.cpp, every layer on the GPU: weights + f16 KV cache + 0.3 GB buffers), GB:\n")
    print("| n_ctx | KV cache | serving total |")
    print("| ---: | ---: | ---: |")
    for n in N_CTX:
        total = serve_bytes(s, m.approx_size, n)
        print(f"| {n} | {gb(2 * s.layers * s.kv_dim * n * 2)} | {gb(total)} |")

    print("\nOne QLoRA update (NF4 base, bf16 compute, checkpointing; includes 0.8 GB CUDA context), GB:\n")
    print("| tokens per forward (items × tokens) | " + " | ".join(f"rank {r}" for r in RANKS) + " |")
    print("| --- | " + " | ".join("---:" for _ in RANKS) + " |")
    for items, tokens in FORWARD:
        row = [gb(train_bytes(s, "cuda", rank=r, seq_len=items * tokens)) for r in RANKS]
        print(f"| {items * tokens} ({items} × {tokens}) | " + " | ".join(row) + " |")

    print("\nPer card: the largest context that fits beside training, by the rule (need ≤ the card's memory):\n")
    print("| card | training (tokens per forward, rank) | training | largest n_ctx beside it | serving | "
          "total | left |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    alone: list[int] = []
    for card in CARDS_GIB:
        have = card * GIB
        shown = False
        for items, tokens in reversed(FORWARD):  # the trainer's worst case first, then smaller forwards
            for rank in (16, 8):
                train = train_bytes(s, "cuda", rank=rank, seq_len=items * tokens)
                ctx = [n for n in N_CTX if serve_bytes(s, m.approx_size, n) + train <= have]
                if ctx:
                    serve = serve_bytes(s, m.approx_size, ctx[-1])
                    print(f"| {card} GiB ({have / GB:.1f} GB) | {items * tokens} ({items} × {tokens}), rank {rank} | "
                          f"{gb(train)} | {ctx[-1]} | {gb(serve)} | {gb(serve + train)} | {gb(have - serve - train)} |")
                    shown = True
                    break
            if shown:
                break
        if not shown:
            serve = serve_bytes(s, m.approx_size, N_CTX[0])
            train = train_bytes(s, "cuda", rank=8, seq_len=1024)
            print(f"| {card} GiB ({have / GB:.1f} GB) | none beside serving: smallest update (1024, rank 8) | "
                  f"{gb(train)} | none (4096 needs {gb(serve)}) | | {gb(serve + train)} | {gb(have - serve - train)} |")
            alone.append(card)
    for card in alone:
        have = card * GIB
        ctx = [n for n in N_CTX if serve_bytes(s, m.approx_size, n) <= have]
        train = [(i * t, r) for i, t in FORWARD for r in RANKS if train_bytes(s, "cuda", rank=r, seq_len=i * t) <= have]
        print(f"\n{card} GiB, one or the other: serving alone fits up to n_ctx {ctx[-1]} "
              f"({gb(serve_bytes(s, m.approx_size, ctx[-1]))} GB); an update alone fits up to "
              f"{max(train)[0]} tokens per forward at rank {max(r for n, r in train if n == max(train)[0])} "
              f"({gb(train_bytes(s, 'cuda', rank=16, seq_len=max(train)[0]))} GB at rank 16).")


if __name__ == "__main__":
    main()
