// check.h: helpers shared by the cmocka suites (include after <cmocka.h>'s prerequisites).
// assert_close compares arrays with |got - want| <= atol + rtol*|want| and reports the first
// bad index; shared_path finds a ../shared file or tells the caller to skip.
#pragma once

#include <stddef.h>
#include <stdint.h>

// Path of a file under the shared data directory ($MATTN_SHARED, else ../shared), written
// into buf. Returns buf when the file exists, else NULL after printing a skip message.
const char* shared_path(char* buf, size_t cap, const char* rel);

// Reads a whole file into a malloc'ed buffer (NUL-terminated beyond size). NULL on error.
uint8_t* read_file(const char* path, size_t* size);

// Relative error as ../shared/README.md defines it: max|got-ref| / max|ref|.
double rel_error(const double* got, const double* ref, size_t n);

// Prints a report and fails the cmocka test when any element is off.
void assert_close_impl(const double* got, const double* want, size_t n, double atol, double rtol,
                       const char* label, const char* file, int line);
#define assert_close(got, want, n, atol, rtol, label)                                              \
    assert_close_impl(got, want, n, atol, rtol, label, __FILE__, __LINE__)

// Reads whitespace-separated ids from a ../shared text file into ids[0..cap); returns the
// count, or -1 (after the skip message) when the file is absent.
int read_ids(const char* rel, int32_t* ids, int cap);

// Reads a ../shared float32 file of exactly n values into malloc'ed doubles (NULL when absent;
// a wrong size fails the test).
double* read_f32(const char* rel, size_t n);

// Index of the largest x[i], the lowest index on ties (llama.cpp's greedy rule).
int argmax(const double* x, int n);

// The FP64 engine's logits [n][n_vocab] for ids fed in chunks of `chunk` positions (n: one
// prefill, 1: token by token) with `threads` threads, malloc'ed. Fails the test on an error.
struct Model;
double* run_logits(const struct Model* m, const int32_t* ids, int n, int chunk, int threads);

// The FP64 engine on ../shared/hf/<name> (ids.txt, greedy.txt, logits_f64.bin): logits within
// tol of HF float64 (relative error, printed), argmax equal at every position, greedy.txt
// token by token, prefill == token-by-token decode to 1e-12, 1 thread == 3 threads, a reset
// engine repeats itself. Returns the prefill logits (n x n_vocab, *n set; the caller frees
// them), or NULL when the reference files are absent (the caller skips).
double* check_hf_model(const struct Model* m, const char* name, double tol, int* n);

// 1 when MATTN_QUICK is set (valgrind runs): suites shrink their loops.
int quick_mode(void);
