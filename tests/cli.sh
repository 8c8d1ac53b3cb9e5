#!/bin/sh
# cli.sh: command-line checks of build/mattn-ref (and build/mattn-gles when built): output
# formats, exit statuses (0 ok, 1 failure, 2 bad usage), one-line errors, and no output file
# left behind on failure. Expected values come from ../shared (llama.cpp's outputs, the
# issue's own description of stories260K), never from mattn itself.
# Usage: SHARED=../shared sh tests/cli.sh
SHARED=${SHARED:-../shared}
REF=build/mattn-ref
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
skipped=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $*"; }

# expect_status STATUS DESCRIPTION -- command...   (stderr must be exactly one line on failure)
expect_status() {
    want=$1; desc=$2; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    if [ "$got" != "$want" ]; then bad "$desc: exit $got, want $want: $(head -c 300 "$TMP/err")"; return; fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$TMP/err")" -gt 1 ]; then bad "$desc: error is not one line"; return; fi
    ok
}

# expect_msg DESCRIPTION PATTERN: the last command's stderr matches the grep -E PATTERN
expect_msg() {
    grep -qE -- "$2" "$TMP/err" && ok || bad "$1: stderr '$(head -c 300 "$TMP/err")' lacks /$2/"
}

# rel_error GOT WANT: max|got - want| / max|want| of two float64 files (../shared/README.md's
# relative error); 1 when they are empty or differ in length.
rel_error() {
    od -An -v -tf8 -w8 "$1" >"$TMP/re.got"
    od -An -v -tf8 -w8 "$2" >"$TMP/re.want"
    [ "$(wc -l <"$TMP/re.got")" = "$(wc -l <"$TMP/re.want")" ] || { echo 1; return; }
    paste "$TMP/re.got" "$TMP/re.want" | awk '{ d = $1 - $2; if (d < 0) d = -d; r = $2 < 0 ? -$2 : $2;
        if (d > md) md = d; if (r > mr) mr = r } END { if (NR == 0 || mr == 0) print 1; else printf "%.3e\n", md / mr }'
}

STORIES=$SHARED/models/stories260K.gguf
if [ -f "$STORIES" ]; then
    # info --json: every value as the issue states it for stories260K.
    want='{"architecture":"llama","name":"llama","n_layer":5,"n_embd":64,"n_head":8,"n_head_kv":4,"n_ctx_train":2048,"n_vocab":512,"tokenizer":"llama","n_tensors":48,"n_params":292800,"file_bytes":1185376,"tensor_types":{"F32":48}}'
    got=$($REF info -m "$STORIES" --json | sed -e 's/"file":"[^"]*",//' -e 's/"gguf_version":3,//' -e 's/"supported":true,//' -e 's/,"layers":\[[^]]*\],"n_attn":5,"n_recurrent":0,"n_moe":0}$/}/')
    [ "$got" = "$want" ] && ok || bad "info --json: $got"
    expect_status 0 "info text" -- $REF info -m "$STORIES"

    # tokenize: llama.cpp's ids for the stories prompt (../shared/vectors/llamacpp/README.md).
    got=$($REF tokenize -m "$STORIES" -p "Once upon a time, there was a little girl named Lily.")
    [ "$got" = "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426" ] && ok || bad "tokenize: $got"

    # run, greedy: llama.cpp's continuation.
    got=$($REF run -m "$STORIES" -p "Once upon a time, there was a little girl named Lily." -n 32 --temp 0 2>/dev/null)
    [ "$got" = " She loved to play outside in the park. One day, she saw a big, red ball. She wanted" ] && ok || bad "run greedy: '$got'"
    # --print-ids: the same continuation as llama.cpp's greedy ids.
    if [ -f "$SHARED/vectors/llamacpp/stories260K.greedy.txt" ]; then
        got=$($REF run -m "$STORIES" --ids "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426" -n 32 --temp 0 --print-ids 2>/dev/null)
        want=$(tr '\n' ' ' <"$SHARED/vectors/llamacpp/stories260K.greedy.txt" | sed 's/ *$//')
        [ "$got" = "$want" ] && ok || bad "run --print-ids: '$got' want '$want'"
    fi
    # A seed gives the same text twice; the seed is reported on stderr.
    a=$($REF run -m "$STORIES" -p "Once upon a time" -n 40 --seed 7 2>"$TMP/err1")
    b=$($REF run -m "$STORIES" -p "Once upon a time" -n 40 --seed 7 -t 1 2>/dev/null)
    [ "$a" = "$b" ] && [ -n "$a" ] && ok || bad "run --seed is not reproducible"
    grep -q "seed 7" "$TMP/err1" && ok || bad "run does not report its seed"
    # logits: n_tokens x n_vocab float64.
    expect_status 0 "logits" -- $REF logits -m "$STORIES" --ids "1 403 407" -o "$TMP/l.bin"
    [ "$(wc -c <"$TMP/l.bin")" = $((3 * 512 * 8)) ] && ok || bad "logits size"
    # --dump writes an index and one file per (position, layer, op).
    expect_status 0 "logits --dump" -- $REF logits -m "$STORIES" --ids "1 403" -o "$TMP/l2.bin" --dump "$TMP/dump"
    head -1 "$TMP/dump/index.tsv" | grep -q "^file	position	layer	op	count$" && ok || bad "dump index header"
    [ "$(grep -c '	1	4	l_out	64$' "$TMP/dump/index.tsv")" = 1 ] && ok || bad "dump: no layer-4 l_out at position 1"

    # failures: one line, status 1, nothing written.
    expect_status 1 "logits into a missing dir" -- $REF logits -m "$STORIES" --ids "1" -o "$TMP/no/such/l.bin"
    expect_msg "logits into a missing dir" "cannot write .*choose a writable path"
    [ ! -e "$TMP/no/such/l.bin.tmp" ] && ok || bad "half-written logits"
    # -n beyond the context: as llama.cpp without context shift, generation stops when the
    # context is full: 3 prompt ids in 8 positions leave room for 8 - 3 + 1 = 6 new tokens
    # (the last one is sampled, never fed back), with a note on stderr; -n -1 runs to that too.
    got=$($REF run -m "$STORIES" --ids "1 403 407" -n 100 -c 8 --temp 0 --print-ids 2>"$TMP/err")
    [ "$(echo "$got" | wc -w)" = 6 ] && ok || bad "-n beyond the context: '$got'"
    expect_msg "-n beyond the context" "context of 8 is full"
    got=$($REF run -m "$STORIES" --ids "1 403 407" -n -1 -c 8 --temp 0 --print-ids 2>/dev/null)
    [ "$(echo "$got" | wc -w)" = 6 ] && ok || bad "-n -1: '$got'"
    # A prompt longer than the context: usage error naming both sizes.
    expect_status 2 "prompt longer than the context" -- $REF run -m "$STORIES" --ids "1 403 407 261 378" -c 4
    expect_msg "prompt longer than the context" "prompt is 5 tokens, longer than the context of 4.*raise -c"
    expect_status 2 "logits prompt longer than the context" -- $REF logits -m "$STORIES" --ids "1 2 3" -c 2 -o "$TMP/c.bin"
    [ ! -e "$TMP/c.bin" ] && ok || bad "logits output left after a context error"
    # An empty prompt is BOS alone (llama.cpp): tokenize prints 1, run runs one position.
    [ "$($REF tokenize -m "$STORIES" -p "")" = "1" ] && ok || bad "empty prompt is not BOS"
    expect_status 0 "run on an empty prompt" -- $REF run -m "$STORIES" -p "" -n 2 --json
    grep -q '"prompt_tokens":1,' "$TMP/err" && ok || bad "empty prompt: not one position"
    expect_status 2 "empty prompt without BOS" -- $REF run -m "$STORIES" -p "" --no-bos
    # Invalid UTF-8 goes through SentencePiece byte fallback: the vocabulary holds <unk> <s>
    # </s> at 0..2 and then the 256 byte pieces <0x00>..<0xFF> at 3..258, so 0xFF is 258 and
    # 0xC3 (a lead byte with no continuation) is 3 + 0xC3 = 198; before them the dummy-prefix
    # space, the piece "\u2581" alone, which is id 410 (read from the file's token list).
    got=$($REF tokenize -m "$STORIES" -p "$(printf '\377\303')")
    [ "$got" = "1 410 258 198" ] && ok || bad "invalid UTF-8: '$got'"
    expect_status 2 "token id out of range" -- $REF logits -m "$STORIES" --ids "1 512" -o "$TMP/x.bin"
    [ ! -e "$TMP/x.bin" ] && ok || bad "logits output left after a failure"
    expect_status 2 "negative temperature" -- $REF run -m "$STORIES" -p "x" --temp -1
    expect_status 2 "top-p above 1" -- $REF run -m "$STORIES" -p "x" --top-p 1.5
    expect_status 2 "top-k negative" -- $REF run -m "$STORIES" -p "x" --top-k -3
    expect_status 2 "bad number" -- $REF run -m "$STORIES" -p "x" -n ten
    expect_status 2 "top-p zero" -- $REF run -m "$STORIES" -p "x" --top-p 0
    expect_status 2 "min-p above 1" -- $REF run -m "$STORIES" -p "x" --min-p 1.5
    expect_status 2 "min-p negative" -- $REF run -m "$STORIES" -p "x" --min-p -0.1
    expect_status 2 "repeat penalty zero" -- $REF run -m "$STORIES" -p "x" --repeat-penalty 0
    expect_status 2 "repeat-last-n below -1" -- $REF run -m "$STORIES" -p "x" --repeat-last-n -2
    expect_status 2 "temperature NaN" -- $REF run -m "$STORIES" -p "x" --temp nan
    expect_status 2 "-n below -1" -- $REF run -m "$STORIES" -p "x" -n -2
    # Output checks come before any work: a directory, an unwritable place.
    expect_status 1 "logits into a directory" -- $REF logits -m "$STORIES" --ids "1" -o "$TMP"
    expect_msg "logits into a directory" "is a directory"
else
    skip "$STORIES is absent"
fi

LLAMA=$SHARED/gguf/llama-f32.gguf
if [ -f "$LLAMA" ]; then
    # A placeholder vocabulary: ids work, text prompts are refused with a clear message.
    expect_status 1 "text prompt on a placeholder vocabulary" -- $REF run -m "$LLAMA" -p "hello"
    grep -q -- "--ids" "$TMP/err" && ok || bad "placeholder message does not suggest --ids"
    got=$($REF run -m "$LLAMA" --ids "$(cat "$SHARED/hf/llama/ids.txt")" -n 8 --temp 0 --print-ids 2>/dev/null)
    [ "$got" = "$(tr '\n' ' ' <"$SHARED/hf/llama/greedy.txt" | sed 's/ *$//')" ] && ok || bad "llama greedy ids: $got"
fi

# synth: a seed gives the same bytes; the parameter count of this shape, by hand:
# embeddings+output 2*256*1000, per layer 2*256 (norms) + 2*256*256 (q, o) + 2*256*64 (k, v)
# + 3*256*512 (gate, up, down), twice, plus the final norm's 256 = 1627392.
SYN="--n-embd 256 --n-layer 2 --n-head 8 --n-head-kv 2 --n-ff 512 --n-vocab 1000 --type q4_0"
expect_status 0 "synth" -- $REF synth -o "$TMP/s1.gguf" $SYN --seed 3
$REF synth -o "$TMP/s2.gguf" $SYN --seed 3 2>/dev/null
cmp -s "$TMP/s1.gguf" "$TMP/s2.gguf" && ok || bad "synth is not reproducible"
$REF info -m "$TMP/s1.gguf" --json | grep -q '"n_params":1627392,' && ok || bad "synth parameter count"
expect_status 0 "run on a synthesized model" -- $REF run -m "$TMP/s1.gguf" --ids "1 2 3" -n 4 --print-ids
expect_status 2 "synth without -o" -- $REF synth --arch llama

# synth for every family: a tiny model of each (a few layers, width 64, seconds to write),
# whose layer pattern follows from the flags (i % attn-every == attn-offset) and whose
# parameter count is counted by hand below, tensor by tensor (D = 64, V = 64 throughout):
#  rwkv7 (F 128, LoRA ranks 8 8 8 16): embd, out, 2 norms w+b = 8448; per layer 4 norms 256,
#   w0/a0/v0 3*64, w1 w2 a1 a2 v1 v2 6*512, g1 g2 2*1024, lerp 6*64, k_k k_a r_k 3*64, 4 C*C
#   16384, ln_x 128, ffn lerp 64, key/value 2*8192 = 39104; 8448 + 2*39104 = 86656
#  mamba (tied, d_inner 128, N 8, K 4, dt_rank 4): embd + norm 4160; per layer norm 64, in
#   16384, conv 512+128, x 2560, dt 512+128, A 1024, D 128, out 8192 = 29632; total 63424
#  mamba2 (tied, d_inner 128, N 16, head dim 16: 8 heads, 2 groups, conv 192): per layer
#   norm 64, in 64*328, conv 768+192, dt/A/D 24, norm 128, out 8192 = 30360; total 64880
#  jamba (F 96, 4 experts, attention and MoE at 1, 3): embd+out+norm 8256; mamba layers
#   64 + 29568 + dt/B/C norms 20 + ffn norm 64 + mlp 18432 = 48148; attention layers 64 + q k
#   v o 12288 + 64 + router 256 + experts 73728 = 86400; total 8256 + 2*48148 + 2*86400 = 277352
#  recurrentgemma (tied, 2 heads of 32, 1 KV head, F 96, lru 64, attention at 2): 4160;
#   recurrent layers 35904 (norms 128, y x out 3*4096 + 3*64, conv 320, gates 2*(2048+64),
#   Lambda 64, mlp 18432 + 256 biases); the attention layer 31168; total 107136
#  zamba2 (tied, 4 heads of 32, F 256, d_inner 128, N 16, 8 heads, 2 shared blocks at 1, 3,
#   rank 8): 4160; 4 Mamba-2 layers of 28152; hybrid extras 2*(4096 + 6*1024 + 512 + 4096);
#   shared blocks 2*(128 + 3*16384 + 8192 + 64 + 32768 + 16384); total 359840
#  zamba (tied, 4 heads of 32, F 256, d_inner 128, N 8, dt rank 4, 2 SSM heads, shared at 1, 3):
#   4160; 4 layers of 32704 (x 5120 and dt 1024 block-diagonal, stored whole); 2 shared_proj
#   4096; one block 106688; total 249856
FAM="llama rwkv7 mamba mamba2 jamba recurrentgemma zamba2 zamba"
# mattn-gles runs every family: mattn-diff on each synthesized one.
# the tiny shapes: scripts/bench-families.sh SYNTH_SMALL's, one list for both
fam_flags() { sh scripts/bench-families.sh --small-flags "$1"; }
fam_want() {  # parameter count, then info's layer list
    case $1 in
    llama) echo '69952 "attn+ffn","attn+ffn"' ;;
    rwkv7) echo '86656 "rwkv7+ffn","rwkv7+ffn"' ;;
    mamba) echo '63424 "mamba","mamba"' ;;
    mamba2) echo '64880 "mamba2","mamba2"' ;;
    jamba) echo '277352 "mamba+ffn","attn+moe","mamba+ffn","attn+moe"' ;;
    recurrentgemma) echo '107136 "rglru+ffn","rglru+ffn","attn+ffn"' ;;
    zamba2) echo '359840 "mamba2","shared0+mamba2","mamba2","shared1+mamba2"' ;;
    zamba) echo '249856 "mamba","shared0+mamba","mamba","shared0+mamba"' ;;
    esac
}
# (llama: 2*64*64 + 64 + 2*(128 + 4096 + 2*2048 + 4096 + 3*64*96) = 69952, as the check above.)
# finite F: the logits file F holds N float64 values, none of them NaN or infinite
finite() {
    [ "$(wc -c <"$1")" = $(($2 * 8)) ] && ! od -An -v -tf8 -w8 "$1" | grep -Eiq 'nan|inf'
}
GL_OK=0
$REF synth -o "$TMP/fam-probe.gguf" $(fam_flags llama) 2>/dev/null
if [ -x build/mattn-gles ] && build/mattn-gles info -m "$TMP/fam-probe.gguf" --json | grep -q '"renderer":"'; then
    GL_OK=1
else
    skip "synth families on mattn-gles: no GL context"
fi
# fam_diff A FILE: mattn-diff passes on FILE
fam_diff() {
    [ "$GL_OK" = 1 ] || return 0
    build/mattn-diff -m "$2" --ids "1 2 3 4 5" -q >"$TMP/diff" 2>&1 && ok ||
        bad "mattn-diff synth $1 ($2): $(tail -1 "$TMP/diff")"
}
for a in $FAM; do
    f="$TMP/fam-$a.gguf"
    set -- $(fam_want $a)
    expect_status 0 "synth --arch $a" -- $REF synth --arch $a -o "$f" $(fam_flags $a) --seed 5
    expect_msg "synth --arch $a" "wrote .*fam-$a\.gguf: $1 params, $(wc -c <"$f" 2>/dev/null) bytes"
    info=$($REF info -m "$f" --json)
    echo "$info" | grep -q "\"architecture\":\"$a\"" && ok || bad "synth $a: info says $(echo "$info" | head -c 100)"
    echo "$info" | grep -q "\"n_params\":$1," && ok || bad "synth $a: parameter count, want $1"
    echo "$info" | grep -q "\"layers\":\[$2\]" && ok || bad "synth $a: layer pattern, want [$2]: $info"
    got=$($REF run -m "$f" --ids "1 2 3 4 5" -n 4 --temp 0 --ignore-eos --print-ids 2>"$TMP/err")
    [ "$(echo $got | wc -w)" = 4 ] && [ "$(echo $got | tr ' ' '\n' | awk '$1 >= 64' | wc -l)" = 0 ] &&
        ok || bad "synth $a: run -n 4 printed '$got': $(head -c 200 "$TMP/err")"
    $REF logits -m "$f" --ids "1 2 3 4 5" -o "$TMP/fam-$a.f64" 2>/dev/null
    finite "$TMP/fam-$a.f64" $((5 * 64)) && ok || bad "synth $a: logits missing or not finite"
    $REF synth --arch $a -o "$TMP/fam-$a-2.gguf" $(fam_flags $a) --seed 5 2>/dev/null
    cmp -s "$f" "$TMP/fam-$a-2.gguf" && ok || bad "synth $a: the same seed gave another file"
    $REF synth --arch $a -o "$TMP/fam-$a-3.gguf" $(fam_flags $a) --seed 6 2>/dev/null
    [ -f "$TMP/fam-$a-3.gguf" ] && ! cmp -s "$f" "$TMP/fam-$a-3.gguf" && ok || bad "synth $a: another seed gave the same file"
    rm -f "$TMP/fam-$a-2.gguf" "$TMP/fam-$a-3.gguf"
    fam_diff $a "$f"
done
# Quantized: the matrices in Q4_0 / Q8_0 (every width above is a whole number of blocks);
# the FP64 engine runs them, and mattn-gles agrees with it on the same quantized weights.
for aq in rwkv7:q4_0 jamba:q4_0 mamba2:q8_0 zamba2:q8_0; do
    a=${aq%:*} q=${aq#*:} f="$TMP/fam-$a-$q.gguf"
    expect_status 0 "synth --arch $a --type $q" -- $REF synth --arch $a --type $q -o "$f" $(fam_flags $a) --seed 5
    $REF info -m "$f" --json | grep -qi "\"$q\":" && ok || bad "synth $a --type $q: no $q tensors"
    $REF logits -m "$f" --ids "1 2 3 4 5" -o "$TMP/fam-$a-$q.f64" 2>/dev/null
    finite "$TMP/fam-$a-$q.f64" $((5 * 64)) && ok || bad "synth $a --type $q: logits missing or not finite"
    fam_diff $a "$f"
done
# Bad combinations: one line, usage status, nothing written.
expect_status 2 "synth unknown arch" -- $REF synth --arch gpt9 -o "$TMP/x.gguf"
expect_status 2 "synth flag of another family" -- $REF synth --arch llama --d-state 4 -o "$TMP/x.gguf"
expect_msg "synth flag of another family" "--d-state does not apply to --arch llama"
expect_status 2 "synth --expand with --d-inner" -- $REF synth --arch mamba --expand 2 --d-inner 128 -o "$TMP/x.gguf"
expect_status 2 "synth offset beyond period" -- $REF synth --arch jamba --attn-every 4 --attn-offset 4 -o "$TMP/x.gguf"
expect_status 2 "synth too many experts used" -- $REF synth --arch jamba --n-expert 2 --n-expert-used 3 -o "$TMP/x.gguf"
expect_status 2 "synth WKV head size" -- $REF synth --arch rwkv7 --n-embd 64 --head-dim 48 -o "$TMP/x.gguf"
expect_status 2 "synth SSM heads" -- $REF synth --arch mamba2 --d-inner 100 --ssm-head-dim 16 -o "$TMP/x.gguf"
expect_status 2 "synth without a shared-block layer" -- $REF synth --arch zamba2 --n-layer 3 --attn-every 6 --attn-offset 5 -o "$TMP/x.gguf"
expect_status 2 "synth jamba without attention" -- $REF synth --arch jamba --n-layer 2 -o "$TMP/x.gguf"
expect_status 2 "synth adapters of rank 0" -- $REF synth --arch zamba2 --adapter-rank 0 -o "$TMP/x.gguf"
expect_status 2 "synth value out of range" -- $REF synth --arch mamba --d-conv 1 -o "$TMP/x.gguf"
[ ! -e "$TMP/x.gguf" ] && ok || bad "a refused synth left a file"

# The layer pattern of hybrid files, as ../shared/gguf/README.md describes jamba-f32.gguf:
# layers 0 and 2 Mamba with a dense MLP, 1 and 3 attention with MoE.
if [ -f "$SHARED/gguf/jamba-f32.gguf" ]; then
    $REF info -m "$SHARED/gguf/jamba-f32.gguf" --json | grep -q '"layers":\["mamba+ffn","attn+moe","mamba+ffn","attn+moe"\],"n_attn":2,"n_recurrent":2,"n_moe":2' && ok || bad "jamba layer pattern"
fi

# zamba2: convert + logits run; the layer pattern is hf/zamba2/config.json's layers_block_type
# (linear_attention, hybrid, linear_attention, hybrid) with num_mem_blocks 2.
if [ -f "$SHARED/hf/zamba2/config.json" ]; then
    expect_status 0 "convert zamba2" -- $REF convert "$SHARED/hf/zamba2" -o "$TMP/zamba2.gguf"
    expect_status 0 "logits zamba2" -- $REF logits -m "$TMP/zamba2.gguf" --ids "$(cat "$SHARED/hf/zamba2/ids.txt")" -o "$TMP/zamba2.bin"
    [ "$(wc -c <"$TMP/zamba2.bin")" = $((16 * 256 * 8)) ] && ok || bad "zamba2 logits size"
    $REF info -m "$TMP/zamba2.gguf" --json | grep -q '"layers":\["mamba2","shared0+mamba2","mamba2","shared1+mamba2"\]' && ok || bad "zamba2 layer pattern"
else
    skip "$SHARED/hf/zamba2 is absent"
fi
# Zamba v1: hybrid at 2 and 5 (hf/zamba/config.json), whose differing shared_transf copies
# become two blocks.
if [ -f "$SHARED/hf/zamba/config.json" ]; then
    expect_status 0 "convert zamba" -- $REF convert "$SHARED/hf/zamba" -o "$TMP/zamba.gguf"
    $REF info -m "$TMP/zamba.gguf" --json | grep -q '"layers":\["mamba","mamba","shared0+mamba","mamba","mamba","shared1+mamba"\]' && ok || bad "zamba layer pattern"
fi

# tiny-rwkv7 (../shared/README.md: 12 layers, dim 64, one head of 64) stores head_count 0.
if [ -f "$SHARED/models/tiny-rwkv7-834K-f32.gguf" ]; then
    $REF info -m "$SHARED/models/tiny-rwkv7-834K-f32.gguf" --json | grep -q '"n_layer":12,"n_embd":64,"n_head":1,' && ok || bad "rwkv7 info"
fi

# recurrentgemma (docs/GGUF.md): converted from ../shared/hf, then its logits against HF's
# float64 ones (relative error as ../shared/README.md defines it), its greedy ids, and the
# layer pattern of its block_types (recurrent, recurrent, attention).
RG=$SHARED/hf/recurrentgemma
if [ -f "$RG/model.safetensors" ] && [ -f "$RG/logits_f64.bin" ]; then
    expect_status 0 "convert recurrentgemma" -- $REF convert "$RG" -o "$TMP/rg.gguf" -q
    $REF info -m "$TMP/rg.gguf" --json | grep -q '"layers":\["rglru+ffn","rglru+ffn","attn+ffn"\],"n_attn":1,"n_recurrent":2,"n_moe":0' && ok || bad "recurrentgemma layer pattern"
    expect_status 0 "recurrentgemma logits" -- $REF logits -m "$TMP/rg.gguf" --ids "$(cat "$RG/ids.txt")" -o "$TMP/rg.f64"
    [ "$(wc -c <"$TMP/rg.f64")" = "$(wc -c <"$RG/logits_f64.bin")" ] && ok || bad "recurrentgemma logits size"
    rel=$(rel_error "$TMP/rg.f64" "$RG/logits_f64.bin")
    awk -v r="$rel" 'BEGIN { exit !(r <= 1e-9) }' && ok || bad "recurrentgemma logits vs HF float64: relative error $rel"
    got=$($REF run -m "$TMP/rg.gguf" --ids "$(cat "$RG/ids.txt")" -n 8 --temp 0 --print-ids 2>/dev/null)
    [ "$got" = "$(tr '\n' ' ' <"$RG/greedy.txt" | sed 's/ *$//')" ] && ok || bad "recurrentgemma greedy ids: $got"
else
    skip "$RG is absent"
fi

# mattn-gles: the same commands; info names the GL renderer; greedy text equals llama.cpp's.
GLES=build/mattn-gles
if [ -x "$GLES" ] && [ -f "$STORIES" ]; then
    if $GLES info -m "$STORIES" --json | grep -q '"renderer":"'; then
        ok
        # whether the blocks run fused (gles/fuse.c): all 15 ops of each of the 5 layers
        # (stories260K has 78, the last 3 the tail), and the key exists in bench --json too
        $GLES info -m "$STORIES" --json | grep -q '"fused":"75 of 78 ops (qkv+rope+kv, gate/up+glu, matvec+residual)","fused_ops":75' && ok || bad "gles info --json: fused key: $($GLES info -m "$STORIES" --json | grep -o '"fused[^}]*')"
        $GLES bench -m "$STORIES" -p 4 -n 2 -r 1 --json | grep -q '"fused":"75 of 78 ops' && ok || bad "gles bench --json: fused key"
        got=$($GLES run -m "$STORIES" -p "Once upon a time, there was a little girl named Lily." -n 32 --temp 0 2>/dev/null)
        [ "$got" = " She loved to play outside in the park. One day, she saw a big, red ball. She wanted" ] && ok || bad "gles run greedy: '$got'"
        # ---- rwkv7: greedy text agrees (the every-model checks below compare ids)
        RWKV=$SHARED/models/tiny-rwkv7-834K
        if [ -f "$RWKV-f32.gguf" ]; then
            want=$($REF run -m "$RWKV-f32.gguf" -p "The" -n 24 --temp 0 2>/dev/null)
            got=$($GLES run -m "$RWKV-f32.gguf" -p "The" -n 24 --temp 0 2>/dev/null)
            [ -n "$want" ] && [ "$got" = "$want" ] && ok || bad "gles rwkv7 greedy: '$got' vs ref '$want'"
        fi
    else
        skip "mattn-gles has no GL context here: $($GLES info -m "$STORIES" --json | grep -o '"gl_error":"[^"]*"')"
    fi
fi

# mattn-gles on every model of issue #9's list: ../shared/models/*.gguf (stories260K x3,
# tiny-rwkv7 x4; not llamacpp-archs/), ../shared/gguf/*.gguf (x5) and every ../shared/hf
# checkpoint converted here (x8). For each: mattn-diff passes every op at its default tolerance,
# |gl - ref| <= 1e-4 + 1e-3 |ref| per element (docs/GLES.md); `mattn-gles logits` is within
# 1e-4 relative of `mattn-ref logits`; greedy --print-ids (16 tokens) are the same.
# A summary line lists the measured logits errors.
DIFF=build/mattn-diff
RWKV_TEXT='"in the beginning was the word'
STORIES_IDS="1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426"
gl_state=unknown  # unknown, yes or no: whether mattn-gles has a GL context
gl_errors=""
# gl_vs_ref FILE NAME FLAG PROMPT: the three checks on one model (FLAG: --ids or -p)
gl_vs_ref() {
    if [ "$gl_state" = unknown ]; then
        $GLES info -m "$1" --json | grep -q '"renderer":"' && gl_state=yes || gl_state=no
        [ "$gl_state" = no ] && skip "mattn-gles on every model: no GL context"
    fi
    [ "$gl_state" = yes ] || return
    $DIFF -m "$1" "$3" "$4" -q >"$TMP/diff" 2>&1 && ok || bad "mattn-diff $2: $(tail -1 "$TMP/diff")"
    if $REF logits -m "$1" "$3" "$4" -o "$TMP/ref.f64" 2>"$TMP/err" &&
        $GLES logits -m "$1" "$3" "$4" -o "$TMP/gl.f64" 2>"$TMP/err"; then
        rel=$(rel_error "$TMP/gl.f64" "$TMP/ref.f64")
        gl_errors="$gl_errors $2 $rel,"
        awk -v r="$rel" 'BEGIN { exit !(r <= 1e-4) }' && ok || bad "gles logits $2 vs ref: relative error $rel"
    else
        bad "logits $2: $(head -c 300 "$TMP/err")"
    fi
    want=$($REF run -m "$1" "$3" "$4" -n 16 --temp 0 --print-ids 2>/dev/null)
    got=$($GLES run -m "$1" "$3" "$4" -n 16 --temp 0 --print-ids 2>/dev/null)
    [ -n "$want" ] && [ "$got" = "$want" ] && ok || bad "gles greedy ids $2: '$got' vs ref '$want'"
}
if [ -x "$GLES" ]; then
    n_models=0
    for v in "" -q8_0 -q4_0; do
        f=$SHARED/models/stories260K$v.gguf
        [ -f "$f" ] && gl_vs_ref "$f" "stories260K$v" --ids "$STORIES_IDS" && n_models=$((n_models + 1))
    done
    for v in f32 fp16 q5_0 q5_1; do
        f=$SHARED/models/tiny-rwkv7-834K-$v.gguf
        [ -f "$f" ] && gl_vs_ref "$f" "tiny-rwkv7-$v" -p "$RWKV_TEXT" && n_models=$((n_models + 1))
    done
    for a in llama mistral mamba mamba2 jamba; do
        f=$SHARED/gguf/$a-f32.gguf
        [ -f "$f" ] && [ -f "$SHARED/hf/$a/ids.txt" ] || continue
        gl_vs_ref "$f" "gguf/$a-f32" --ids "$(cat "$SHARED/hf/$a/ids.txt")" && n_models=$((n_models + 1))
    done
    for a in recurrentgemma zamba2 zamba llama mistral mamba mamba2 jamba zamba2-shared1 mamba2-groups; do
        [ -f "$SHARED/hf/$a/config.json" ] && [ -f "$SHARED/hf/$a/ids.txt" ] || { skip "$SHARED/hf/$a is absent"; continue; }
        if $REF convert "$SHARED/hf/$a" -o "$TMP/hf-$a.gguf" -q >/dev/null 2>"$TMP/err"; then
            gl_vs_ref "$TMP/hf-$a.gguf" "hf/$a" --ids "$(cat "$SHARED/hf/$a/ids.txt")" && n_models=$((n_models + 1))
        else
            bad "convert hf/$a: $(head -c 300 "$TMP/err")"
        fi
    done
    [ "$gl_state" = yes ] && echo "gles vs ref logits, $n_models models:${gl_errors%,}"
fi

expect_status 2 "no command" -- $REF
expect_status 0 "--help" -- $REF --help
for c in info run logits tokenize synth; do expect_status 0 "$c --help" -- $REF $c --help; done
expect_status 2 "unknown command" -- $REF frobnicate
expect_status 2 "unknown flag" -- $REF info -m x --frob
expect_status 1 "missing file" -- $REF info -m "$TMP/none.gguf"
printf 'not a gguf file at all' >"$TMP/bad.gguf"
expect_status 1 "not GGUF" -- $REF info -m "$TMP/bad.gguf"
grep -q "not a GGUF" "$TMP/err" && ok || bad "not-GGUF message"
if [ -f "$STORIES" ]; then
    head -c 100000 "$STORIES" >"$TMP/trunc.gguf"
    expect_status 1 "truncated file" -- $REF run -m "$TMP/trunc.gguf" -p "x"
fi

# Damaged and unsupported files, made from a synthesized llama (no ../shared needed) by
# same-length byte edits of its header: each must fail with one line naming what is wrong.
SMALL="--n-embd 64 --n-layer 1 --n-head 4 --n-head-kv 2 --n-ff 96 --n-vocab 64"
$REF synth -o "$TMP/m.gguf" $SMALL --seed 1 2>/dev/null
patch_gguf() { perl -0777 -pe "$1" "$TMP/m.gguf" >"$TMP/$2"; cmp -s "$TMP/m.gguf" "$TMP/$2" && bad "patch $2 changed nothing"; }
cp "$TMP/m.gguf" "$TMP/v4.gguf"
printf '\004' | dd of="$TMP/v4.gguf" bs=1 seek=4 conv=notrunc 2>/dev/null
expect_status 1 "unsupported GGUF version" -- $REF run -m "$TMP/v4.gguf" --ids "1"
expect_msg "unsupported GGUF version" "version 4 is not supported"
# general.architecture: u64 length 5, then "llama"
patch_gguf 's/(general\.architecture\x08\0\0\0\x05\0{7})llama/$1gpt9x/' arch.gguf
expect_status 1 "unknown architecture" -- $REF run -m "$TMP/arch.gguf" --ids "1"
expect_msg "unknown architecture" "architecture 'gpt9x' is not supported"
patch_gguf 's/output_norm\.weight/output_norm.weighx/' missing.gguf
expect_status 1 "missing tensor" -- $REF run -m "$TMP/missing.gguf" --ids "1"
expect_msg "missing tensor" "tensor 'output_norm.weight' is missing"
# ffn_up is [n_embd 64, n_ff 96]: swapping its two dims keeps its size and breaks its shape.
patch_gguf 's/(blk\.0\.ffn_up\.weight\x02\0\0\0)(.{8})(.{8})/$1$3$2/s' shape.gguf
expect_status 1 "mis-shaped tensor" -- $REF run -m "$TMP/shape.gguf" --ids "1"
expect_msg "mis-shaped tensor" "tensor 'blk.0.ffn_up.weight' has shape \[96, 64, 1, 1\], expected \[64, 96"
# output_norm.weight F32 (type 0) -> I32 (type 26): the same 4 bytes an element, no dequantizer.
patch_gguf 's/(output_norm\.weight\x01\0\0\0.{8})\0\0\0\0/$1\x1a\0\0\0/s' quant.gguf
expect_status 1 "unsupported quant type" -- $REF run -m "$TMP/quant.gguf" --ids "1"
expect_msg "unsupported quant type" "'output_norm.weight' has type I32"
# No tokenizer for a text prompt (synth writes a placeholder vocabulary): suggests --ids.
expect_status 1 "text prompt without a tokenizer" -- $REF run -m "$TMP/m.gguf" -p "hello"
expect_msg "text prompt without a tokenizer" "--ids"
# Truncated anywhere: the header, the metadata, the tensor infos, the data.
for n in 3 20 200 2000 $(($(wc -c <"$TMP/m.gguf") - 1)); do
    head -c $n "$TMP/m.gguf" >"$TMP/t.gguf"
    expect_status 1 "truncated at $n bytes" -- $REF run -m "$TMP/t.gguf" --ids "1"
done
expect_msg "truncated" "fetch"
expect_status 1 "synth into a missing dir" -- $REF synth -o "$TMP/no/such/s.gguf" $SMALL
[ ! -e "$TMP/no/such/s.gguf.tmp" ] && ok || bad "synth left a temporary file"
: >"$TMP/empty.gguf"
expect_status 1 "empty file" -- $REF info -m "$TMP/empty.gguf"
expect_msg "empty file" "not a GGUF file.*convert"
expect_status 1 "a directory as the model" -- $REF info -m "$TMP"
expect_msg "a directory as the model" "not a regular file"
if [ "$(id -u)" != 0 ]; then
    cp "$TMP/m.gguf" "$TMP/locked.gguf" && chmod 000 "$TMP/locked.gguf"
    expect_status 1 "unreadable file" -- $REF info -m "$TMP/locked.gguf"
    expect_msg "unreadable file" "Permission denied"
else
    skip "unreadable file: root reads every file"
fi

# mattn-gles without EGL: an empty EGL vendor list (glvnd) leaves no display on any path;
# forcing GBM on a machine without /dev/dri fails the same way. Both say to use mattn-ref.
if [ -x "$GLES" ]; then
    expect_status 1 "gles without EGL" -- env __EGL_VENDOR_LIBRARY_FILENAMES=/nonexistent.json $GLES run -m "$TMP/m.gguf" --ids "1" -n 1 --print-ids
    expect_msg "gles without EGL" "no EGL/GL.*use mattn-ref"
    if [ ! -d /dev/dri ]; then
        expect_status 1 "gles forced to GBM without /dev/dri" -- env MATTN_EGL=gbm $GLES run -m "$TMP/m.gguf" --ids "1" -n 1 --print-ids
        expect_msg "gles forced to GBM without /dev/dri" "MATTN_EGL=gbm.*use mattn-ref"
    fi
    expect_status 2 "gles with a bad MATTN_EGL" -- env MATTN_EGL=bogus $GLES run -m "$TMP/m.gguf" --ids "1" -n 1 --print-ids
    # A shader the driver rejects (GL_SHADER_DIR loads kernels from disk): the driver's log.
    if $GLES info -m "$TMP/m.gguf" --json | grep -q '"renderer":"'; then
        mkdir -p "$TMP/shaders" && cp shaders/* "$TMP/shaders/"
        echo 'void main() { mattn_undeclared = 1.0; }' >"$TMP/shaders/rmsnorm.comp"
        expect_status 1 "gles shader compile failure" -- env GL_SHADER_DIR="$TMP/shaders" $GLES run -m "$TMP/m.gguf" --ids "1" -n 1 --print-ids
        expect_msg "gles shader compile failure" "rmsnorm.comp does not compile.*mattn_undeclared.*use mattn-ref"
        expect_status 1 "gles logits into a missing dir" -- $GLES logits -m "$TMP/m.gguf" --ids "1" -o "$TMP/no/such/g.bin"
        expect_status 2 "gles negative temperature" -- $GLES run -m "$TMP/m.gguf" --ids "1" --temp -1
    else
        skip "gles shader checks: no GL context"
    fi
fi

# -f: a directory is an error in every command that reads a prompt file; "-" reads stdin.
if [ -f "$STORIES" ]; then
    mkdir -p "$TMP/adir"
    expect_status 1 "run -f DIR" -- $REF run -m "$STORIES" -f "$TMP/adir" -n 2
    expect_msg "run -f DIR" "-f: '.*adir' is a directory"
    expect_status 1 "tokenize -f DIR" -- $REF tokenize -m "$STORIES" -f "$TMP/adir"
    expect_msg "tokenize -f DIR" "is a directory"
    expect_status 1 "logits -f DIR" -- $REF logits -m "$STORIES" -f "$TMP/adir" -o "$TMP/fd.bin"
    [ ! -e "$TMP/fd.bin" ] && ok || bad "logits -f DIR left $TMP/fd.bin"
    # stdin: the same ids as -p (llama.cpp's ids for the stories prompt, ../shared/vectors)
    got=$(printf '%s' "Once upon a time, there was a little girl named Lily." | $REF tokenize -m "$STORIES" -f -)
    [ "$got" = "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426" ] && ok || bad "tokenize -f -: $got"
    got=$(printf '%s' "Once upon a time, there was a little girl named Lily." | $REF run -m "$STORIES" -f - -n 32 --temp 0 2>/dev/null)
    [ "$got" = " She loved to play outside in the park. One day, she saw a big, red ball. She wanted" ] && ok || bad "run -f -: '$got'"
    # mattn-diff: 0 agree, 3 disagree (a zero tolerance), 2 bad usage, 1 unreadable model
    if [ -x "$DIFF" ] && [ "$gl_state" = yes ]; then
        expect_status 1 "mattn-diff -f DIR" -- $DIFF -m "$STORIES" -f "$TMP/adir"
        expect_msg "mattn-diff -f DIR" "is a directory"
        expect_status 0 "mattn-diff agrees" -- $DIFF -m "$STORIES" --ids "1 403 407" -q
        expect_status 3 "mattn-diff disagrees" -- $DIFF -m "$STORIES" --ids "1 403 407" -q --atol 0 --rtol 0
        expect_status 2 "mattn-diff bad usage" -- $DIFF -m "$STORIES" --no-such-flag
        expect_status 2 "mattn-diff without -m" -- $DIFF --ids "1"
        expect_status 1 "mattn-diff missing model" -- $DIFF -m "$TMP/none.gguf" --ids "1"
    fi
fi

# Standard output that cannot be written (a full disk: /dev/full) is a failure, not exit 0.
if [ -f "$STORIES" ] && [ -w /dev/full ]; then
    # (run's stderr also has its seed line: the error is its one error line)
    $REF run -m "$STORIES" -p Once -n 8 >/dev/full 2>"$TMP/err"
    [ $? = 1 ] && [ "$(grep -c 'error' "$TMP/err")" = 1 ] && ok || bad "run > /dev/full: $(cat "$TMP/err")"
    expect_msg "run > /dev/full" "cannot write the generated text to standard output"
    expect_status 1 "info --json > /dev/full" -- sh -c "$REF info -m '$STORIES' --json >/dev/full"
    expect_msg "info --json > /dev/full" "cannot write to standard output"
    expect_status 1 "tokenize > /dev/full" -- sh -c "$REF tokenize -m '$STORIES' -p Once >/dev/full"
    expect_status 1 "--help > /dev/full" -- sh -c "$REF --help >/dev/full"
    if [ -x "$GLES" ] && [ "$gl_state" = yes ]; then
        $GLES run -m "$STORIES" -p Once -n 4 >/dev/full 2>"$TMP/err"
        [ $? = 1 ] && grep -q "error: cannot write the generated text" "$TMP/err" && ok || bad "gles run > /dev/full: $(cat "$TMP/err")"
        expect_status 1 "mattn-diff > /dev/full" -- sh -c "$DIFF -m '$STORIES' --ids '1 403' >/dev/full"
    fi
fi

# Logits pinned: scripts/logits-sha.sh against tests/data/logits.sha256 (the sums the code gave
# when that file was written): a restructuring reproduces every number exactly. The gles lines
# count only on the renderer they were written on (another llvmpipe or GPU rounds otherwise).
PIN=tests/data/logits.sha256
if [ -f "$PIN" ]; then
    SHARED=$SHARED sh scripts/logits-sha.sh >"$TMP/sha" 2>"$TMP/err" || bad "logits-sha.sh: $(head -c 300 "$TMP/err")"
    if [ "$(head -1 "$TMP/sha")" = "$(head -1 "$PIN")" ]; then
        filter() { grep -v '^#' "$1"; }
    else
        skip "logits-sha: gles lines written on '$(head -1 "$PIN")', here '$(head -1 "$TMP/sha")'"
        filter() { grep -v '^#' "$1" | grep -v ' gles'; }
    fi
    filter "$TMP/sha" | sort >"$TMP/sha.got"
    filter "$PIN" | sort >"$TMP/sha.want"
    # a line of the pin whose model is absent here (../shared without it) is not a failure
    n_diff=0
    while read -r h kind name; do
        grep -q " $kind $name\$" "$TMP/sha.got" || continue
        grep -qx "$h $kind $name" "$TMP/sha.got" || { bad "logits-sha: $kind $name differs from $PIN"; n_diff=$((n_diff + 1)); }
    done <"$TMP/sha.want"
    grep -q '^error' "$TMP/sha.got" && bad "logits-sha: $(grep '^error' "$TMP/sha.got" | head -1)"
    [ "$n_diff" = 0 ] && [ -s "$TMP/sha.got" ] && ok
fi

echo "cli: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
