#!/bin/sh
# bench-families.sh: GPU prompt and generation speed of a synthesized ~1B model of every
# family (issue #9). Writes each family's default `mattn-ref synth` shape (seed 1) into DIR,
# keeping files already there, then runs `mattn-gles bench --json` on each and prints one
# markdown table row per model. Needs only build/mattn-ref and build/mattn-gles: no ../shared,
# no network. A family mattn-gles cannot run yet gets a row saying so.
#
# Usage: sh scripts/bench-families.sh DIR
# Environment (defaults in brackets):
#   TYPES         weight types to write and measure ["q4_0 f16"]
#   FAMILIES      ["llama rwkv7 mamba mamba2 jamba recurrentgemma zamba2 zamba"]
#   BENCH_P       prompt tokens [512]     BENCH_N  generated tokens [128]
#   BENCH_R       repeats (median)  [3]   SYNTH_JOBS  models written at once [number of cores]
#   SYNTH_SMALL=1 tiny shapes instead of the ~1B defaults (to try the script on llvmpipe:
#                 SYNTH_SMALL=1 BENCH_P=16 BENCH_N=8 BENCH_R=1 sh scripts/bench-families.sh /tmp/b)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=$ROOT/build/mattn-ref
GLES=$ROOT/build/mattn-gles
TYPES=${TYPES:-q4_0 f16}
FAMILIES=${FAMILIES:-llama rwkv7 mamba mamba2 jamba recurrentgemma zamba2 zamba}
BENCH_P=${BENCH_P:-512}
BENCH_N=${BENCH_N:-128}
BENCH_R=${BENCH_R:-3}
SYNTH_SMALL=${SYNTH_SMALL:-0}
SYNTH_JOBS=${SYNTH_JOBS:-$(nproc 2>/dev/null || echo 2)}
SEED=1

model_path() {  # family type
    if [ "$SYNTH_SMALL" = 1 ]; then echo "$DIR/$1-small-$2.gguf"; else echo "$DIR/$1-$2.gguf"; fi
}

# The shape flags of SYNTH_SMALL: every width a whole number of Q4_0 blocks. tests/cli.sh
# builds its tiny models from these too (their parameter counts are hand-checked there).
small_flags() {
    case $1 in
    llama) echo "--n-embd 64 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 96 --n-vocab 64" ;;
    rwkv7) echo "--n-embd 64 --n-layer 2 --head-dim 32 --n-ff 128 --lora-decay 8 --lora-iclr 8 --lora-value 8 --lora-gate 16 --n-vocab 64" ;;
    mamba) echo "--n-embd 64 --n-layer 2 --d-state 8 --n-vocab 64" ;;
    mamba2) echo "--n-embd 64 --n-layer 2 --d-state 16 --ssm-head-dim 16 --n-group 2 --n-vocab 64" ;;
    jamba) echo "--n-embd 64 --n-layer 4 --n-head 4 --n-head-kv 2 --n-ff 96 --d-state 8 --n-expert 4 --n-expert-used 2 --attn-every 2 --attn-offset 1 --n-vocab 64" ;;
    recurrentgemma) echo "--n-embd 64 --n-layer 3 --n-head 2 --n-head-kv 1 --n-ff 96 --window 4 --n-vocab 64" ;;
    zamba2) echo "--n-embd 64 --n-layer 4 --n-head 4 --d-state 16 --ssm-head-dim 16 --attn-every 2 --attn-offset 1 --shared-blocks 2 --adapter-rank 8 --n-vocab 64" ;;
    zamba) echo "--n-embd 64 --n-layer 4 --n-head 4 --d-state 8 --ssm-heads 2 --attn-every 2 --attn-offset 1 --n-vocab 64" ;;
    *) return 1 ;;
    esac
}

case ${1:-} in
-h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"")
    echo "usage: sh scripts/bench-families.sh DIR (see --help)" >&2
    exit 2
    ;;
--small-flags)  # FAMILY: the SYNTH_SMALL shape flags (tests/cli.sh synthesizes these too)
    small_flags "$2"
    exit $?
    ;;
--synth-one)  # (internal) DIR FAMILY:TYPE: write one model, for the parallel step below
    DIR=$2 a=${3%:*} t=${3#*:}
    f=$(model_path "$a" "$t")
    flags=""
    [ "$SYNTH_SMALL" != 1 ] || flags=$(small_flags "$a")
    # shellcheck disable=SC2086
    if "$REF" synth --arch "$a" --type "$t" --seed "$SEED" -o "$f" $flags 2>"$f.log"; then
        tail -1 "$f.log" >&2
    else
        echo "bench-families: synth $a $t failed: $(tail -1 "$f.log")" >&2
    fi
    rm -f "$f.log"
    exit 0
    ;;
esac
DIR=$1
for b in "$REF" "$GLES"; do
    [ -x "$b" ] || { echo "bench-families: $b is missing (run make first)" >&2; exit 1; }
done
mkdir -p "$DIR" || exit 1

# 1. Write the missing models, SYNTH_JOBS at a time (each holds its model in memory while
# it is written: ~2.5 GB for an f16 1.2B model).
todo=""
for t in $TYPES; do
    for a in $FAMILIES; do
        small_flags "$a" >/dev/null || { echo "bench-families: unknown family '$a'" >&2; exit 2; }
        [ -f "$(model_path "$a" "$t")" ] || todo="$todo $a:$t"
    done
done
if [ -n "$todo" ]; then
    echo "bench-families: writing$todo, $SYNTH_JOBS at a time" >&2
    export SYNTH_SMALL
    # shellcheck disable=SC2086
    printf '%s\n' $todo | xargs -P "$SYNTH_JOBS" -n 1 sh "$0" --synth-one "$DIR"
fi

# 2. Measure each model and print its row.
json_str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
json_num() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"; }
# shellcheck disable=SC2016
rate='{ if ($1 >= 100) printf "%.0f", $1; else printf "%.3g", $1 }'  # tok/s, 3+ digits
status=0
echo "| family | params | type | file size | prompt tok/s ($BENCH_P) | gen tok/s ($BENCH_N) | renderer |"
echo "|---|---:|---|---:|---:|---:|---|"
for t in $TYPES; do
    for a in $FAMILIES; do
        f=$(model_path "$a" "$t")
        if [ ! -f "$f" ]; then
            echo "| $a | | $t | | not written | | |"
            status=1
            continue
        fi
        info=$("$REF" info -m "$f" --json 2>/dev/null)
        params=$(echo "$info" | json_num n_params | awk '{ if ($1 >= 1e6) printf "%.1f M", $1 / 1e6; else print $1 }')
        size=$(wc -c <"$f" | awk '{ if ($1 >= 1048576) printf "%.1f MiB", $1 / 1048576; else printf "%.1f KiB", $1 / 1024 }')
        out=$("$GLES" bench -m "$f" -p "$BENCH_P" -n "$BENCH_N" -r "$BENCH_R" --json 2>"$f.err")
        rc=$?
        if [ $rc = 0 ]; then
            pp=$(echo "$out" | json_num prompt_tok_s | awk "$rate")
            tg=$(echo "$out" | json_num gen_tok_s | awk "$rate")
            echo "| $a | $params | $t | $size | $pp | $tg | $(echo "$out" | json_str renderer) |"
        elif grep -q "use mattn-ref" "$f.err"; then
            echo "| $a | $params | $t | $size | not on GLES yet | | |"
        else
            echo "| $a | $params | $t | $size | error: $(tail -1 "$f.err" | tr '|' '/') | | |"
            status=1
        fi
        rm -f "$f.err"
    done
done
exit $status
