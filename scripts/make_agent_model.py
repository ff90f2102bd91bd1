#!/usr/bin/python3
"""Writes a tiny GGUF model whose weights are set by hand to play one agent turn: asked anything,
it calls a tool (name and arguments given here); shown a tool result, it answers with a given text.

It is a real model for llama-server: its tokenizer, chat template (ChatML with Qwen3-Coder's XML
tool calls, which llama.cpp recognises and parses), KV cache, grammar-constrained sampling and
streaming all run as for any other. What it says is fixed by its weights rather than learned, so
that coding agents (Claude Code, Codex CLI) pointed at a gateway in front of llama-server can be
seen to finish a tool loop: the test checks the tool really ran and the result really came back.

How the weights decide (one layer, one attention head of width 8, no feed-forward):
  - The residual stream has a constant in dimension 0, a "tool result seen" flag in dimension 1,
    a "this token opens a tool result" bit in dimension 2 (only for the <tool_response> token the
    template writes before a tool message), and one dimension per state token (the prompt's last
    newline, and each token of the two scripted replies).
  - The head's query is constant and its key is large only on <tool_response>, so at any position
    it attends (almost) only to tool-result openers when there are any; its value writes 1 into
    the flag dimension then, and 0 when there are none. The rotated (RoPE) pairs of the head are
    left unused and the frequency base is huge, so positions up to the context length do not move
    the score.
  - The output layer maps each state token to its successor with a wide margin: the newline that
    ends the generation prompt to the tool call's first token, or to the answer's when the flag is
    set; each reply token to the next; the last to end-of-generation. Sampling at any temperature
    a client sends picks the same tokens.

  PYTHONPATH=third_party/llama.cpp/gguf-py /usr/bin/python3 scripts/make_agent_model.py \
      --tool Bash --argument command='echo hi' --answer 'It printed hi.' --out models/agent.gguf
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tiny_model import add_spm_tokenizer, gguf, spm_vocab  # noqa: E402  (the SentencePiece-style vocab)

# ChatML, with tool messages inside <tool_response> as Qwen3-Coder's template writes them.
# llama.cpp picks its Qwen3-Coder tool-call grammar and parser for a template that names
# <tool_call>, <function= and <parameter=. The history's arguments are not rendered: this model
# does not read them.
TEMPLATE = (
    "{#- Tool calls are written <tool_call>\\n<function=NAME>\\n<parameter=ARG>\\nVALUE\\n</parameter>\\n"
    "</function>\\n</tool_call> (Qwen3-Coder's format). -#}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'tool' -%}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- endif -%}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- elif message['content'] -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- if message['tool_calls'] -%}{%- for call in message['tool_calls'] -%}"
    "{{- '<tool_call>\\n<function=' + call['function']['name'] + '>\\n</function>\\n</tool_call>' -}}"
    "{%- endfor -%}{%- endif -%}"
    "{%- if message['role'] == 'tool' -%}{{- '\\n</tool_response>' -}}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

EMBD = 128      # residual width
HEAD = 8        # the one head's width (key and value); dimensions 4..7 are the unrotated ones
MARGIN = 50.0   # weight from a state token to its successor
TOOL_BIAS = 5.0  # the newline prefers the tool call...
SEEN_WEIGHT = 10.0  # ...unless a tool result was seen (then the answer wins by SEEN - BIAS)


def replies(tool: str, arguments: list[tuple[str, str]], answer: str) -> tuple[list[str], list[str]]:
    """The two scripted replies as token texts: each argument's value is one token of its own."""
    call = [f"<tool_call>\n<function={tool}>\n"]
    for name, value in arguments:
        call[-1] += f"<parameter={name}>\n"
        call.append(value)
        call.append("\n</parameter>\n")
    call[-1] += "</function>\n</tool_call>"
    return call, [answer]


def write_model(out: Path, tool: str, arguments: list[tuple[str, str]], answer: str, ctx: int) -> None:
    vocab = spm_vocab()
    marker = vocab.add("<tool_response>", gguf.TokenType.CONTROL, "banned")
    vocab.add("</tool_response>", gguf.TokenType.CONTROL, "banned")
    call, reply = replies(tool, arguments, answer)
    # Reply tokens are NORMAL pieces that no prompt can be tokenized into (the SentencePiece
    # tokenizer builds pieces by merging smaller ones, and none of their prefixes is a piece).
    call_ids = [vocab.add(t, gguf.TokenType.NORMAL, "reply") for t in call]
    reply_ids = [vocab.add(t, gguf.TokenType.NORMAL, "reply") for t in reply]
    if len(set(call_ids + reply_ids)) != len(call_ids) + len(reply_ids):
        sys.exit("make_agent_model.py: the replies repeat a token; give distinct argument values")
    newline, eog = vocab.ids["<0x0A>"], vocab.ids["<|im_end|>"]
    n_vocab = len(vocab.tokens)

    states = [newline] + call_ids + reply_ids
    if 3 + len(states) > EMBD:
        sys.exit("make_agent_model.py: too many reply tokens")
    dim = {tok: 3 + i for i, tok in enumerate(states)}

    embd = np.zeros((n_vocab, EMBD), dtype=np.float32)
    embd[:, 0] = 1.0
    embd[marker, 2] = 1.0
    for tok, d in dim.items():
        embd[tok, d] = 1.0

    # After the attention norm, dimension 2 of <tool_response> is 8 and dimension 0 of any token 8
    # to 11.3: the score is about 4 * 8 * 8 / sqrt(8) = 90 against 0, so a single opener among
    # 10^6 other tokens still takes all the attention.
    wq = np.zeros((HEAD, EMBD), dtype=np.float32)
    wq[4, 0] = 1.0
    wk = np.zeros((HEAD, EMBD), dtype=np.float32)
    wk[4, 2] = 4.0
    wv = np.zeros((HEAD, EMBD), dtype=np.float32)
    wv[0, 2] = 1.0
    wo = np.zeros((EMBD, HEAD), dtype=np.float32)
    wo[1, 0] = 1.0 / 8.0  # the opener's value (8 after the norm) becomes a flag of 1

    out_w = np.zeros((n_vocab, EMBD), dtype=np.float32)
    chains = [call_ids + [eog], reply_ids + [eog]]
    for chain in chains:
        for tok, nxt in zip(chain, chain[1:]):
            out_w[nxt, dim[tok]] = MARGIN
    out_w[call_ids[0], dim[newline]] = MARGIN
    out_w[reply_ids[0], dim[newline]] = MARGIN
    out_w[call_ids[0], 0] = TOOL_BIAS
    out_w[reply_ids[0], 1] = SEEN_WEIGHT

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("switchyard-agent")
    writer.add_description(f"Hand-set weights for tests: calls {tool}, then answers. "
                           "Made by scripts/make_agent_model.py.")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(ctx)
    writer.add_embedding_length(EMBD)
    writer.add_block_count(1)
    writer.add_feed_forward_length(HEAD)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_key_length(HEAD)
    writer.add_value_length(HEAD)
    writer.add_rope_dimension_count(HEAD)
    writer.add_rope_freq_base(1e30)  # pairs 2 and 3 of the head turn by 1e-15 rad per position
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_vocab_size(n_vocab)
    add_spm_tokenizer(writer, vocab, "<|im_end|>", TEMPLATE)

    names, T = gguf.TENSOR_NAMES, gguf.MODEL_TENSOR

    def layer(t: gguf.MODEL_TENSOR) -> str:
        return names[t].format(bid=0) + ".weight"

    ones = np.ones(EMBD, dtype=np.float32)
    writer.add_tensor(names[T.TOKEN_EMBD] + ".weight", embd)
    writer.add_tensor(layer(T.ATTN_NORM), ones)
    writer.add_tensor(layer(T.ATTN_Q), wq)
    writer.add_tensor(layer(T.ATTN_K), wk)
    writer.add_tensor(layer(T.ATTN_V), wv)
    writer.add_tensor(layer(T.ATTN_OUT), wo)
    writer.add_tensor(layer(T.FFN_NORM), ones)
    writer.add_tensor(layer(T.FFN_GATE), np.zeros((HEAD, EMBD), dtype=np.float32))
    writer.add_tensor(layer(T.FFN_UP), np.zeros((HEAD, EMBD), dtype=np.float32))
    writer.add_tensor(layer(T.FFN_DOWN), np.zeros((EMBD, HEAD), dtype=np.float32))
    writer.add_tensor(names[T.OUTPUT_NORM] + ".weight", ones)
    writer.add_tensor(names[T.OUTPUT] + ".weight", out_w)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", required=True, help="the tool the first turn calls")
    parser.add_argument("--argument", action="append", default=[], metavar="NAME=VALUE",
                        help="a string argument of the call (repeatable)")
    parser.add_argument("--answer", required=True, help="the reply once a tool result was seen")
    parser.add_argument("--ctx", type=int, default=262144, help="training context length")
    parser.add_argument("--out", type=Path, required=True, help="output .gguf path")
    args = parser.parse_args()
    arguments = []
    for a in args.argument:
        name, sep, value = a.partition("=")
        if not sep or not name:
            sys.exit(f"make_agent_model.py: --argument {a!r} is not NAME=VALUE")
        arguments.append((name, value))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    write_model(tmp, args.tool, arguments, args.answer, args.ctx)
    tmp.replace(args.out)  # never leave a half-written model at the final path


if __name__ == "__main__":
    main()
