// test_sampler.c: cmocka suite for shared/sampler.{h,c}.
// Every expected kept set and probability below is computed by hand in the comment next to
// it (not by the code under test); the RNG vectors come from an independent python3 model.
// Run: make build/tests/test_sampler && build/tests/test_sampler
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "sampler.h"

// Candidates ids 0..n-1 with the given logits.
static void cands_make(struct SamplerCand* c, const double* logits, int n) {
    for (int i = 0; i < n; i++) {
        c[i].id = i;
        c[i].logit = logits[i];
        c[i].p = 0;
    }
}

// Logits ln 4, ln 3, ln 2, ln 1: exp gives 4 3 2 1, so the softmax is .4 .3 .2 .1.
static const double L4321[4] = {1.3862943611198906, 1.0986122886681098, 0.6931471805599453, 0.0};

// Params with every filter off and temperature 1: the draw sees the plain softmax.
static struct SamplerParams params_plain(void) {
    struct SamplerParams p;
    sampler_params_default(&p);
    p.temp = 1.0;
    p.top_k = 0;
    p.top_p = 1.0;
    p.min_p = 0.0;
    return p;
}

// ---------------------------------------------------------------------------------------
// rng

static void test_rng_xoshiro_vectors(void** state) {
    (void)state;
    // Independent model (python3), written from the algorithm in sampler.h:
    //   M = (1 << 64) - 1
    //   def sm(x):
    //       x = (x + 0x9e3779b97f4a7c15) & M; z = x
    //       z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    //       z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    //       return x, z ^ (z >> 31)
    //   def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
    //   def nxt(s):
    //       r = (rotl((s[1] * 5) & M, 7) * 9) & M; t = (s[1] << 17) & M
    //       s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
    //       s[3] = rotl(s[3], 45); return r
    // seed 0 -> state e220a8397b1dcdaf (splitmix64's well-known first output for 0) ...
    struct SamplerRng r;
    sampler_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafull);
    assert_true(r.s[1] == 0x6e789e6aa1b965f4ull);
    assert_true(r.s[2] == 0x06c45d188009454full);
    assert_true(r.s[3] == 0xf88bb8a8724c81ecull);
    const uint64_t want0[4] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull,
                               0x6aa594f1262d2d2cull};
    for (int i = 0; i < 4; i++)
        assert_true(sampler_rng_next(&r) == want0[i]);

    sampler_rng_seed(&r, 42);
    const uint64_t want42[4] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull,
                                0xecb8ad4703b360a1ull};
    for (int i = 0; i < 4; i++)
        assert_true(sampler_rng_next(&r) == want42[i]);

    // u = (0x15780b2e0c2ec716 >> 11) * 2^-53 = 0.08386297105988216 (python repr, exact)
    sampler_rng_seed(&r, 42);
    double u = sampler_rng_uniform(&r);
    assert_true(u == 0.08386297105988216);
}

static void test_rng_uniform_range(void** state) {
    (void)state;
    struct SamplerRng r;
    sampler_rng_seed(&r, 7);
    double sum = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = sampler_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    // mean of U[0,1) is 1/2 with sd 1/sqrt(12 n) = 0.00091; allow 5 sd
    assert_true(fabs(sum / n - 0.5) < 5 * 0.00092);
}

// ---------------------------------------------------------------------------------------
// params

static void check_bad(struct SamplerParams p, const char* flag) {
    struct Err e = {0};
    assert_int_equal(sampler_params_check(&p, &e), ERR_ARG);
    assert_int_equal(e.code, ERR_ARG);
    if (!strstr(e.msg, flag)) fail_msg("message '%s' does not name %s", e.msg, flag);
}

static void test_params_default_and_check(void** state) {
    (void)state;
    struct SamplerParams p;
    sampler_params_default(&p);
    assert_true(p.temp == 0.8 && p.top_k == 40 && p.top_p == 0.95 && p.min_p == 0.05);
    assert_true(p.repeat_penalty == 1.0 && p.repeat_last_n == 64);
    struct Err e = {0};
    assert_int_equal(sampler_params_check(&p, &e), 0);

    struct SamplerParams q = p;
    q.temp = 0; // greedy is valid
    q.top_p = 1;
    q.min_p = 1;
    q.top_k = 0;
    q.repeat_last_n = -1;
    assert_int_equal(sampler_params_check(&q, &e), 0);

    q = p, q.temp = -0.1, check_bad(q, "--temp");
    q = p, q.temp = NAN, check_bad(q, "--temp");
    q = p, q.temp = INFINITY, check_bad(q, "--temp");
    q = p, q.top_k = -1, check_bad(q, "--top-k");
    q = p, q.top_p = 0, check_bad(q, "--top-p");
    q = p, q.top_p = 1.01, check_bad(q, "--top-p");
    q = p, q.top_p = NAN, check_bad(q, "--top-p");
    q = p, q.min_p = -0.01, check_bad(q, "--min-p");
    q = p, q.min_p = 1.5, check_bad(q, "--min-p");
    q = p, q.min_p = NAN, check_bad(q, "--min-p");
    q = p, q.repeat_penalty = 0, check_bad(q, "--repeat-penalty");
    q = p, q.repeat_penalty = NAN, check_bad(q, "--repeat-penalty");
    q = p, q.repeat_last_n = -2, check_bad(q, "--repeat-last-n");
}

static void test_sampler_init_errors(void** state) {
    (void)state;
    struct SamplerParams p;
    sampler_params_default(&p);
    struct Sampler s;
    struct Err e = {0};
    p.top_p = 2;
    assert_int_equal(sampler_init(&s, &p, 10, &e), ERR_ARG);
    sampler_free(&s);
    sampler_params_default(&p);
    assert_int_equal(sampler_init(&s, &p, 0, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "n_vocab"));
    sampler_free(&s);
    sampler_free(NULL);
    struct Sampler z = {0};
    sampler_free(&z);
}

// ---------------------------------------------------------------------------------------
// steps

static void test_softmax_basic_and_degenerate(void** state) {
    (void)state;
    struct SamplerCand c[4];
    cands_make(c, L4321, 4);
    sampler_softmax(c, 4);
    // exp(ln k) = k, so p = k / (4+3+2+1)
    double got[4] = {c[0].p, c[1].p, c[2].p, c[3].p}, want[4] = {0.4, 0.3, 0.2, 0.1};
    assert_close(got, want, 4, 1e-15, 1e-14, "softmax .4 .3 .2 .1");

    // all -inf: uniform; +inf present: the +inf entries share the mass
    const double ninf[3] = {-INFINITY, -INFINITY, -INFINITY};
    cands_make(c, ninf, 3);
    sampler_softmax(c, 3);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(c[i].p - 1.0 / 3) < 1e-15);
    const double pinf[3] = {INFINITY, 1.0, INFINITY};
    cands_make(c, pinf, 3);
    sampler_softmax(c, 3);
    assert_true(c[0].p == 0.5 && c[1].p == 0.0 && c[2].p == 0.5);
}

static void test_penalty_positive_negative_once(void** state) {
    (void)state;
    // logits 2, -1, 0.5, 3, 0; history 0, 1, 1, 4 (count 1, 2, 0, 0, 1); penalty 2:
    //   2 > 0 -> 2/2 = 1;  -1 <= 0 -> -1*2 = -2 (once, although 1 occurs twice);
    //   0.5 untouched (not in history); 3 untouched; 0 -> 0*2 = 0
    const double l[5] = {2, -1, 0.5, 3, 0};
    const int count[5] = {1, 2, 0, 0, 1};
    struct SamplerCand c[5];
    cands_make(c, l, 5);
    sampler_penalty(c, 5, count, 2.0);
    double got[5], want[5] = {1, -2, 0.5, 3, 0};
    for (int i = 0; i < 5; i++)
        got[i] = c[i].logit;
    assert_close(got, want, 5, 0, 0, "penalty 2");

    // penalty < 1 rewards repeats: 2/0.5 = 4, -1*0.5 = -0.5
    cands_make(c, l, 5);
    sampler_penalty(c, 5, count, 0.5);
    assert_true(c[0].logit == 4 && c[1].logit == -0.5 && c[2].logit == 0.5);
}

// Brute-force check that c[0..k) is in candidate order and that nothing in c[k..n) beats
// c[k-1]: higher logit first, equal logits by lower id.
static int before(const struct SamplerCand* a, const struct SamplerCand* b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void test_top_k_ties_and_limits(void** state) {
    (void)state;
    // logits 1, 2, 2, 2, 0: sorted order is ids 1, 2, 3 (tie -> lower id), 0, 4
    const double l[5] = {1, 2, 2, 2, 0};
    struct SamplerCand c[5];
    cands_make(c, l, 5);
    assert_int_equal(sampler_top_k(c, 5, 2), 2);
    assert_int_equal(c[0].id, 1);
    assert_int_equal(c[1].id, 2);
    cands_make(c, l, 5);
    assert_int_equal(sampler_top_k(c, 5, 4), 4);
    const int want4[4] = {1, 2, 3, 0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(c[i].id, want4[i]);
    // k <= 0 and k > n keep all, fully sorted
    const int want5[5] = {1, 2, 3, 0, 4};
    cands_make(c, l, 5);
    assert_int_equal(sampler_top_k(c, 5, 0), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(c[i].id, want5[i]);
    cands_make(c, l, 5);
    assert_int_equal(sampler_top_k(c, 5, 99), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(c[i].id, want5[i]);
    // k = 1 is the argmax with ties to the lowest id, i.e. greedy
    cands_make(c, l, 5);
    assert_int_equal(sampler_top_k(c, 5, 1), 1);
    assert_int_equal(c[0].id, 1);
}

static void test_top_k_random_many_ties(void** state) {
    (void)state;
    enum { N = 1000 };
    struct SamplerCand* c = malloc(N * sizeof(*c));
    assert_non_null(c);
    struct SamplerRng r;
    sampler_rng_seed(&r, 3);
    const int ks[] = {1, 2, 37, 500, 999, 1000};
    for (size_t t = 0; t < sizeof(ks) / sizeof(ks[0]); t++) {
        for (int i = 0; i < N; i++) {
            c[i].id = i;
            c[i].logit = (double)(sampler_rng_next(&r) % 10); // lots of ties
        }
        int k = sampler_top_k(c, N, ks[t]);
        assert_int_equal(k, ks[t]);
        for (int i = 1; i < k; i++)
            assert_true(before(&c[i - 1], &c[i]));
        for (int i = k; i < N; i++)
            assert_true(before(&c[k - 1], &c[i]));
        // still a permutation of the ids
        int seen[N] = {0};
        for (int i = 0; i < N; i++)
            seen[c[i].id]++;
        for (int i = 0; i < N; i++)
            assert_int_equal(seen[i], 1);
    }
    free(c);
}

static void test_top_p(void** state) {
    (void)state;
    // sorted probs .4 .3 .2 .1, cumulative .4 .7 .9 1.0. (Exact boundaries such as 0.7 are
    // avoided: whether .4 + .3 rounds to >= 0.7 is a property of binary doubles.)
    struct {
        double p;
        int kept;
    } cases[] = {
        {0.35, 1}, // .4 >= .35
        {0.65, 2}, // .4 < .65 <= .7
        {0.75, 3}, // .7 < .75 <= .9
        {0.95, 4}, // .9 < .95: all four (the default keeps everything here)
        {1.0, 4},  // p >= 1 keeps all
        {1e-9, 1}, // at least one
    };
    struct SamplerCand c[4];
    for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
        cands_make(c, L4321, 4);
        assert_int_equal(sampler_top_p(c, 4, cases[t].p), cases[t].kept);
        for (int i = 0; i < cases[t].kept; i++)
            assert_int_equal(c[i].id, i);
    }
    cands_make(c, L4321, 4);
    sampler_top_p(c, 4, 0.5);
    assert_true(fabs(c[1].p - 0.3) < 1e-15); // fills p with the softmax
}

static void test_min_p(void** state) {
    (void)state;
    // probs .4 .3 .2 .1, p_max = .4:
    //   min_p .3 -> threshold .12: keeps .4 .3 .2 (3)
    //   min_p .6 -> threshold .24: keeps .4 .3 (2)
    //   min_p .2 -> threshold .08: keeps all (4)
    //   min_p 1  -> threshold .4: keeps the max only (1)
    //   min_p 0  -> off (4)
    const double mp[5] = {0.3, 0.6, 0.2, 1.0, 0.0};
    const int kept[5] = {3, 2, 4, 1, 4};
    struct SamplerCand c[4];
    for (int t = 0; t < 5; t++) {
        cands_make(c, L4321, 4);
        assert_int_equal(sampler_min_p(c, 4, mp[t]), kept[t]);
        for (int i = 0; i < kept[t]; i++)
            assert_int_equal(c[i].id, i);
    }
    // unsorted input keeps its order: logits ln1, ln4, ln2, ln3 (probs .1 .4 .2 .3), min_p .3
    // -> threshold .12 drops id 0 and keeps ids 1, 2, 3 in that order
    const double l[4] = {L4321[3], L4321[0], L4321[2], L4321[1]};
    cands_make(c, l, 4);
    assert_int_equal(sampler_min_p(c, 4, 0.3), 3);
    assert_int_equal(c[0].id, 1);
    assert_int_equal(c[1].id, 2);
    assert_int_equal(c[2].id, 3);
    // equal maxima all survive min_p = 1
    const double tie[3] = {2, 5, 5};
    cands_make(c, tie, 3);
    assert_int_equal(sampler_min_p(c, 3, 1.0), 2);
}

static void test_temperature(void** state) {
    (void)state;
    struct SamplerCand c[4];
    // temp 0.5: p ~ exp(2 ln k) = k^2 -> 16, 9, 4, 1 over 30
    cands_make(c, L4321, 4);
    sampler_temp(c, 4, 0.5);
    sampler_softmax(c, 4);
    double got[4], want[4] = {16 / 30.0, 9 / 30.0, 4 / 30.0, 1 / 30.0};
    for (int i = 0; i < 4; i++)
        got[i] = c[i].p;
    assert_close(got, want, 4, 1e-15, 1e-13, "temp 0.5");
    // temp 2: p ~ sqrt(k) -> 2, 1.7320508, 1.4142136, 1 over 6.1462644
    //   = 0.3254009, 0.2818055, 0.2300932, 0.1627005
    cands_make(c, L4321, 4);
    sampler_temp(c, 4, 2.0);
    sampler_softmax(c, 4);
    double want2[4] = {0.3254009, 0.2818055, 0.2300932, 0.1627005};
    for (int i = 0; i < 4; i++)
        got[i] = c[i].p;
    assert_close(got, want2, 4, 1e-7, 0, "temp 2");
}

static void test_draw_known_u(void** state) {
    (void)state;
    // sorted probs .4 .3 .2 .1, cumulative .4 .7 .9 1.0: the first cumulative > u wins
    const double u[9] = {0.0, 0.39, 0.41, 0.69, 0.71, 0.89, 0.91, 0.999999, 0.9999999999999999};
    const int want[9] = {0, 0, 1, 1, 2, 2, 3, 3, 3};
    struct SamplerCand c[4];
    for (int t = 0; t < 9; t++) {
        cands_make(c, L4321, 4);
        assert_int_equal(sampler_draw(c, 4, u[t]), want[t]);
    }
    // the list's order is the draw's order: logits ln1, ln3 -> p .25 .75
    const double l[2] = {0.0, 1.0986122886681098};
    cands_make(c, l, 2);
    assert_int_equal(sampler_draw(c, 2, 0.2), 0); // .25 > .2
    cands_make(c, l, 2);
    assert_int_equal(sampler_draw(c, 2, 0.3), 1); // .25 <= .3 < 1
    // a -inf candidate (p = 0) is never drawn, even for u just under 1
    const double m[3] = {0.0, 0.0, -INFINITY};
    cands_make(c, m, 3);
    assert_int_equal(sampler_draw(c, 3, 0.9999999999999999), 1);
}

// ---------------------------------------------------------------------------------------
// the sampler

static void test_sampler_default_chain(void** state) {
    (void)state;
    // defaults on probs .4 .3 .2 .1: top-k 40 keeps 4; top-p .95 keeps 4 (.9 < .95);
    // min-p .05 keeps 4 (.1 >= .02); temp .8: p ~ k^(1/.8) = k^1.25:
    //   4^1.25 = 4*sqrt(2) = 5.656854, 3^1.25 = 3*1.316074 = 3.948222,
    //   2^1.25 = 2*1.189207 = 2.378414, 1; sum 12.983490
    //   -> 0.435696, 0.304096, 0.183188, 0.077021
    struct SamplerParams p;
    sampler_params_default(&p);
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 4, &e), 0);
    const struct SamplerCand* out;
    int n = sampler_probs(&s, L4321, &out);
    assert_int_equal(n, 4);
    double got[4], want[4] = {0.435696, 0.304096, 0.183188, 0.077021};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out[i].id, i);
        got[i] = out[i].p;
    }
    assert_close(got, want, 4, 1e-6, 0, "default chain");
    sampler_free(&s);
}

static void test_sampler_chain_filters(void** state) {
    (void)state;
    // probs .5 .25 .15 .06 .04 (logits ln of them), top_k 4, top_p .9, min_p .4, temp .5:
    //   top-k 4 drops .04; renormalized over .96: .5208 .2604 .15625 .0625
    //   top-p .9: cumulative .5208 .78125 .9375 -> keeps 3
    //   min-p .4 (relative to .5): .25/.5 = .5 kept, .15/.5 = .3 dropped -> keeps 2
    //   temp .5: p ~ q^2 -> .25 and .0625 -> .8 and .2
    const double l[5] = {log(0.5), log(0.25), log(0.15), log(0.06), log(0.04)};
    struct SamplerParams p = params_plain();
    p.top_k = 4;
    p.top_p = 0.9;
    p.min_p = 0.4;
    p.temp = 0.5;
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 5, &e), 0);
    const struct SamplerCand* out;
    assert_int_equal(sampler_probs(&s, l, &out), 2);
    assert_int_equal(out[0].id, 0);
    assert_int_equal(out[1].id, 1);
    double got[2] = {out[0].p, out[1].p}, want[2] = {0.8, 0.2};
    assert_close(got, want, 2, 1e-14, 0, "chain");
    // the input logits are untouched
    assert_true(l[0] == log(0.5) && l[4] == log(0.04));
    // top-k 1 is greedy whatever the temperature
    sampler_free(&s);
    p.top_k = 1;
    assert_int_equal(sampler_init(&s, &p, 5, &e), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sampler_sample(&s, l), 0);
    sampler_free(&s);
}

static void test_sampler_greedy_ties_nan(void** state) {
    (void)state;
    struct SamplerParams p;
    sampler_params_default(&p);
    p.temp = 0;
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 4, &e), 0);
    const double l[4] = {1, 5, 5, 2}; // tie between 1 and 2 -> lowest id 1
    assert_int_equal(sampler_sample(&s, l), 1);
    const double ln[4] = {NAN, 1, 0, 1}; // NaN counts as -inf; tie 1/3 -> 1
    assert_int_equal(sampler_sample(&s, ln), 1);
    const struct SamplerCand* out;
    assert_int_equal(sampler_probs(&s, l, &out), 1);
    assert_true(out[0].id == 1 && out[0].p == 1.0);
    // greedy draws nothing from the RNG
    struct SamplerRng r;
    sampler_rng_seed(&r, p.seed);
    assert_true(memcmp(&r, &s.rng, sizeof(r)) == 0);
    sampler_free(&s);
}

static void test_sampler_penalty_greedy(void** state) {
    (void)state;
    struct SamplerParams p;
    sampler_params_default(&p);
    p.temp = 0;
    p.repeat_penalty = 1.1;
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 2, &e), 0);
    // positive: 3 / 1.1 = 2.727 < 2.9 -> 1 wins once 0 was seen
    const double pos[2] = {3, 2.9};
    assert_int_equal(sampler_sample(&s, pos), 0);
    sampler_accept(&s, 0);
    assert_int_equal(sampler_sample(&s, pos), 1);
    // negative: -1 * 1.1 = -1.1 < -1.05 -> 1 wins
    const double neg[2] = {-1, -1.05};
    assert_int_equal(sampler_sample(&s, neg), 1);
    sampler_reset(&s);
    assert_int_equal(sampler_sample(&s, neg), 0);
    sampler_free(&s);
}

static void test_sampler_penalty_window(void** state) {
    (void)state;
    // repeat_last_n 2, penalty 2, logits 3, 2.5, 2.8 (penalized: 1.5, 1.25, 1.4)
    struct SamplerParams p;
    sampler_params_default(&p);
    p.temp = 0;
    p.repeat_penalty = 2;
    p.repeat_last_n = 2;
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 3, &e), 0);
    const double l[3] = {3, 2.5, 2.8};
    const struct {
        int accept, want;
    } steps[] = {
        {0, 2}, // window {0}:    1.5, 2.5, 2.8  -> 2
        {2, 1}, // window {0,2}:  1.5, 2.5, 1.4  -> 1
        {2, 0}, // window {2,2}:  3,   2.5, 1.4  -> 0 (0 left the window)
        {1, 0}, // window {2,1}:  3,   1.25, 1.4 -> 0
        {0, 2}, // window {1,0}:  1.5, 1.25, 2.8 -> 2
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        sampler_accept(&s, steps[i].accept);
        assert_int_equal(sampler_sample(&s, l), steps[i].want);
    }
    sampler_free(&s);

    // penalized once per distinct token: window {2, 2} gives 2.8 / 2 = 1.4, not 0.7
    p.temp = 1;
    p.top_k = 0;
    p.top_p = 1;
    p.min_p = 0;
    assert_int_equal(sampler_init(&s, &p, 3, &e), 0);
    sampler_accept(&s, 2);
    sampler_accept(&s, 2);
    const struct SamplerCand* out;
    assert_int_equal(sampler_probs(&s, l, &out), 3);
    // sorted: id 0 (3), id 1 (2.5), id 2 (1.4); temp 1 leaves the penalized logits
    assert_int_equal(out[2].id, 2);
    assert_true(fabs(out[2].logit - 1.4) < 1e-15);
    sampler_free(&s);
}

static void test_sampler_penalty_whole_and_off(void** state) {
    (void)state;
    struct SamplerParams p;
    sampler_params_default(&p);
    p.temp = 0;
    p.repeat_penalty = 2;
    struct Sampler s;
    struct Err e = {0};
    const double l[3] = {3, 2, 0};
    // -1: token 0 seen 200 tokens ago still counts: 1.5 < 2 -> 1
    p.repeat_last_n = -1;
    assert_int_equal(sampler_init(&s, &p, 3, &e), 0);
    sampler_accept(&s, 0);
    for (int i = 0; i < 200; i++)
        sampler_accept(&s, 2);
    assert_int_equal(sampler_sample(&s, l), 1);
    sampler_free(&s);
    // 64 (default): it has left the window -> 0
    p.repeat_last_n = 64;
    assert_int_equal(sampler_init(&s, &p, 3, &e), 0);
    sampler_accept(&s, 0);
    for (int i = 0; i < 200; i++)
        sampler_accept(&s, 2);
    assert_int_equal(sampler_sample(&s, l), 0);
    sampler_free(&s);
    // 0: off
    p.repeat_last_n = 0;
    assert_int_equal(sampler_init(&s, &p, 3, &e), 0);
    sampler_accept(&s, 0);
    assert_int_equal(sampler_sample(&s, l), 0);
    sampler_free(&s);
}

static void test_sampler_one_uniform_per_sample(void** state) {
    (void)state;
    // with filters off each sample is the inverse CDF of .4 .3 .2 .1 at the next uniform:
    // u < .4 -> 0, u < .7 -> 1, u < .9 -> 2, else 3
    struct SamplerParams p = params_plain();
    p.seed = 42;
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 4, &e), 0);
    struct SamplerRng r;
    sampler_rng_seed(&r, 42);
    for (int i = 0; i < 500; i++) {
        double u = sampler_rng_uniform(&r);
        int want = u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? 2 : 3;
        assert_int_equal(sampler_sample(&s, L4321), want);
    }
    sampler_free(&s);
}

static void test_sampler_reproducible(void** state) {
    (void)state;
    enum { V = 50, T = 300 };
    double l[V];
    for (int i = 0; i < V; i++)
        l[i] = sin(i * 1.7) * 2;
    struct SamplerParams p;
    sampler_params_default(&p);
    p.seed = 1234;
    struct Sampler a, b, c;
    struct Err e = {0};
    assert_int_equal(sampler_init(&a, &p, V, &e), 0);
    assert_int_equal(sampler_init(&b, &p, V, &e), 0);
    p.seed = 1235;
    assert_int_equal(sampler_init(&c, &p, V, &e), 0);
    int differ = 0;
    for (int t = 0; t < T; t++) {
        int ta = sampler_sample(&a, l), tb = sampler_sample(&b, l), tc = sampler_sample(&c, l);
        assert_int_equal(ta, tb);
        differ += ta != tc;
        assert_true(ta >= 0 && ta < V);
    }
    assert_true(differ > 0);
    sampler_free(&a);
    sampler_free(&b);
    sampler_free(&c);
}

static void test_sampler_frequencies(void** state) {
    (void)state;
    // 20000 draws from .4 .3 .2 .1: count_i ~ Binomial(N, p_i), mean N p_i,
    // sd sqrt(N p_i (1 - p_i)) = 69.3, 64.8, 56.6, 42.4; allow 5 sd
    enum { N = 20000 };
    const double prob[4] = {0.4, 0.3, 0.2, 0.1};
    struct SamplerParams p = params_plain();
    p.seed = 2024;
    struct Sampler s;
    struct Err e = {0};
    assert_int_equal(sampler_init(&s, &p, 4, &e), 0);
    int count[4] = {0};
    for (int i = 0; i < N; i++)
        count[sampler_sample(&s, L4321)]++;
    for (int i = 0; i < 4; i++) {
        double mean = N * prob[i], sd = sqrt(N * prob[i] * (1 - prob[i]));
        if (fabs(count[i] - mean) > 5 * sd)
            fail_msg("token %d drawn %d times, want %.0f +- %.0f", i, count[i], mean, 5 * sd);
    }
    // with temp 0.5 the distribution is 16 9 4 1 over 30
    sampler_free(&s);
    p.temp = 0.5;
    assert_int_equal(sampler_init(&s, &p, 4, &e), 0);
    memset(count, 0, sizeof(count));
    for (int i = 0; i < N; i++)
        count[sampler_sample(&s, L4321)]++;
    const double prob2[4] = {16 / 30.0, 9 / 30.0, 4 / 30.0, 1 / 30.0};
    for (int i = 0; i < 4; i++) {
        double mean = N * prob2[i], sd = sqrt(N * prob2[i] * (1 - prob2[i]));
        if (fabs(count[i] - mean) > 5 * sd)
            fail_msg("temp .5: token %d drawn %d times, want %.0f +- %.0f", i, count[i], mean,
                     5 * sd);
    }
    sampler_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_xoshiro_vectors),
        cmocka_unit_test(test_rng_uniform_range),
        cmocka_unit_test(test_params_default_and_check),
        cmocka_unit_test(test_sampler_init_errors),
        cmocka_unit_test(test_softmax_basic_and_degenerate),
        cmocka_unit_test(test_penalty_positive_negative_once),
        cmocka_unit_test(test_top_k_ties_and_limits),
        cmocka_unit_test(test_top_k_random_many_ties),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_draw_known_u),
        cmocka_unit_test(test_sampler_default_chain),
        cmocka_unit_test(test_sampler_chain_filters),
        cmocka_unit_test(test_sampler_greedy_ties_nan),
        cmocka_unit_test(test_sampler_penalty_greedy),
        cmocka_unit_test(test_sampler_penalty_window),
        cmocka_unit_test(test_sampler_penalty_whole_and_off),
        cmocka_unit_test(test_sampler_one_uniform_per_sample),
        cmocka_unit_test(test_sampler_reproducible),
        cmocka_unit_test(test_sampler_frequencies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
