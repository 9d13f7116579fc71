/* Sequence-model kernels: part of kernels.wasm (see kernels.c for the rules every kernel
 * follows: no data, no stack, caller-owned memory). */
#include "simd.h"

/* -- Sequence-model kernels (the GPT step): GELU, attention's softmax, LayerNorm ------------
 * engine/nn/seqops.py keeps the numpy code of each op beside the call and asks the seam for
 * these in float32 (engine.backend.seq_kernels()). Each does in one pass over memory what
 * numpy does in several, with the same formulas, so results agree to float32 rounding. */

/* GELU of 4 floats as seqops' float32 path: Phi(x) by Abramowitz & Stegun 7.1.26 (erfc
 * with one exp, |error| < 1.5e-7), y = x Phi(x), dy = Phi(x) + x exp(-x^2/2) / sqrt(2 pi);
 * Horner's steps are simd.h's MADD (fused in the relaxed build); k: gelu_table's entries. */
enum { G_P = EXP_K, G_A1, G_A2, G_A3, G_A4, G_A5, G_HALF, G_MHALF, G_SIGN, G_PDF, GELU_K };

static inline void gelu_table(float *k) {
  exp_table(k);
  k[G_P] = 0.23164189f;                  /* p / sqrt 2: t = 1 / (1 + p |x| / sqrt 2) */
  k[G_A1] = 1.061405429f;                /* a5 .. a1, highest degree first */
  k[G_A2] = -1.453152027f;
  k[G_A3] = 1.421413741f;
  k[G_A4] = -0.284496736f;
  k[G_A5] = 0.254829592f;
  k[G_HALF] = 0.5f;
  k[G_MHALF] = -0.5f;
  k[G_SIGN] = -0.0f;                     /* the sign bit alone */
  k[G_PDF] = 0.3989422804f;              /* 1 / sqrt(2 pi) */
}

#define GELU4(x, y, dy)                                                                         \
  do {                                                                                          \
    v128_t t_ = MADD(wasm_f32x4_abs(x), K(k, G_P), K(k, E_ONE));                                \
    t_ = wasm_f32x4_div(K(k, E_ONE), t_);                                                       \
    v128_t e_ = exp4(wasm_f32x4_mul(wasm_f32x4_mul(x, x), K(k, G_MHALF)), k);                   \
    v128_t q_ = MADD(t_, K(k, G_A1), K(k, G_A2));                                               \
    q_ = MADD(q_, t_, K(k, G_A3));                                                              \
    q_ = MADD(q_, t_, K(k, G_A4));                                                              \
    q_ = wasm_f32x4_mul(MADD(q_, t_, K(k, G_A5)), t_);                                          \
    q_ = MADD(wasm_f32x4_mul(q_, e_), K(k, G_MHALF), K(k, G_HALF)); /* 1/2 - Phi(-|x|) >= 0 */  \
    q_ = wasm_v128_or(q_, wasm_v128_and(x, K(k, G_SIGN)));                      /* sign */      \
    q_ = wasm_f32x4_add(q_, K(k, G_HALF));                                                      \
    y = wasm_f32x4_mul(x, q_);                                                                  \
    dy = MADD(wasm_f32x4_mul(e_, x), K(k, G_PDF), q_);                                          \
  } while (0)

/* y[i] = GELU(x[i]) and dy[i] = GELU'(x[i]) for i < n (the forward keeps the derivative, so
 * the backward is one product; dy NULL: not wanted); k: GELU_K floats of scratch for the
 * constants. */
EXPORT(gelu) void gelu(const float *x, float *y, float *dy, int n, float *k) {
  int i = 0;
  v128_t v, a, b;
  gelu_table(k);
  for (; i + 4 <= n; i += 4) {
    v = wasm_v128_load(x + i);
    GELU4(v, a, b);
    wasm_v128_store(y + i, a);
    if (dy) wasm_v128_store(dy + i, b);
  }
  for (; i < n; i++) {
    v = wasm_f32x4_splat(x[i]);
    GELU4(v, a, b);
    y[i] = wasm_f32x4_extract_lane(a, 0);
    if (dy) dy[i] = wasm_f32x4_extract_lane(b, 0);
  }
}

/* Attention's weights in place: s holds `rows` rows of n scores, in matrices of t rows (row
 * r is query r % t). Each row becomes softmax(scale * row); causal: only keys j <= r % t
 * take part and the others get 0 (engine.nn.seqops.causal_mask). k: EXP_K floats of scratch. */
EXPORT(softmax) void softmax(float *s, int rows, int n, int t, float scale, int causal, float *k) {
  v128_t vs = wasm_f32x4_splat(scale);
  exp_table(k);
  for (int r = 0; r < rows; r++, s += n) {
    int len = causal && r % t + 1 < n ? r % t + 1 : n, j = 0;
    v128_t vm = wasm_f32x4_splat(-__builtin_inff());
    float m = -__builtin_inff();
    for (; j + 4 <= len; j += 4) {
      v128_t v = wasm_f32x4_mul(wasm_v128_load(s + j), vs);
      wasm_v128_store(s + j, v);
      vm = wasm_f32x4_max(vm, v);
    }
    for (; j < len; j++) {
      s[j] *= scale;
      m = s[j] > m || s[j] != s[j] ? s[j] : m;
    }
    float hm = hmax(vm);
    m = hm > m || hm != hm ? hm : m;
    if (m == -__builtin_inff() || m == __builtin_inff()) m = m == __builtin_inff() ? m : 0.0f;
    v128_t vsum = wasm_f32x4_splat(0), mm = wasm_f32x4_splat(m);
    float sum = 0.0f;
    for (j = 0; j + 4 <= len; j += 4) {
      v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(s + j), mm), k);
      wasm_v128_store(s + j, e);
      vsum = wasm_f32x4_add(vsum, e);
    }
    for (; j < len; j++) {
      s[j] = exp1(s[j] - m, k);
      sum += s[j];
    }
    sum += hsum(vsum);
    v128_t vd = wasm_f32x4_splat(sum == 0.0f ? 1.0f : sum);
    for (j = 0; j + 4 <= len; j += 4) wasm_v128_store(s + j, wasm_f32x4_div(wasm_v128_load(s + j), vd));
    for (; j < len; j++) s[j] /= (sum == 0.0f ? 1.0f : sum);
    zero_run(s + len, n - len);
  }
}

/* softmax's backward in place: g = w * (g - sum(g * w)) * scale, row by row (`rows` rows of
 * n); where w is 0 (masked keys) g becomes 0. */
EXPORT(softmax_backward) void softmax_backward(float *g, const float *w, int rows, int n,
                                               float scale) {
  v128_t vs = wasm_f32x4_splat(scale);
  for (int r = 0; r < rows; r++, g += n, w += n) {
    v128_t acc = wasm_f32x4_splat(0);
    float d = 0.0f;
    int j = 0;
    for (; j + 4 <= n; j += 4)
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(g + j), wasm_v128_load(w + j)));
    for (; j < n; j++) d += g[j] * w[j];
    d += hsum(acc);
    v128_t vd = wasm_f32x4_splat(d);
    for (j = 0; j + 4 <= n; j += 4)
      wasm_v128_store(g + j, wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(g + j), vd),
                                                           wasm_v128_load(w + j)), vs));
    for (; j < n; j++) g[j] = (g[j] - d) * w[j] * scale;
  }
}

/* LayerNorm over rows of d: xhat = (x - mean) / sqrt(var + eps) (biased var), inv[r] =
 * 1 / sqrt(var + eps), y = xhat * w + b (w, b may be NULL: no scale, no shift). */
EXPORT(layer_norm) void layer_norm(const float *x, const float *w, const float *b, float *y,
                                   float *xhat, float *inv, int rows, int d, float eps) {
  for (int r = 0; r < rows; r++, x += d, y += d, xhat += d) {
    v128_t acc = wasm_f32x4_splat(0);
    float sum = 0.0f;
    int j = 0;
    for (; j + 4 <= d; j += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(x + j));
    for (; j < d; j++) sum += x[j];
    float mean = (sum + hsum(acc)) / d, var = 0.0f;
    v128_t vm = wasm_f32x4_splat(mean);
    acc = wasm_f32x4_splat(0);
    for (j = 0; j + 4 <= d; j += 4) {
      v128_t c = wasm_f32x4_sub(wasm_v128_load(x + j), vm);
      wasm_v128_store(xhat + j, c);
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(c, c));
    }
    for (; j < d; j++) {
      xhat[j] = x[j] - mean;
      var += xhat[j] * xhat[j];
    }
    var = (var + hsum(acc)) / d;
    float iv = 1.0f / __builtin_sqrtf(var + eps);
    inv[r] = iv;
    v128_t vi = wasm_f32x4_splat(iv);
    for (j = 0; j + 4 <= d; j += 4) {
      v128_t h = wasm_f32x4_mul(wasm_v128_load(xhat + j), vi), o = h;
      wasm_v128_store(xhat + j, h);
      if (w) o = wasm_f32x4_mul(o, wasm_v128_load(w + j));
      if (b) o = wasm_f32x4_add(o, wasm_v128_load(b + j));
      wasm_v128_store(y + j, o);
    }
    for (; j < d; j++) {
      xhat[j] *= iv;
      y[j] = xhat[j] * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
    }
  }
}

/* LayerNorm's backward: with gh = g * w (or g), gx = inv * (gh - mean(gh) - xhat *
 * mean(gh * xhat)) per row; gw = sum over rows of g * xhat, gb = sum of g. gx, gw, gb may
 * each be NULL (not wanted); w NULL means no scale. */
EXPORT(layer_norm_backward) void layer_norm_backward(const float *g, const float *xhat,
                                                     const float *inv, const float *w, float *gx,
                                                     float *gw, float *gb, int rows, int d) {
  if (gw) zero_run(gw, d);
  if (gb) zero_run(gb, d);
  for (int r = 0; r < rows; r++, g += d, xhat += d) {
    int j = 0;
    if (gw) add_mul_run(gw, g, xhat, d);
    if (gb) add_run(gb, g, d);
    if (!gx) continue;
    v128_t a4 = wasm_f32x4_splat(0), c4 = a4;
    float a = 0.0f, c = 0.0f;
    for (; j + 4 <= d; j += 4) {
      v128_t gh = wasm_v128_load(g + j);
      if (w) gh = wasm_f32x4_mul(gh, wasm_v128_load(w + j));
      a4 = wasm_f32x4_add(a4, gh);
      c4 = wasm_f32x4_add(c4, wasm_f32x4_mul(gh, wasm_v128_load(xhat + j)));
    }
    for (; j < d; j++) {
      float gh = g[j] * (w ? w[j] : 1.0f);
      a += gh;
      c += gh * xhat[j];
    }
    a = (a + hsum(a4)) / d;
    c = (c + hsum(c4)) / d;
    v128_t va = wasm_f32x4_splat(a), vc = wasm_f32x4_splat(c), vi = wasm_f32x4_splat(inv[r]);
    float *o = gx + (long)r * d;
    for (j = 0; j + 4 <= d; j += 4) {
      v128_t gh = wasm_v128_load(g + j);
      if (w) gh = wasm_f32x4_mul(gh, wasm_v128_load(w + j));
      gh = wasm_f32x4_sub(wasm_f32x4_sub(gh, va), wasm_f32x4_mul(wasm_v128_load(xhat + j), vc));
      wasm_v128_store(o + j, wasm_f32x4_mul(gh, vi));
    }
    for (; j < d; j++) o[j] = ((g[j] * (w ? w[j] : 1.0f)) - a - xhat[j] * c) * inv[r];
  }
}

/* -- Elementwise helpers of the training step: the residual stream's sums (forward and
 * backward), GELU's backward (the incoming gradient times the derivative its forward kept)
 * and clip_grad_norm_ (a sum of squares, then a scale). */

EXPORT(add) void add(const float *a, const float *b, float *out, int n) {   /* out = a + b */
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  for (; i < n; i++) out[i] = a[i] + b[i];
}

EXPORT(mul) void mul(const float *a, const float *b, float *out, int n) {   /* out = a * b */
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  for (; i < n; i++) out[i] = a[i] * b[i];
}

/* sum of x[i]^2, accumulated in float64: no float32 input overflows it (and it rounds far
 * less than a float32 sum), so clip_grad_norm_ needs no second, float64 pass. */
EXPORT(sum_squares) double sum_squares(const float *x, int n) {
  v128_t lo = wasm_f64x2_splat(0), hi = lo;
  double s = 0.0;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t a = wasm_f64x2_promote_low_f32x4(v);
    v128_t b = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    lo = wasm_f64x2_add(lo, wasm_f64x2_mul(a, a));
    hi = wasm_f64x2_add(hi, wasm_f64x2_mul(b, b));
  }
  for (; i < n; i++) s += (double)x[i] * x[i];
  lo = wasm_f64x2_add(lo, hi);
  return s + wasm_f64x2_extract_lane(lo, 0) + wasm_f64x2_extract_lane(lo, 1);
}

EXPORT(scale) void scale(float *x, int n, float c) {   /* x *= c, in place */
  v128_t vc = wasm_f32x4_splat(c);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), vc));
  for (; i < n; i++) x[i] *= c;
}
