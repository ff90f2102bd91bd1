#!/usr/bin/python3
"""Writes tiny random-weight GGUF models that llama-server can load and serve.

Two layouts: "llama" (dense Llama 2 style, SentencePiece-style vocab, ChatML template) and
"llama4" (Llama 4 mixture of experts with a shared expert, GPT-2-style byte-level BPE vocab,
Llama 4 template). The text they generate is noise, but always printable ASCII: the weights
are arranged so that special, control and non-ASCII byte tokens never win sampling, and so
generation only ends at max_tokens, a stop string or the end of the context.

Run with Debian's python3 and llama.cpp's gguf-py:
  PYTHONPATH=third_party/llama.cpp/gguf-py /usr/bin/python3 scripts/make_tiny_model.py \
      --arch llama --out models/tiny-llama.gguf
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - a usage error, not a bug
    sys.exit("make_tiny_model.py: cannot import gguf; set PYTHONPATH=third_party/llama.cpp/gguf-py")

# Words that become whole tokens (with their prefixes, so the tokenizers can reach them).
WORDS = """
the of and to in is it you that he was for on are with as his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her
long make thing see him two has look more day could go come did number sound no most people my
over know water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good me give our
under name very through just form great think say help low line differ turn cause much mean
before move right boy old too same tell does set three want air well also play small end put
home read hand port large spell add even land here must big high such follow act why ask men
change went light kind off need house picture try us again animal point mother world near build
self earth father switch yard gateway route stream token model cloud local upstream request
""".split()

# Logit offsets per token class (see Vocab.classes); the random part has a std of about 3.
CLASS_BIAS = {"word": 3.0, "char": 0.0, "prefix": -3.0, "newline": -3.0, "banned": -60.0}


class Vocab:
    """Token strings, types, scores, merges and special ids for one tokenizer family."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.types: list[int] = []
        self.scores: list[float] = []
        self.classes: list[str] = []
        self.merges: list[str] = []
        self.ids: dict[str, int] = {}

    def add(self, text: str, ttype: gguf.TokenType, cls: str, score: float = 0.0) -> int:
        if text in self.ids:
            return self.ids[text]
        self.ids[text] = len(self.tokens)
        self.tokens.append(text)
        self.types.append(int(ttype))
        self.scores.append(score)
        self.classes.append(cls)
        return self.ids[text]


def spm_vocab() -> Vocab:
    """SentencePiece-style ("llama") vocab: <unk> <s> </s>, 256 byte tokens, pieces with scores."""
    v = Vocab()
    v.add("<unk>", gguf.TokenType.UNKNOWN, "banned")
    v.add("<s>", gguf.TokenType.CONTROL, "banned")
    v.add("</s>", gguf.TokenType.CONTROL, "banned")
    for b in range(256):
        # Byte fallback tokens: only "\n" may be generated, the rest stay reachable for input.
        v.add(f"<0x{b:02X}>", gguf.TokenType.BYTE, "newline" if b == 0x0A else "banned")
    v.add("<|im_start|>", gguf.TokenType.CONTROL, "banned")
    v.add("<|im_end|>", gguf.TokenType.CONTROL, "banned")
    v.add("\u2581", gguf.TokenType.NORMAL, "char", -1.0)
    for c in range(0x21, 0x7F):
        v.add(chr(c), gguf.TokenType.NORMAL, "char", -1.0)
    # The SPM tokenizer merges adjacent pieces when the result is in the vocab, best score
    # first, so every prefix of a word is a piece and longer pieces score higher.
    for word in WORDS:
        piece = "\u2581" + word
        for n in range(2, len(piece) + 1):
            cls = "word" if n == len(piece) else "prefix"
            v.add(piece[:n], gguf.TokenType.NORMAL, cls, float(n))
    return v


def add_spm_tokenizer(writer: gguf.GGUFWriter, vocab: Vocab, eos: str, template: str) -> None:
    """The SentencePiece-style vocab's tokenizer metadata, with `eos` ending generation."""
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_unk_token_id(vocab.ids["<unk>"])
    writer.add_bos_token_id(vocab.ids["<s>"])
    writer.add_eos_token_id(vocab.ids[eos])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    writer.add_chat_template(template)


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable code points."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


LLAMA4_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|header_start|>", "<|header_end|>",
                   "<|eot|>", "<|eom|>", "<|finetune_right_pad|>"]


def bpe_vocab() -> Vocab:
    """GPT-2-style byte-level BPE ("gpt2") vocab: 256 byte symbols, word merges, Llama 4 specials."""
    v = Vocab()
    b2u = byte_to_unicode()
    for b in range(256):
        if 0x20 <= b < 0x7F:
            cls = "char"
        elif b == 0x0A:
            cls = "newline"
        else:
            cls = "banned"
        v.add(b2u[b], gguf.TokenType.NORMAL, cls)
    space = b2u[0x20]
    seen: set[str] = set()
    for word in WORDS:
        piece = space + word
        for n in range(2, len(piece) + 1):
            merge = f"{piece[:n - 1]} {piece[n - 1]}"
            if merge not in seen:
                seen.add(merge)
                v.merges.append(merge)
            v.add(piece[:n], gguf.TokenType.NORMAL, "word" if n == len(piece) else "prefix")
    for s in LLAMA4_SPECIALS:
        v.add(s, gguf.TokenType.CONTROL, "banned")
    return v


CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

LLAMA4_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] | trim -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] | trim -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|eot|>' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|header_start|>assistant<|header_end|>\\n\\n' -}}{%- endif -%}"
)


class Weights:
    """Random tensors in numpy order (ggml's ne reversed): a matrix is (n_out, n_in).

    Dimension 0 of the residual stream carries a constant 1 that no layer writes to, so after
    the final RMS norm it is large and stable; column 0 of output.weight turns it into a
    per-class logit offset (CLASS_BIAS) that keeps banned tokens out of every sample.
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def normal(self, shape: tuple[int, ...], std: float) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def writer_out(self, shape: tuple[int, ...], std: float) -> np.ndarray:
        """A projection back into the residual stream; row 0 (the constant) stays untouched."""
        w = self.normal(shape, std)
        w[..., 0, :] = 0.0
        return w

    @staticmethod
    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    def embeddings(self, n_vocab: int, n_embd: int) -> np.ndarray:
        e = self.normal((n_vocab, n_embd), 0.05)
        e[:, 0] = 1.0
        return e

    def output(self, classes: list[str], n_embd: int) -> np.ndarray:
        w = self.normal((len(classes), n_embd), 1.0)
        # With the embedding above, rms_norm(x)[0] is about 7.4; scale so the offsets land as-is.
        w[:, 0] = np.array([CLASS_BIAS[c] for c in classes], dtype=np.float32) / 7.4
        return w


def write_model(arch: str, out: Path, seed: int, embd: int = 64, layers: int = 0, ff: int = 128,
                ctx: int = 512) -> None:
    n_embd, n_head, n_head_kv, n_ctx = embd, 4, 2, ctx
    head_dim = n_embd // n_head
    w = Weights(seed)

    n_expert, n_expert_used, n_ff_exp, moe_step = 4, 1, 64, 2  # llama4 only
    if arch == "llama":
        vocab, n_layer, n_ff = spm_vocab(), layers or 2, ff
    else:
        vocab, n_layer, n_ff = bpe_vocab(), layers or 4, ff
    n_vocab = len(vocab.tokens)

    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_name(f"switchyard-tiny-{arch}")
    writer.add_description("Random weights for tests; generates noise. Made by scripts/make_tiny_model.py.")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)

    if arch == "llama":
        writer.add_rope_freq_base(10000.0)
        add_spm_tokenizer(writer, vocab, "<|im_end|>", CHATML_TEMPLATE)
    else:
        writer.add_rope_freq_base(500000.0)
        writer.add_expert_count(n_expert)
        writer.add_expert_used_count(n_expert_used)
        writer.add_expert_feed_forward_length(n_ff_exp)
        writer.add_interleave_moe_layer_step(moe_step)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("llama4")
        writer.add_token_list(vocab.tokens)
        writer.add_token_types(vocab.types)
        writer.add_token_merges(vocab.merges)
        writer.add_bos_token_id(vocab.ids["<|begin_of_text|>"])
        writer.add_eos_token_id(vocab.ids["<|eot|>"])  # as in Llama 4's tokenizer_config.json
        writer.add_pad_token_id(vocab.ids["<|finetune_right_pad|>"])
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)
        writer.add_chat_template(LLAMA4_TEMPLATE)

    names = gguf.TENSOR_NAMES
    T = gguf.MODEL_TENSOR
    writer.add_tensor(names[T.TOKEN_EMBD] + ".weight", w.embeddings(n_vocab, n_embd))
    for i in range(n_layer):
        def name(t: gguf.MODEL_TENSOR) -> str:
            return names[t].format(bid=i) + ".weight"

        writer.add_tensor(name(T.ATTN_NORM), w.ones(n_embd))
        writer.add_tensor(name(T.ATTN_Q), w.normal((n_head * head_dim, n_embd), 0.1))
        writer.add_tensor(name(T.ATTN_K), w.normal((n_head_kv * head_dim, n_embd), 0.1))
        writer.add_tensor(name(T.ATTN_V), w.normal((n_head_kv * head_dim, n_embd), 0.1))
        writer.add_tensor(name(T.ATTN_OUT), w.writer_out((n_embd, n_head * head_dim), 0.01))
        writer.add_tensor(name(T.FFN_NORM), w.ones(n_embd))
        is_moe = arch == "llama4" and (i + 1) % moe_step == 0
        if not is_moe:
            writer.add_tensor(name(T.FFN_GATE), w.normal((n_ff, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_UP), w.normal((n_ff, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_DOWN), w.writer_out((n_embd, n_ff), 0.01))
        else:
            writer.add_tensor(name(T.FFN_GATE_INP), w.normal((n_expert, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_GATE_EXP), w.normal((n_expert, n_ff_exp, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_UP_EXP), w.normal((n_expert, n_ff_exp, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_DOWN_EXP), w.writer_out((n_expert, n_embd, n_ff_exp), 0.01))
            writer.add_tensor(name(T.FFN_GATE_SHEXP), w.normal((n_ff_exp, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_UP_SHEXP), w.normal((n_ff_exp, n_embd), 0.1))
            writer.add_tensor(name(T.FFN_DOWN_SHEXP), w.writer_out((n_embd, n_ff_exp), 0.01))
    writer.add_tensor(names[T.OUTPUT_NORM] + ".weight", w.ones(n_embd))
    writer.add_tensor(names[T.OUTPUT] + ".weight", w.output(vocab.classes, n_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=["llama", "llama4"], default="llama",
                        help="llama: dense, SPM vocab; llama4: MoE (4 experts, 1 used, shared expert), BPE vocab")
    parser.add_argument("--out", type=Path, required=True, help="output .gguf path")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed (fixed, so files are reproducible)")
    # Bigger models (for benchmarks where prefill must cost real time): e.g. --embd 384 --layers 6
    # --ff 1024 --ctx 4096 is about 10 million parameters.
    parser.add_argument("--embd", type=int, default=64, help="embedding width (a multiple of 4)")
    parser.add_argument("--layers", type=int, default=0, help="layers (0: 2 for llama, 4 for llama4)")
    parser.add_argument("--ff", type=int, default=128, help="feed-forward width")
    parser.add_argument("--ctx", type=int, default=512, help="training context length")
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    write_model(args.arch, tmp, args.seed, args.embd, args.layers, args.ff, args.ctx)
    tmp.replace(args.out)  # never leave a half-written model at the final path


if __name__ == "__main__":
    main()
