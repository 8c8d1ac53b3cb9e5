#!/bin/sh
# fuzz/run.sh: replays the committed corpora, then fuzzes each libFuzzer target.
#   sh fuzz/run.sh build/fuzz/fuzz_gguf [build/fuzz/fuzz_other ...]   (make fuzz does this)
# Env: SHARED (../shared), FUZZ_SECONDS (60 per target), FUZZ_MAX_LEN (libFuzzer -max_len;
# 1.5 MiB for gguf, pipeline, convert and safetensors, else libFuzzer's own default).
# Prints, per target, one line "RESULT fuzz_X seconds=S executions=N corpus_files=F
# corpus_bytes=B" (the final, in-memory-merged corpus of that run) for docs/FUZZING.md.
# For target fuzz_X: seeds = fuzz/corpus/X/ + tests/data/X/ (+ small ../shared GGUFs for
# gguf and pipeline, ../shared/hf checkpoints for convert and safetensors; a one-byte seed
# when there is nothing else), copied into a temp dir that is
# thrown away. Replay runs the binary on fuzz/corpus/X/* and tests/data/X/*; fuzzing uses
# fuzz/X.dict when present. Any crash/leak/oom/timeout file fails the script (exit 1);
# the files are kept in build/fuzz/artifacts-X/ for reproduction (./fuzz_X FILE).
set -u

SHARED=${SHARED:-../shared}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
status=0

if [ $# -eq 0 ]; then
    echo "usage: sh fuzz/run.sh build/fuzz/fuzz_X ..." >&2
    exit 2
fi

for bin in "$@"; do
    base=$(basename "$bin")
    name=${base#fuzz_}
    if [ ! -x "$bin" ]; then
        echo "fuzz/run.sh: $bin is not built" >&2
        status=1
        continue
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/mattn-fuzz-$name.XXXXXX") || exit 1
    corpus=$work/corpus
    artifacts=build/fuzz/artifacts-$name
    mkdir -p "$corpus" "$artifacts"

    # 1. Replay: each committed input once (libFuzzer runs the files given as arguments).
    replay=""
    for dir in "fuzz/corpus/$name" "tests/data/$name"; do
        [ -d "$dir" ] || continue
        for f in "$dir"/*; do
            [ -f "$f" ] && replay="yes"
        done
    done
    if [ -n "$replay" ]; then
        echo "== $base: replaying fuzz/corpus/$name tests/data/$name"
        # -artifact_prefix keeps any crash copy out of the source tree
        find "fuzz/corpus/$name" "tests/data/$name" -type f 2>/dev/null |
            xargs "$bin" -artifact_prefix="$artifacts/" -rss_limit_mb=2048 -timeout=10 \
                >"$work/replay.log" 2>&1
        rc=$?
        if [ $rc -ne 0 ]; then
            echo "== $base: replay FAILED (exit $rc):" >&2
            tail -n 40 "$work/replay.log" >&2
            status=1
        fi
    fi

    # 2. Seeds: the committed corpus and regressions, plus small real files for gguf.
    for dir in "fuzz/corpus/$name" "tests/data/$name"; do
        [ -d "$dir" ] && find "$dir" -type f -exec cp {} "$corpus"/ \;
    done
    max_len=${FUZZ_MAX_LEN:-}
    if [ "$name" = convert ]; then
        # ../shared/hf checkpoints packed in fuzz_convert's format (see fuzz/fuzz_convert.c).
        for d in "$SHARED"/hf/*/; do
            [ -f "$d/config.json" ] && [ -f "$d/model.safetensors" ] || continue
            nc=$(wc -c <"$d/config.json")
            [ "$nc" -lt 65536 ] || continue
            { printf "\\$(printf %o $((nc & 255)))\\$(printf %o $((nc >> 8)))\\0\\0"
              cat "$d/config.json" "$d/model.safetensors"; } >"$corpus/hf-$(basename "$d")"
        done
        max_len=${max_len:-1572864}
    fi
    if [ "$name" = safetensors ]; then
        for f in "$SHARED"/hf/*/model.safetensors; do
            [ -f "$f" ] && cp "$f" "$corpus/$(basename "$(dirname "$f")").safetensors"
        done
        max_len=${max_len:-1572864}
    fi
    if [ "$name" = pipeline ]; then
        for f in "$SHARED"/models/stories260K.gguf "$SHARED"/gguf/*.gguf; do
            [ -f "$f" ] && cp "$f" "$corpus"/
        done
        max_len=${max_len:-1572864}
    fi
    if [ "$name" = gguf ]; then
        # Not the multi-MB vocab files: slow to mutate and no new structure.
        for f in "$SHARED"/models/stories260K*.gguf "$SHARED"/gguf/*.gguf \
                 "$SHARED"/models/tiny-rwkv7-834K-q5_0.gguf; do
            [ -f "$f" ] && cp "$f" "$corpus"/
        done
        max_len=${max_len:-1572864}
    fi
    if [ -z "$(ls -A "$corpus")" ]; then
        printf 'x' >"$corpus/seed"
    fi

    # 3. Fuzz.
    set -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$artifacts/" -print_final_stats=1
    [ -f "fuzz/$name.dict" ] && set -- "$@" -dict="fuzz/$name.dict"
    [ -n "$max_len" ] && set -- "$@" -max_len="$max_len"
    before=$(ls "$artifacts" | grep -c -E '^(crash|leak|oom|timeout)-' || true)
    echo "== $base: fuzzing ${FUZZ_SECONDS}s from $(ls "$corpus" | wc -l) seeds"
    t0=$(date +%s)
    "$bin" "$@" "$corpus" >"$work/fuzz.log" 2>&1
    rc=$?
    t1=$(date +%s)
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+[[:space:]]+DONE' \
        "$work/fuzz.log" | sed "s/^/   /"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
    # One line per target for docs/FUZZING.md: target, seconds, executions, final corpus.
    echo "RESULT $base seconds=$((t1 - t0)) executions=${execs:-?} corpus_files=$(ls "$corpus" | wc -l) corpus_bytes=$(cat "$corpus"/* | wc -c)"
    found=$(ls "$artifacts" | grep -E '^(crash|leak|oom|timeout)-' || true)
    after=$(echo "$found" | grep -c . || true)
    if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
        echo "== $base: FAILED (exit $rc); inputs in $artifacts/:" >&2
        echo "$found" | sed "s|^|   $artifacts/|" >&2
        grep -E 'ERROR|SUMMARY|runtime error|check failed' "$work/fuzz.log" | head -n 10 >&2
        status=1
    else
        echo "== $base: ok, corpus $(ls "$corpus" | wc -l) files"
    fi
    rm -rf "$work"
    set --
done
exit $status
