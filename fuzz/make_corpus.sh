#!/bin/sh
# fuzz/make_corpus.sh: writes the seed corpus of fuzz_pipeline (fuzz/corpus/pipeline/): tiny
# llama models from `mattn-ref synth`, one per weight type, every one a few KB so that the
# whole directory stays under 200 KB. Run from the repository root after `make`; the files
# are committed, so this only needs rerunning when synth's output format changes.
set -eu
REF=${REF:-build/mattn-ref}
out=fuzz/corpus/pipeline
mkdir -p "$out"
# n_embd 32 and n_ff 64 are multiples of every block size synth writes (32).
for t in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1; do
    "$REF" synth -o "$out/llama-1L-$t.gguf" --n-embd 32 --n-layer 1 --n-head 4 --n-head-kv 2 \
        --n-ff 64 --n-vocab 32 --type "$t" --seed 1 2>/dev/null
done
"$REF" synth -o "$out/llama-2L-mqa-f16.gguf" --n-embd 32 --n-layer 2 --n-head 4 --n-head-kv 1 \
    --n-ff 32 --n-vocab 16 --type f16 --seed 2 2>/dev/null
du -b -s "$out"
