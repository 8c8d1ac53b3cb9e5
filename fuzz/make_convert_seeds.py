#!/usr/bin/env python3
# fuzz/make_convert_seeds.py: writes fuzz/corpus/convert/: tiny Hugging Face checkpoints
# (config.json + model.safetensors, one with a tokenizer.json) packed in fuzz_convert's input
# format (u16 n_config, u16 n_tokenizer, config, tokenizer, safetensors). Written from the
# safetensors format description (8-byte LE header length, JSON header, raw data) and HF
# config key names, not from mattn's code. Run from the repository root; standard library only.
import json, os, struct, random

rnd = random.Random(1)
out = "fuzz/corpus/convert"
os.makedirs(out, exist_ok=True)

def safetensors(tensors):
    header, blob = {}, b""
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        data = struct.pack("<%df" % n, *[rnd.uniform(-0.5, 0.5) for _ in range(n)])
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob

def pack(name, config, tensors, tokenizer=None):
    c = json.dumps(config).encode()
    t = json.dumps(tokenizer).encode() if tokenizer else b""
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<HH", len(c), len(t)) + c + t + safetensors(tensors))

D, V, F, H, KV = 8, 16, 16, 2, 1
hd = D // H
llama_t = [("model.embed_tokens.weight", [V, D]), ("model.norm.weight", [D]), ("lm_head.weight", [V, D])]
for l in range(1):
    p = "model.layers.%d." % l
    llama_t += [(p + "input_layernorm.weight", [D]), (p + "post_attention_layernorm.weight", [D]),
                (p + "self_attn.q_proj.weight", [H * hd, D]), (p + "self_attn.k_proj.weight", [KV * hd, D]),
                (p + "self_attn.v_proj.weight", [KV * hd, D]), (p + "self_attn.o_proj.weight", [D, H * hd]),
                (p + "mlp.gate_proj.weight", [F, D]), (p + "mlp.up_proj.weight", [F, D]),
                (p + "mlp.down_proj.weight", [D, F])]
llama_c = {"model_type": "llama", "hidden_size": D, "intermediate_size": F, "num_hidden_layers": 1,
           "num_attention_heads": H, "num_key_value_heads": KV, "vocab_size": V, "rms_norm_eps": 1e-5,
           "max_position_embeddings": 64, "rope_theta": 10000.0, "tie_word_embeddings": False,
           "bos_token_id": 1, "eos_token_id": 2}
pack("llama.bin", llama_c, llama_t)
mistral_c = dict(llama_c, model_type="mistral", sliding_window=4)
pack("mistral.bin", mistral_c, llama_t)
vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for i, w in enumerate(["a", "b", "ab", "c", "abc", "\u2581", "\u2581a", "d", "e", "f", "g", "h", "i"]):
    vocab[w] = 3 + i
tok = {"model": {"type": "BPE", "vocab": vocab, "merges": ["a b", "ab c", "\u2581 a"]},
       "added_tokens": [{"id": 1, "content": "<s>", "special": True}]}
pack("llama-tokenizer.bin", llama_c, llama_t, tok)
# Mamba-1: d_inner = 2 D, dt_rank 2, d_state 4, conv 4
DI, R, S, K = 2 * D, 2, 4, 4
mamba_t = [("backbone.embeddings.weight", [V, D]), ("backbone.norm_f.weight", [D]),
           ("backbone.layers.0.norm.weight", [D]),
           ("backbone.layers.0.mixer.in_proj.weight", [2 * DI, D]),
           ("backbone.layers.0.mixer.conv1d.weight", [DI, 1, K]), ("backbone.layers.0.mixer.conv1d.bias", [DI]),
           ("backbone.layers.0.mixer.x_proj.weight", [R + 2 * S, DI]),
           ("backbone.layers.0.mixer.dt_proj.weight", [DI, R]), ("backbone.layers.0.mixer.dt_proj.bias", [DI]),
           ("backbone.layers.0.mixer.A_log", [DI, S]), ("backbone.layers.0.mixer.D", [DI]),
           ("backbone.layers.0.mixer.out_proj.weight", [D, DI])]
mamba_c = {"model_type": "mamba", "hidden_size": D, "intermediate_size": DI, "state_size": S,
           "num_hidden_layers": 1, "vocab_size": V, "conv_kernel": K, "time_step_rank": R,
           "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, "use_conv_bias": True}
pack("mamba.bin", mamba_c, mamba_t)
