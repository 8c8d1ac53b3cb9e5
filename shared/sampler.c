// sampler.c: llama.cpp's sampler chain in double precision (see sampler.h).
// Penalty -> top-k -> top-p -> min-p -> temperature -> draw, as in llama.cpp's
// src/llama-sampling.cpp, with sorting made deterministic (ties go to the lower id) and a
// documented xoshiro256** RNG instead of std::mt19937. No allocation after sampler_init.
// Test: make build/tests/test_sampler && build/tests/test_sampler
#include "sampler.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------
// rng

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

// splitmix64 (Steele, Lea & Flood 2014): one step of a Weyl sequence, then a bijective mix.
static uint64_t splitmix64(uint64_t* x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sampler_rng_seed(struct SamplerRng* rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t sampler_rng_next(struct SamplerRng* rng) {
    uint64_t* s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sampler_rng_uniform(struct SamplerRng* rng) {
    // the top 53 bits fill a double's mantissa exactly: k * 2^-53 for k in [0, 2^53)
    return (double)(sampler_rng_next(rng) >> 11) * 0x1.0p-53;
}

// ---------------------------------------------------------------------------------------
// parameters

void sampler_params_default(struct SamplerParams* p) {
    // llama.cpp common_params_sampling defaults
    p->temp = 0.8;
    p->top_k = 40;
    p->top_p = 0.95;
    p->min_p = 0.05;
    p->repeat_penalty = 1.0;
    p->repeat_last_n = 64;
    p->seed = 0;
}

int sampler_params_check(const struct SamplerParams* p, struct Err* e) {
    // comparisons are written so that NaN fails them
    if (!(p->temp >= 0 && isfinite(p->temp)))
        return err_set(e, ERR_ARG, "%s: --temp %g must be finite and >= 0", __func__, p->temp);
    if (p->top_k < 0)
        return err_set(e, ERR_ARG, "%s: --top-k %d must be >= 0 (0 = off)", __func__, p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return err_set(e, ERR_ARG, "%s: --top-p %g must be in (0, 1]", __func__, p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return err_set(e, ERR_ARG, "%s: --min-p %g must be in [0, 1]", __func__, p->min_p);
    if (!(p->repeat_penalty > 0 && isfinite(p->repeat_penalty)))
        return err_set(e, ERR_ARG, "%s: --repeat-penalty %g must be finite and > 0", __func__,
                       p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return err_set(e, ERR_ARG, "%s: --repeat-last-n %d must be >= -1 (-1 = whole context)",
                       __func__, p->repeat_last_n);
    return 0;
}

// ---------------------------------------------------------------------------------------
// steps

void sampler_softmax(struct SamplerCand* c, int n) {
    assert(n >= 1);
    double max = c[0].logit;
    for (int i = 1; i < n; i++)
        if (c[i].logit > max) max = c[i].logit;
    double sum = 0;
    if (isfinite(max)) {
        for (int i = 0; i < n; i++)
            sum += (c[i].p = exp(c[i].logit - max));
    } else {
        // all -inf, or +inf present: exp(max - max) would be NaN, so the tied maxima share
        for (int i = 0; i < n; i++)
            sum += (c[i].p = c[i].logit == max ? 1.0 : 0.0);
    }
    for (int i = 0; i < n; i++)
        c[i].p /= sum;
}

void sampler_penalty(struct SamplerCand* c, int n, const int* count, double penalty) {
    if (penalty == 1.0) return;
    for (int i = 0; i < n; i++) {
        if (count[c[i].id] <= 0) continue;
        // CTRL (Keskar et al. 2019) only divides; dividing a negative logit would raise it,
        // so llama.cpp multiplies those instead. Both push the token's probability down.
        double* l = &c[i].logit;
        *l = *l > 0 ? *l / penalty : *l * penalty;
    }
}

// The candidate order: higher logit first, equal logits by lower id.
static int cand_before(const struct SamplerCand* a, const struct SamplerCand* b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cand_cmp(const void* pa, const void* pb) {
    const struct SamplerCand* a = pa;
    const struct SamplerCand* b = pb;
    return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

// Restores the heap property at i in a heap of k whose root is the candidate that comes last.
static void heap_sift_down(struct SamplerCand* h, int k, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && cand_before(&h[m], &h[l])) m = l;
        if (r < k && cand_before(&h[m], &h[r])) m = r;
        if (m == i) return;
        struct SamplerCand tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

int sampler_top_k(struct SamplerCand* c, int n, int k) {
    if (k <= 0 || k > n) k = n;
    if (k < n) {
        // select the best k into c[0..k) with a heap whose root is the worst of them
        for (int i = k / 2 - 1; i >= 0; i--)
            heap_sift_down(c, k, i);
        for (int i = k; i < n; i++) {
            if (cand_before(&c[i], &c[0])) {
                struct SamplerCand tmp = c[0];
                c[0] = c[i];
                c[i] = tmp;
                heap_sift_down(c, k, 0);
            }
        }
    }
    qsort(c, (size_t)k, sizeof(*c), cand_cmp);
    return k;
}

int sampler_top_p(struct SamplerCand* c, int n, double top_p) {
    if (top_p >= 1.0) return n;
    sampler_softmax(c, n);
    double cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (cum >= top_p) return i + 1; // min_keep = 1: i + 1 >= 1 always
    }
    return n; // rounding kept the total just under top_p
}

int sampler_min_p(struct SamplerCand* c, int n, double min_p) {
    if (min_p <= 0.0 || n <= 1) return n;
    double max = c[0].logit;
    for (int i = 1; i < n; i++)
        if (c[i].logit > max) max = c[i].logit;
    // p_i / p_max = exp(l_i - l_max) >= min_p  <=>  l_i >= l_max + log(min_p)
    double min_logit = max + log(min_p);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (c[i].logit >= min_logit || c[i].logit == max) c[kept++] = c[i];
    return kept;
}

void sampler_temp(struct SamplerCand* c, int n, double temp) {
    assert(temp > 0);
    for (int i = 0; i < n; i++)
        c[i].logit /= temp;
}

int sampler_draw(struct SamplerCand* c, int n, double u) {
    assert(n >= 1);
    sampler_softmax(c, n);
    // inverse CDF; candidates with p = 0 can never be picked since cum does not grow there
    double cum = 0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].p <= 0) continue;
        cum += c[i].p;
        last = i;
        if (cum > u) return i;
    }
    return last;
}

// ---------------------------------------------------------------------------------------
// the sampler

int sampler_init(struct Sampler* s, const struct SamplerParams* p, int n_vocab, struct Err* e) {
    memset(s, 0, sizeof(*s));
    int rc = sampler_params_check(p, e);
    if (rc) return rc;
    if (n_vocab < 1) return err_set(e, ERR_ARG, "%s: n_vocab %d must be >= 1", __func__, n_vocab);
    s->n_vocab = n_vocab;
    s->params = *p;
    sampler_rng_seed(&s->rng, p->seed);
    s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
    s->count = calloc((size_t)n_vocab, sizeof(*s->count));
    if (!s->cand || !s->count) goto fail;
    if (p->repeat_last_n > 0) {
        s->hist = malloc((size_t)p->repeat_last_n * sizeof(*s->hist));
        if (!s->hist) goto fail;
    }
    return 0;
fail:
    sampler_free(s);
    return err_set(e, ERR_NOMEM, "%s: out of memory for n_vocab %d, repeat_last_n %d", __func__,
                   n_vocab, p->repeat_last_n);
}

void sampler_free(struct Sampler* s) {
    if (!s) return;
    free(s->cand);
    free(s->count);
    free(s->hist);
    memset(s, 0, sizeof(*s));
}

void sampler_reset(struct Sampler* s) {
    memset(s->count, 0, (size_t)s->n_vocab * sizeof(*s->count));
    s->hist_len = 0;
    s->hist_pos = 0;
}

void sampler_accept(struct Sampler* s, int token) {
    assert(token >= 0 && token < s->n_vocab);
    int n = s->params.repeat_last_n;
    if (n == 0) return;
    if (n < 0) {
        // whole context: a count per id, no window (saturates instead of overflowing)
        if (s->count[token] < INT_MAX) s->count[token]++;
        return;
    }
    if (s->hist_len == n)
        s->count[s->hist[s->hist_pos]]--; // the oldest leaves the window
    else
        s->hist_len++;
    s->hist[s->hist_pos] = token;
    s->count[token]++;
    s->hist_pos = (s->hist_pos + 1) % n;
}

int sampler_probs(struct Sampler* s, const double* logits, const struct SamplerCand** out) {
    const struct SamplerParams* p = &s->params;
    struct SamplerCand* c = s->cand;
    int n = s->n_vocab;
    for (int i = 0; i < n; i++) {
        c[i].id = i;
        c[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        c[i].p = 0;
    }
    if (p->repeat_last_n != 0) sampler_penalty(c, n, s->count, p->repeat_penalty);
    *out = c;
    if (p->temp <= 0) {
        // greedy: top-k/top-p/min-p always keep the maximum, so only the argmax matters
        int best = 0;
        for (int i = 1; i < n; i++)
            if (cand_before(&c[i], &c[best])) best = i;
        c[0] = c[best];
        c[0].p = 1.0;
        return 1;
    }
    n = sampler_top_k(c, n, p->top_k);
    n = sampler_top_p(c, n, p->top_p);
    n = sampler_min_p(c, n, p->min_p);
    sampler_temp(c, n, p->temp);
    sampler_softmax(c, n);
    return n;
}

int sampler_sample(struct Sampler* s, const double* logits) {
    const struct SamplerCand* out;
    int n = sampler_probs(s, logits, &out);
    if (s->params.temp <= 0) return out[0].id;
    double u = sampler_rng_uniform(&s->rng);
    return s->cand[sampler_draw(s->cand, n, u)].id;
}
