/* Descent's WebAssembly SIMD kernels: a float32 GEMM, a fused Adam/AdamW step, image kernels
 * (im2col, pooling) and sequence-model kernels (GELU, attention's softmax, LayerNorm, and
 * causal self-attention whole).
 *
 * Built with images.c, seq.c and attn.c into one module by playground/sitebuild/kernels.py
 * (`make site/wasm/kernels.wasm`):
 *   clang-14 --target=wasm32 -O3 -msimd128 -nostdlib -Wl,--no-entry -Wl,--import-memory ...
 *
 * The module imports its memory: it is instantiated with Pyodide's own WebAssembly.Memory,
 * so the pointers it takes are addresses of numpy buffers in Pyodide's heap (no copies).
 * It therefore must not own any memory: no data segment (no constant tables, no strings)
 * and no shadow stack (no local arrays, no address-taken locals). The build checks the
 * output for both. All scratch space (packed panels) is a buffer the caller passes in.
 *
 * GEMM: C = op(A) @ op(B), op = transpose or not, in the GotoBLAS shape:
 *   for each NC-wide column block of B, each KC-deep slice of K:
 *     pack op(B)[kc x nc] into NR-wide panels (zero padded)     -> scratch
 *     for each MC-tall row block of A:
 *       pack op(A)[mc x kc] into MR-tall panels (zero padded)  -> scratch
 *       for each MR x NR tile: the micro-kernel, MR*NR/4 f32x4 accumulators in registers
 * Packing reads the operand in whichever layout it is stored, so AᵀB and ABᵀ cost the
 * same as AB. Edge tiles run the same kernel on a small tile in scratch and copy back.
 * Operands may have any row strides (gemm_strided: attn.c reads heads inside q|k|v rows).
 */
#include "simd.h"

/* micro-tile rows, one f32 splat each: 6 (12 accumulators) where the multiply-add is fused,
 * ~10 % faster products in Chromium 156 (`make bench-kernels`); 4 in the plain build, where a
 * 6-row tile's products and sums run short of registers (no faster there) */
#ifdef DESCENT_RELAXED
#define MR 6
#else
#define MR 4
#endif
#define NR 8     /* micro-tile columns: two f32x4 vectors                 */
#define KC 256   /* depth of one packed slice (A panel 4 or 6 KB, B panel 8 KB) */
#define MC (16 * MR)   /* rows of A packed at once (64 or 96 KB)               */
#define NC 512   /* columns of B packed at once (512 KB)                  */

/* Bytes of scratch gemm() needs, whatever the shape: packed B, packed A, one edge tile. */
EXPORT(gemm_scratch_bytes) int gemm_scratch_bytes(void) {
  return 4 * (KC * NC + MC * KC + MR * NR);
}

/* out[q * ld + r] = src[r * stride + p + q] for q, r < 4 and p < kc: four rows read side by
 * side (a 4x4 transpose in registers per step of 4; the last kc % 4 columns one by one). */
static void transpose4(const float *src, long stride, int kc, float *out, int ld) {
  const float *s0 = src, *s1 = src + stride, *s2 = src + 2 * stride, *s3 = src + 3 * stride;
  int p = 0;
  for (; p + 4 <= kc; p += 4, out += 4 * ld) {
    v128_t r0 = wasm_v128_load(s0 + p), r1 = wasm_v128_load(s1 + p),
           r2 = wasm_v128_load(s2 + p), r3 = wasm_v128_load(s3 + p);
    v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7),
           t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    wasm_v128_store(out, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
    wasm_v128_store(out + ld, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
    wasm_v128_store(out + 2 * ld, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
    wasm_v128_store(out + 3 * ld, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
  }
  for (; p < kc; p++, out += ld) {
    out[0] = s0[p];
    out[1] = s1[p];
    out[2] = s2[p];
    out[3] = s3[p];
  }
}

#if MR == 6
/* out[q * ld + r] = src[r * stride + p + q] for q < kc, r < 2: two rows side by side (rows
 * 5 and 6 of a 6-row panel). */
static void transpose2(const float *src, long stride, int kc, float *out, int ld) {
  const float *s0 = src, *s1 = src + stride;
  int p = 0;
  for (; p + 4 <= kc; p += 4, out += 4 * ld) {
    v128_t r0 = wasm_v128_load(s0 + p), r1 = wasm_v128_load(s1 + p);
    v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
    wasm_v128_store64_lane(out, t0, 0);
    wasm_v128_store64_lane(out + ld, t0, 1);
    wasm_v128_store64_lane(out + 2 * ld, t1, 0);
    wasm_v128_store64_lane(out + 3 * ld, t1, 1);
  }
  for (; p < kc; p++, out += ld) {
    out[0] = s0[p];
    out[1] = s1[p];
  }
}
#endif

/* op(B)[p0 : p0+kc, j0 : j0+nc] -> NR-wide panels: panel q holds kc rows of NR floats.
 * ldb: floats between B's stored rows (N, or K when tb, for a whole matrix). */
static void pack_b(const float *b, int ldb, int tb, int p0, int j0, int kc, int nc,
                   float *out) {
  for (int jp = 0; jp < nc; jp += NR, out += kc * NR) {
    int j = j0 + jp, cols = nc - jp < NR ? nc - jp : NR;
    if (!tb && cols == NR) {           /* row-major B: each row of the panel is 8 floats */
      const float *src = b + (long)p0 * ldb + j;
      for (int p = 0; p < kc; p++, src += ldb) {
        wasm_v128_store(out + p * NR, wasm_v128_load(src));
        wasm_v128_store(out + p * NR + 4, wasm_v128_load(src + 4));
      }
    } else if (cols == NR) {           /* B stored N x K: 8 rows read side by side */
      const float *src = b + (long)j * ldb + p0;
      transpose4(src, ldb, kc, out, NR);
      transpose4(src + 4L * ldb, ldb, kc, out + 4, NR);
    } else {                           /* last, narrower panel: pad with zeros */
      for (int p = 0; p < kc; p++)
        for (int jj = 0; jj < NR; jj++)
          out[p * NR + jj] = jj >= cols ? 0.0f
                           : tb ? b[(long)(j + jj) * ldb + p0 + p] : b[(long)(p0 + p) * ldb + j + jj];
    }
  }
}

/* op(A)[i0 : i0+mc, p0 : p0+kc] -> MR-tall panels: panel q holds kc columns of MR floats.
 * lda: floats between A's stored rows (K, or M when ta, for a whole matrix). */
static void pack_a(const float *a, int lda, int ta, int i0, int p0, int mc, int kc,
                   float *out) {
  for (int ip = 0; ip < mc; ip += MR, out += kc * MR) {
    int i = i0 + ip, rows = mc - ip < MR ? mc - ip : MR;
    if (ta && rows == MR) {            /* A stored K x M: MR rows of op(A) are contiguous */
      const float *src = a + (long)p0 * lda + i;
      for (int p = 0; p < kc; p++, src += lda) {
        wasm_v128_store(out + p * MR, wasm_v128_load(src));
#if MR == 6
        wasm_v128_store64_lane(out + p * MR + 4, wasm_v128_load64_zero(src + 4), 0);
#endif
      }
    } else if (rows == MR) {           /* row-major A: MR rows read side by side */
      transpose4(a + (long)i * lda + p0, lda, kc, out, MR);
#if MR == 6
      transpose2(a + (long)(i + 4) * lda + p0, lda, kc, out + 4, MR);
#endif
    } else {
      for (int p = 0; p < kc; p++)
        for (int ii = 0; ii < MR; ii++)
          out[p * MR + ii] = ii >= rows ? 0.0f
                           : ta ? a[(long)(p0 + p) * lda + i + ii] : a[(long)(i + ii) * lda + p0 + p];
    }
  }
}

/* c[MR x NR] (row stride ldc) = (accumulate ? c : 0) + a_panel @ b_panel over kc. */
static void micro_kernel(int kc, const float *a, const float *b, float *c, int ldc,
                         int accumulate) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00,
         c20 = c00, c21 = c00, c30 = c00, c31 = c00;
#if MR == 6
  v128_t c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#endif
#define STEP(r, lo, hi)              /* row r of the tile: += a[r] * b, one splat */    \
  x = wasm_v128_load32_splat(a + r);                                                \
  lo = MADD(x, b0, lo);                                                             \
  hi = MADD(x, b1, hi);
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), x;
    STEP(0, c00, c01) STEP(1, c10, c11) STEP(2, c20, c21) STEP(3, c30, c31)
#if MR == 6
    STEP(4, c40, c41) STEP(5, c50, c51)
#endif
  }
#undef STEP
#define ROW(r, lo, hi)                                                              \
  if (accumulate) {                                                                 \
    lo = wasm_f32x4_add(lo, wasm_v128_load(c + r * ldc));                           \
    hi = wasm_f32x4_add(hi, wasm_v128_load(c + r * ldc + 4));                       \
  }                                                                                 \
  wasm_v128_store(c + r * ldc, lo);                                                 \
  wasm_v128_store(c + r * ldc + 4, hi);
  ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31)
#if MR == 6
  ROW(4, c40, c41) ROW(5, c50, c51)
#endif
#undef ROW
}

/* One product with row strides: c[M x N] (row i at c + i * ldc) = op(a) @ op(b), a and b
 * stored with lda / ldb floats between rows; `scratch` holds gemm_scratch_bytes() bytes.
 * tri (simd.h) skips what a causal mask makes zero, for square products of attention:
 * TRI_C_LOWER: only c[i][j], j <= i, is computed (tiles wholly above the diagonal get 0);
 * TRI_A_LOWER / TRI_A_UPPER: op(a)[i][p] is 0 for p > i / p < i, so those terms are left out. */
void gemm_strided(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int M,
                  int K, int N, int ta, int tb, int tri, float *scratch) {
  float *bp = scratch, *ap = scratch + KC * NC, *tile = ap + MC * KC;
  for (int j0 = 0; j0 < N; j0 += NC) {
    int nc = N - j0 < NC ? N - j0 : NC;
    for (int p0 = 0; p0 == 0 || p0 < K; p0 += KC) {   /* K == 0: one pass writes zeros */
      int kc = K - p0 < KC ? K - p0 : KC, acc = p0 > 0;
      if (kc) pack_b(b, ldb, tb, p0, j0, kc, nc, bp);
      for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        if (kc) pack_a(a, lda, ta, i0, p0, mc, kc, ap);
        for (int jr = 0; jr < nc; jr += NR) {
          int cols = nc - jr < NR ? nc - jr : NR;
          for (int ir = 0; ir < mc; ir += MR) {
            int rows = mc - ir < MR ? mc - ir : MR, i = i0 + ir;
            int lo = 0, hi = kc;     /* the terms p0 + lo .. p0 + hi - 1 that can be nonzero */
            if (tri) {
              if (tri == TRI_C_LOWER && j0 + jr > i + rows - 1) lo = hi; /* above the diagonal */
              if (tri == TRI_A_LOWER && i + rows - p0 < hi) hi = i + rows - p0;
              if (tri == TRI_A_UPPER && i - p0 > lo) lo = i - p0;
              if (hi < lo) hi = lo;
            }
            const float *pa = ap + ir * kc + lo * MR, *pb = bp + jr * kc + lo * NR;
            float *pc = c + (long)i * ldc + j0 + jr;
            if (rows == MR && cols == NR) {
              micro_kernel(hi - lo, pa, pb, pc, ldc, acc);
              continue;
            }
            /* edge: full tile in scratch, then only the valid part back into c */
            for (int r = 0; r < rows; r++)
              for (int s = 0; s < cols; s++)
                tile[r * NR + s] = acc ? pc[(long)r * ldc + s] : 0.0f;
            micro_kernel(hi - lo, pa, pb, tile, NR, 1);
            for (int r = 0; r < rows; r++)
              for (int s = 0; s < cols; s++)
                pc[(long)r * ldc + s] = tile[r * NR + s];
          }
        }
      }
    }
  }
}

/* c[z] = op(a[z]) @ op(b[z]) for z < batch, each c[z] M x N row-major.
 * a is M x K (K x M when ta) row-major, b is K x N (N x K when tb); stride_a / stride_b
 * are the distances in floats between batch items (0: one matrix broadcast to all). */
EXPORT(gemm) void gemm(const float *a, const float *b, float *c, int batch, int M, int K,
                       int N, int ta, int tb, int stride_a, int stride_b, float *scratch) {
  for (int z = 0; z < batch; z++)
    gemm_strided(a + (long)z * stride_a, ta ? M : K, b + (long)z * stride_b, tb ? K : N,
                 c + (long)z * M * N, N, M, K, N, ta, tb, TRI_NONE, scratch);
}

/* One Adam/AdamW step on n floats, in place, in exactly the float32 operations (and order)
 * of engine.optim.Adam's numpy path, which keeps the sums M = m/(1-b1), V = v/(1-b2):
 *   p *= shrink                      (AdamW: 1 - lr*wd; Adam: 1, a no-op)
 *   g  = p*l2 + g                    (Adam's L2 decay when l2 != 0; g itself is not written)
 *   M  = M*b1 + g ;  V = V*b2 + g*g
 *   p += (M / (sqrt(V) + eps_c)) * neg_step
 * eps_c and neg_step fold the bias corrections (see engine/optim/__init__.py). */
EXPORT(adam) void adam(float *p, const float *g, float *M, float *V, int n, float b1,
                       float b2, float shrink, float l2, float eps_c, float neg_step) {
  v128_t vb1 = wasm_f32x4_splat(b1), vb2 = wasm_f32x4_splat(b2),
         vshrink = wasm_f32x4_splat(shrink), vl2 = wasm_f32x4_splat(l2),
         veps = wasm_f32x4_splat(eps_c), vstep = wasm_f32x4_splat(neg_step);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t pv = wasm_f32x4_mul(wasm_v128_load(p + i), vshrink), gv = wasm_v128_load(g + i);
    if (l2 != 0.0f) gv = wasm_f32x4_add(wasm_f32x4_mul(pv, vl2), gv);
    v128_t m = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(M + i), vb1), gv);
    v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(V + i), vb2), wasm_f32x4_mul(gv, gv));
    v128_t t = wasm_f32x4_div(m, wasm_f32x4_add(wasm_f32x4_sqrt(v), veps));
    wasm_v128_store(M + i, m);
    wasm_v128_store(V + i, v);
    wasm_v128_store(p + i, wasm_f32x4_add(pv, wasm_f32x4_mul(t, vstep)));
  }
  for (; i < n; i++) {
    float pv = p[i] * shrink, gv = g[i];
    if (l2 != 0.0f) gv = pv * l2 + gv;
    float m = M[i] * b1 + gv, v = V[i] * b2 + gv * gv;
    M[i] = m;
    V[i] = v;
    p[i] = pv + (m / (__builtin_sqrtf(v) + eps_c)) * neg_step;
  }
}
