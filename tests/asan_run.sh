#!/bin/sh
# asan_run.sh SUITE [ARGS]: runs one ASan+UBSan binary for `make check` and judges its leaks.
# With ASAN_OPTIONS exitcode=23 (make check sets it) a run that found a leak exits 23. A leak
# is mattn's when the function that called the allocator (frame #1 of its stack) is in
# mattn's sources (shared/ ref/ gles/ app/ tools/ tests/): that fails. A leak allocated inside the GL driver (a Mesa library, or
# llvmpipe's JIT code, which LSan shows as "<unknown module>" and no suppression rule can
# name) is listed and ignored. A failed test or a UBSan/ASan error always fails.
log=$(mktemp)
"$@" >"$log" 2>&1
rc=$?
cat "$log"
if [ "$rc" = 23 ] && ! grep -qE '^\[  FAILED  \]|runtime error|ERROR: AddressSanitizer' "$log"; then
    if awk '
        /^(Direct|Indirect) leak of/ { inblk = 1; next }
        inblk && /^ *#1 / { if ($0 ~ / in [^ ]+ (shared|ref|gles|app|tools|tests)\/[^ ]+:[0-9]+/) mine++; inblk = 0 }
        END { exit mine > 0 }' "$log"; then
        echo "asan_run: every leak above was allocated inside the GL driver (not mattn code): ignored"
        rc=0
    fi
fi
rm -f "$log"
exit "$rc"
