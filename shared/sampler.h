// sampler.h: llama.cpp's default sampler chain in double precision, with a seeded RNG.
// Chain: repetition penalty over the last N tokens -> top-k -> top-p -> min-p -> temperature
// -> draw (llama.cpp common_sampler order, with dry/typical/xtc/top-n-sigma left out).
// Not here: frequency/presence penalties, mirostat, grammars, logit bias.
// Each step is also public and works on a struct SamplerCand array, so tests can feed it
// hand-computed distributions. Test: make build/tests/test_sampler && build/tests/test_sampler
#pragma once

#include <stdint.h>

#include "err.h"

// ---------------------------------------------------------------------------------------
// rng: xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64.
//
// Seeding from a uint64 seed: let x = seed; four times: x += 0x9e3779b97f4a7c15;
//   z = x; z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
//   s[i] = z ^ (z >> 31)                          (i = 0, 1, 2, 3; all arithmetic mod 2^64)
// next(): result = rotl(s[1] * 5, 7) * 9; t = s[1] << 17;
//   s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
//   return result                                 (rotl(x, k) = (x << k) | (x >> (64 - k)))
// uniform(): (next() >> 11) * 2^-53, a double in [0, 1) with 53 random bits.
// The same seed gives the same sequence on every machine; splitmix64 never yields an
// all-zero xoshiro state.

struct SamplerRng {
    uint64_t s[4];
};

// Seeds rng from seed as described above.
void sampler_rng_seed(struct SamplerRng* rng, uint64_t seed);
// Returns the next 64-bit output and advances the state.
uint64_t sampler_rng_next(struct SamplerRng* rng);
// Returns (next() >> 11) * 2^-53, uniform in [0, 1).
double sampler_rng_uniform(struct SamplerRng* rng);

// ---------------------------------------------------------------------------------------
// parameters

struct SamplerParams {
    double temp;           // --temp; <= 0 means greedy (argmax, ties to the lowest id)
    int top_k;             // --top-k; 0 = no limit
    double top_p;          // --top-p; in (0, 1], 1 = off
    double min_p;          // --min-p; in [0, 1], 0 = off
    double repeat_penalty; // --repeat-penalty; > 0, 1 = off
    int repeat_last_n;     // --repeat-last-n; 0 = off, -1 = every token accepted since init/reset
    uint64_t seed;         // --seed
};

// Fills p with llama.cpp's defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
// repeat_penalty 1.0, repeat_last_n 64, seed 0.
void sampler_params_default(struct SamplerParams* p);

// Returns 0 when every field is in range, else ERR_ARG with a message naming the flag:
// temp < 0 or not finite, top_k < 0, top_p outside (0, 1], min_p outside [0, 1],
// repeat_penalty <= 0 or not finite, repeat_last_n < -1. NaN is always rejected.
int sampler_params_check(const struct SamplerParams* p, struct Err* e);

// ---------------------------------------------------------------------------------------
// steps on a candidate list

// One candidate token. `p` is only meaningful after a step that says it fills it.
struct SamplerCand {
    int id;       // token id
    double logit; // current (penalized, scaled) logit; -INFINITY is allowed, NaN is not
    double p;     // probability among the current candidates
};

// Sets c[i].p = softmax(c[].logit) (max-subtracted, so no overflow). If the largest logit
// is not finite (all -inf, or some +inf) the mass is shared equally by the candidates that
// equal it. n >= 1.
void sampler_softmax(struct SamplerCand* c, int n);

// Repetition penalty (llama.cpp "penalties", repeat part): for every candidate whose id has
// count[id] > 0, logit = logit > 0 ? logit / penalty : logit * penalty. Applied once per
// token however often it occurs. count is indexed by token id and must cover every c[i].id.
void sampler_penalty(struct SamplerCand* c, int n, const int* count, double penalty);

// Sorts c by logit descending, ties by lower id first (a total order, so the result does not
// depend on the sort algorithm), and returns the number kept: min(k, n), or n when k <= 0.
// The kept entries are c[0 .. returned). O(n log k) for 0 < k < n.
int sampler_top_k(struct SamplerCand* c, int n, int k);

// Top-p (nucleus) on a list already sorted by sampler_top_k: fills c[].p with the softmax
// of the n candidates and returns the length of the shortest prefix whose cumulative
// probability is >= top_p (at least 1). top_p >= 1 returns n and fills nothing.
int sampler_top_p(struct SamplerCand* c, int n, double top_p);

// Min-p: keeps, in their current order, the candidates with p_i >= min_p * p_max, computed
// on logits as logit >= max_logit + log(min_p); returns the count kept (>= 1: the max always
// stays). min_p <= 0 returns n.
int sampler_min_p(struct SamplerCand* c, int n, double min_p);

// Temperature: logit /= temp for every candidate. temp > 0.
void sampler_temp(struct SamplerCand* c, int n, double temp);

// Draw: fills c[].p with the softmax of the candidates, then returns the index i of the
// first candidate (in the list's order) whose cumulative probability p_0 + ... + p_i is
// > u; the last candidate with p > 0 when rounding leaves the total <= u. u in [0, 1).
int sampler_draw(struct SamplerCand* c, int n, double u);

// ---------------------------------------------------------------------------------------
// the sampler

struct Sampler {
    int n_vocab;
    struct SamplerParams params;
    struct SamplerRng rng;
    struct SamplerCand* cand; // (n_vocab,) scratch for one sample
    int* count;               // (n_vocab,) occurrences of each id in the penalty window
    int* hist;                // (repeat_last_n,) ring of the window's tokens; NULL unless > 0
    int hist_len;             // tokens in the ring
    int hist_pos;             // next slot to write
};

// Checks p (see sampler_params_check), copies it, seeds the RNG with p->seed and allocates
// all scratch (about 28 bytes per vocab entry). n_vocab >= 1. Returns 0, ERR_ARG or
// ERR_NOMEM; on failure s is left freed (sampler_free on it is still safe).
int sampler_init(struct Sampler* s, const struct SamplerParams* p, int n_vocab, struct Err* e);

// Releases the scratch; s may be NULL or zeroed.
void sampler_free(struct Sampler* s);

// Forgets the repetition history (a new conversation). The RNG is not touched: reseed
// with sampler_rng_seed(&s->rng, seed) to restart the sequence.
void sampler_reset(struct Sampler* s);

// Adds token (0 <= token < n_vocab) to the repetition history. Call it for every token that
// enters the context, prompt tokens and sampled tokens alike; sampler_sample does not call
// it. With repeat_last_n > 0 only the last repeat_last_n accepted tokens count; with -1
// every token since init/reset counts; with 0 nothing is recorded.
void sampler_accept(struct Sampler* s, int token);

// Runs the chain up to the draw on logits (n_vocab values, not modified; NaN counts as
// -inf) and sets *out to the surviving candidates, sorted by penalized logit descending,
// with .p their final probabilities (after temperature) summing to 1. Returns their count.
// With temp <= 0 it returns 1 candidate, the argmax of the penalized logits (ties to the
// lowest id), with p = 1. *out is borrowed: valid until the next call or sampler_free.
int sampler_probs(struct Sampler* s, const double* logits, const struct SamplerCand** out);

// Returns the next token for logits (not modified). With temp > 0 it consumes exactly one
// sampler_rng_uniform() value u and returns the candidate that sampler_draw picks from
// sampler_probs's list; with temp <= 0 it returns the greedy token and draws nothing.
int sampler_sample(struct Sampler* s, const double* logits);
