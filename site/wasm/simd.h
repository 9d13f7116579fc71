/* What the kernels' source files share: the export macro, the kernels called across files,
 * runs over float arrays, horizontal sums and maxima, and a vectorised exp. Everything
 * defined here is static inline: no data, no stack. */
#ifndef DESCENT_SIMD_H
#define DESCENT_SIMD_H
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* a * b + c. Built with -DDESCENT_RELAXED (kernels-relaxed.wasm): relaxed SIMD's
 * f32x4.relaxed_madd, one fused instruction where the CPU has FMA (clang-14 spells it
 * __builtin_wasm_fma_f32x4 and writes a prototype opcode that playground/sitebuild/relaxed.py
 * rewrites). Otherwise a multiply and an add (kernels.wasm, for every SIMD browser). */
#ifdef DESCENT_RELAXED
#define MADD(a, b, c) __builtin_wasm_fma_f32x4(a, b, c)
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)
#endif

/* Kernels one source file calls from another (kernels.c's GEMM, seq.c's softmax). */
enum { TRI_NONE, TRI_C_LOWER, TRI_A_LOWER, TRI_A_UPPER };   /* gemm_strided's `tri` */
void gemm_strided(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int M,
                  int K, int N, int ta, int tb, int tri, float *scratch);
void softmax(float *s, int rows, int n, int t, float scale, int causal, float *k);
void softmax_backward(float *g, const float *w, int rows, int n, float scale);

static inline void copy_run(float *dst, const float *src, int n) {   /* dst[0:n] = src[0:n] */
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < n; i++) dst[i] = src[i];
}

static inline void add_run(float *dst, const float *src, int n) {    /* dst[0:n] += src[0:n] */
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  for (; i < n; i++) dst[i] += src[i];
}

static inline void add_mul_run(float *dst, const float *a, const float *b, int n) {  /* += a * b */
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i),
                                            wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i))));
  for (; i < n; i++) dst[i] += a[i] * b[i];
}

static inline void zero_run(float *dst, long n) {
  long i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_f32x4_splat(0));
  for (; i < n; i++) dst[i] = 0.0f;
}

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
         wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

static inline float hmax(v128_t v) {   /* NaN if any lane is NaN, as numpy's max */
  v = wasm_f32x4_max(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_max(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* Chromium's V8 rebuilds a v128 constant each time a loop uses it (an immediate moved through
 * a general register, then widened: three instructions), where a splat loaded from memory is
 * one. So the loops heavy in constants (exp4's, GELU's) read them from a table the kernel
 * first writes into caller scratch: K(k, i) splats entry i (GELU ~20 % faster in Chromium 156,
 * `make bench-kernels`). */
#define K(k, i) wasm_v128_load32_splat((k) + (i))
/* exp4's entries k[0 .. EXP_K-1]; a kernel's own come after them */
enum { E_HI, E_LO, E_LOG2E, E_LN2_HI, E_LN2_LO, E_P5, E_P4, E_P3, E_P2, E_P1, E_P0, E_ONE, E_BIAS,
       EXP_K };

static inline void exp_table(float *k) {
  k[E_HI] = 88.0f;                       /* clamp: exp overflows above */
  k[E_LO] = -87.33f;                     /* clamp: the smallest normal below */
  k[E_LOG2E] = 1.44269504088896341f;     /* 1 / ln 2 */
  k[E_LN2_HI] = -0.693359375f;           /* -ln 2, in two parts (Cody-Waite) */
  k[E_LN2_LO] = 2.12194440e-4f;
  k[E_P5] = 1.9875691500e-4f;            /* the polynomial, highest degree first */
  k[E_P4] = 1.3981999507e-3f;
  k[E_P3] = 8.3334519073e-3f;
  k[E_P2] = 4.1665795894e-2f;
  k[E_P1] = 1.6666665459e-1f;
  k[E_P0] = 5.0000001201e-1f;
  k[E_ONE] = 1.0f;
  k[E_BIAS] = 12582912.0f + 127.0f;      /* 1.5 * 2^23 + the exponent bias */
}

/* exp(x) for 4 floats (Cephes' expf), k: exp_table's entries: x = n ln2 + r, |r| <= ln2/2, a
 * degree-6 polynomial for exp(r) (MADD: fused in the relaxed build), times 2^n built in the
 * exponent bits; relative error ~1 ulp. Clamped to [-87.3, 88]: exp underflows to ~1e-38
 * (the smallest normal), not to 0. NaN stays NaN (pmin/pmax return their first operand then:
 * one x86 instruction each, where min/max take several). */
static inline v128_t exp4(v128_t x, const float *k) {
  x = wasm_f32x4_pmax(wasm_f32x4_pmin(x, K(k, E_HI)), K(k, E_LO));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, K(k, E_LOG2E)));
  v128_t r = MADD(n, K(k, E_LN2_HI), x);
  r = MADD(n, K(k, E_LN2_LO), r);
  v128_t p = K(k, E_P5);
  p = MADD(p, r, K(k, E_P4));
  p = MADD(p, r, K(k, E_P3));
  p = MADD(p, r, K(k, E_P2));
  p = MADD(p, r, K(k, E_P1));
  p = MADD(p, r, K(k, E_P0));
  p = wasm_f32x4_add(MADD(wasm_f32x4_mul(p, r), r, r), K(k, E_ONE));
  /* 2^n: n + 127 (0..255) lands in the low mantissa bits of 1.5 * 2^23 + n + 127, and the
   * shift moves it into the exponent (cheaper than a float -> int conversion) */
  v128_t two_n = wasm_i32x4_shl(wasm_f32x4_add(n, K(k, E_BIAS)), 23);
  return wasm_f32x4_mul(p, two_n);
}

static inline float exp1(float x, const float *k) {
  return wasm_f32x4_extract_lane(exp4(wasm_f32x4_splat(x), k), 0);
}

#endif
