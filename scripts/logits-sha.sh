#!/bin/sh
# logits-sha.sh: one sha256 per (engine, model) of the logits every model gives today, plus
# the bytes of every GGUF that `convert` and `synth` write, so that a refactoring can show it
# changed no number: same kernels, same order, same files. The models: every ../shared/hf
# checkpoint of a family mattn runs (converted here), ../shared/gguf, ../shared/models (with
# llamacpp-archs/) and a tiny `synth` model of every family (f32 and q4_0, seed 1).
# tests/data/logits.sha256 holds the lines the code gave when it was written; tests/cli.sh
# runs this script and compares. A change that alters numbers on purpose rewrites that file
# with `sh scripts/logits-sha.sh -o tests/data/logits.sha256` and says why in its commit.
#
# Usage: SHARED=../shared sh scripts/logits-sha.sh [-o FILE]
# Output: "SHA256 KIND NAME" lines, KIND one of convert, synth, ref, gles (logits), ref-run, gles-run (sampled ids); a first line
# "# gles: RENDERER" names the GL renderer (gles lines are absent without a GL context).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
REF=$ROOT/build/mattn-ref
GLES=$ROOT/build/mattn-gles
out=""
case ${1:-} in
-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
-o) out=${2:?-o needs a file}; [ -d "$(dirname "$out")" ] || { echo "logits-sha: no directory for $out" >&2; exit 2; } ;;
"") ;;
*) echo "usage: sh scripts/logits-sha.sh [-o FILE]" >&2; exit 2 ;;
esac
[ -x "$REF" ] || { echo "logits-sha: $REF is not built; run make" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
IDS="1 17 42 99 7 120 3 127 64 5 100 31"

renderer=$("$GLES" info -m "$ROOT/fuzz/corpus/pipeline/llama-1L-f32.gguf" --json 2>/dev/null |
    sed -n 's/.*"renderer":"\([^"]*\)".*/\1/p')
[ -x "$GLES" ] || renderer=""
echo "# gles: ${renderer:-none}" >"$TMP/sums"

sum() { sha256sum "$1" | cut -d' ' -f1; }
# model FILE NAME IDS: the logits of both engines
model() {
    if "$REF" logits -m "$1" --ids "$3" -o "$TMP/ref.f64" 2>"$TMP/err"; then
        echo "$(sum "$TMP/ref.f64") ref $2" >>"$TMP/sums"
    else
        echo "error ref $2: $(head -c 200 "$TMP/err")" >>"$TMP/sums"
    fi
    [ -n "$renderer" ] || return 0
    if "$GLES" logits -m "$1" --ids "$3" -o "$TMP/gl.f64" 2>"$TMP/err"; then
        echo "$(sum "$TMP/gl.f64") gles $2" >>"$TMP/sums"
    else
        echo "error gles $2: $(head -c 200 "$TMP/err")" >>"$TMP/sums"
    fi
    # the one-row decode path too: 12 tokens sampled with a fixed seed after the prompt
    for eng in ref gles; do
        [ $eng = ref ] && bin=$REF || bin=$GLES
        if "$bin" run -m "$1" --ids "$3" -n 12 --temp 0.9 --seed 3 --print-ids >"$TMP/ids" 2>"$TMP/err"; then
            echo "$(sum "$TMP/ids") $eng-run $2" >>"$TMP/sums"
        else
            echo "error $eng-run $2: $(head -c 200 "$TMP/err")" >>"$TMP/sums"
        fi
    done
}

for a in llama mistral mamba mamba2 mamba2-groups jamba recurrentgemma zamba2 zamba2-shared1 zamba; do
    d=$SHARED/hf/$a
    [ -f "$d/config.json" ] && [ -f "$d/ids.txt" ] || continue
    if "$REF" convert "$d" -o "$TMP/hf.gguf" -q >/dev/null 2>"$TMP/err"; then
        echo "$(sum "$TMP/hf.gguf") convert hf/$a" >>"$TMP/sums"
        model "$TMP/hf.gguf" "hf/$a" "$(cat "$d/ids.txt")"
    else
        echo "error convert hf/$a: $(head -c 200 "$TMP/err")" >>"$TMP/sums"
    fi
done
for f in "$SHARED"/gguf/*.gguf; do
    [ -f "$f" ] || continue
    a=$(basename "$f" -f32.gguf)
    ids=$IDS
    [ -f "$SHARED/hf/$a/ids.txt" ] && ids=$(cat "$SHARED/hf/$a/ids.txt")
    model "$f" "gguf/$(basename "$f")" "$ids"
done
for f in "$SHARED"/models/*.gguf "$SHARED"/models/llamacpp-archs/*.gguf; do
    [ -f "$f" ] || continue
    model "$f" "models/${f#"$SHARED"/models/}" "$IDS"
done
for a in llama rwkv7 mamba mamba2 jamba recurrentgemma zamba2 zamba; do
    for t in f32 q4_0; do
        # shellcheck disable=SC2046
        if "$REF" synth -o "$TMP/s.gguf" --arch "$a" --type "$t" --seed 1 \
            $(sh "$ROOT/scripts/bench-families.sh" --small-flags "$a") >/dev/null 2>"$TMP/err"; then
            echo "$(sum "$TMP/s.gguf") synth $a-$t" >>"$TMP/sums"
            model "$TMP/s.gguf" "synth/$a-$t" "1 17 42 9 7 50 3 28 63 5"
        else
            echo "error synth $a-$t: $(head -c 200 "$TMP/err")" >>"$TMP/sums"
        fi
    done
done
if [ -n "$out" ]; then
    mv "$TMP/sums" "$out.tmp" && mv "$out.tmp" "$out"
else
    cat "$TMP/sums"
fi
