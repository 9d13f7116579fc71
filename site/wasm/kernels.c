/* Descent's WebAssembly SIMD kernels: a float32 GEMM and a fused Adam/AdamW step.
 *
 * Built by playground/sitebuild/kernels.py (`make site/wasm/kernels.wasm`):
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
 */
#include <wasm_simd128.h>

#define MR 4     /* micro-tile rows: one f32 splat each                   */
#define NR 8     /* micro-tile columns: two f32x4 vectors                 */
#define KC 256   /* depth of one packed slice (A panel 4 KB, B panel 8 KB) */
#define MC 64    /* rows of A packed at once (64 KB)                      */
#define NC 512   /* columns of B packed at once (512 KB)                  */

#define EXPORT(name) __attribute__((export_name(#name)))

/* Bytes of scratch gemm() needs, whatever the shape: packed B, packed A, one edge tile. */
EXPORT(gemm_scratch_bytes) int gemm_scratch_bytes(void) {
  return 4 * (KC * NC + MC * KC + MR * NR);
}

/* op(B)[p0 : p0+kc, j0 : j0+nc] -> NR-wide panels: panel q holds kc rows of NR floats. */
static void pack_b(const float *b, int K, int N, int tb, int p0, int j0, int kc, int nc,
                   float *out) {
  for (int jp = 0; jp < nc; jp += NR, out += kc * NR) {
    int j = j0 + jp, cols = nc - jp < NR ? nc - jp : NR;
    if (!tb && cols == NR) {           /* row-major B: each row of the panel is 8 floats */
      const float *src = b + (long)p0 * N + j;
      for (int p = 0; p < kc; p++, src += N) {
        wasm_v128_store(out + p * NR, wasm_v128_load(src));
        wasm_v128_store(out + p * NR + 4, wasm_v128_load(src + 4));
      }
    } else if (cols == NR) {           /* B stored N x K: 8 rows read side by side */
      const float *src = b + (long)j * K + p0;
      for (int p = 0; p < kc; p++)
        for (int jj = 0; jj < NR; jj++)
          out[p * NR + jj] = src[(long)jj * K + p];
    } else {                           /* last, narrower panel: pad with zeros */
      for (int p = 0; p < kc; p++)
        for (int jj = 0; jj < NR; jj++)
          out[p * NR + jj] = jj >= cols ? 0.0f
                           : tb ? b[(long)(j + jj) * K + p0 + p] : b[(long)(p0 + p) * N + j + jj];
    }
  }
}

/* op(A)[i0 : i0+mc, p0 : p0+kc] -> MR-tall panels: panel q holds kc columns of MR floats. */
static void pack_a(const float *a, int M, int K, int ta, int i0, int p0, int mc, int kc,
                   float *out) {
  for (int ip = 0; ip < mc; ip += MR, out += kc * MR) {
    int i = i0 + ip, rows = mc - ip < MR ? mc - ip : MR;
    if (ta && rows == MR) {            /* A stored K x M: 4 rows of op(A) are contiguous */
      const float *src = a + (long)p0 * M + i;
      for (int p = 0; p < kc; p++, src += M)
        wasm_v128_store(out + p * MR, wasm_v128_load(src));
    } else if (rows == MR) {           /* row-major A: 4 rows read side by side */
      const float *src = a + (long)i * K + p0;
      for (int p = 0; p < kc; p++)
        for (int ii = 0; ii < MR; ii++)
          out[p * MR + ii] = src[(long)ii * K + p];
    } else {
      for (int p = 0; p < kc; p++)
        for (int ii = 0; ii < MR; ii++)
          out[p * MR + ii] = ii >= rows ? 0.0f
                           : ta ? a[(long)(p0 + p) * M + i + ii] : a[(long)(i + ii) * K + p0 + p];
    }
  }
}

/* c[MR x NR] (row stride ldc) = (accumulate ? c : 0) + a_panel @ b_panel over kc. */
static void micro_kernel(int kc, const float *a, const float *b, float *c, int ldc,
                         int accumulate) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00,
         c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), x;
    x = wasm_v128_load32_splat(a + 0);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(x, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(x, b1));
    x = wasm_v128_load32_splat(a + 1);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(x, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(x, b1));
    x = wasm_v128_load32_splat(a + 2);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(x, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(x, b1));
    x = wasm_v128_load32_splat(a + 3);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(x, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(x, b1));
  }
#define ROW(r, lo, hi)                                                              \
  if (accumulate) {                                                                 \
    lo = wasm_f32x4_add(lo, wasm_v128_load(c + r * ldc));                           \
    hi = wasm_f32x4_add(hi, wasm_v128_load(c + r * ldc + 4));                       \
  }                                                                                 \
  wasm_v128_store(c + r * ldc, lo);                                                 \
  wasm_v128_store(c + r * ldc + 4, hi);
  ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31)
#undef ROW
}

/* One product: c[M x N] = op(a) @ op(b); `scratch` holds gemm_scratch_bytes() bytes. */
static void gemm1(const float *a, const float *b, float *c, int M, int K, int N, int ta,
                  int tb, float *scratch) {
  float *bp = scratch, *ap = scratch + KC * NC, *tile = ap + MC * KC;
  if (K == 0) {                        /* empty sum: zeros */
    for (long i = 0; i < (long)M * N; i++) c[i] = 0.0f;
    return;
  }
  for (int j0 = 0; j0 < N; j0 += NC) {
    int nc = N - j0 < NC ? N - j0 : NC;
    for (int p0 = 0; p0 < K; p0 += KC) {
      int kc = K - p0 < KC ? K - p0 : KC, acc = p0 > 0;
      pack_b(b, K, N, tb, p0, j0, kc, nc, bp);
      for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        pack_a(a, M, K, ta, i0, p0, mc, kc, ap);
        for (int jr = 0; jr < nc; jr += NR) {
          int cols = nc - jr < NR ? nc - jr : NR;
          for (int ir = 0; ir < mc; ir += MR) {
            int rows = mc - ir < MR ? mc - ir : MR;
            const float *pa = ap + ir * kc, *pb = bp + jr * kc;
            float *pc = c + (long)(i0 + ir) * N + j0 + jr;
            if (rows == MR && cols == NR) {
              micro_kernel(kc, pa, pb, pc, N, acc);
              continue;
            }
            /* edge: full tile in scratch, then only the valid part back into c */
            for (int r = 0; r < rows; r++)
              for (int s = 0; s < cols; s++)
                tile[r * NR + s] = acc ? pc[(long)r * N + s] : 0.0f;
            micro_kernel(kc, pa, pb, tile, NR, 1);
            for (int r = 0; r < rows; r++)
              for (int s = 0; s < cols; s++)
                pc[(long)r * N + s] = tile[r * NR + s];
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
    gemm1(a + (long)z * stride_a, b + (long)z * stride_b, c + (long)z * M * N, M, K, N,
          ta, tb, scratch);
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

/* -- Channels-last image kernels: conv2d's im2col / col2im and max pooling ------------------
 * Images are (N, H, W, C) float32, C-contiguous. A window is kh x kw, moved by (sh, sw) over
 * the image padded by (ph, pw) on each side, giving Ho x Wo windows; padding reads as 0
 * (convolution) or is skipped (max pooling: as -inf). engine.nn.functional keeps the numpy
 * code of each op beside the call; these do the same in one pass over memory. */

static void copy_run(float *dst, const float *src, int n) {   /* dst[0:n] = src[0:n] */
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < n; i++) dst[i] = src[i];
}

static void add_run(float *dst, const float *src, int n) {    /* dst[0:n] += src[0:n] */
  int i = 0;
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  for (; i < n; i++) dst[i] += src[i];
}

static void zero_run(float *dst, long n) {
  long i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_f32x4_splat(0));
  for (; i < n; i++) dst[i] = 0.0f;
}

/* cols[(n, oh, ow), (i, j, c)] = x[n, oh*sh - ph + i, ow*sw - pw + j, c], 0 in the padding:
 * each window becomes a row of kh*kw*C floats (conv2d's forward, before its product). */
EXPORT(im2col) void im2col(const float *x, float *cols, int N, int H, int W, int C, int kh,
                           int kw, int sh, int sw, int ph, int pw, int Ho, int Wo) {
  for (int n = 0; n < N; n++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++)
        for (int i = 0, w0 = ow * sw - pw; i < kh; i++) {
          int h = oh * sh - ph + i;
          const float *row = x + (((long)n * H + h) * W + w0) * C;
          if (h >= 0 && h < H && w0 >= 0 && w0 + kw <= W) {   /* the whole row inside */
            copy_run(cols, row, kw * C);
            cols += kw * C;
            continue;
          }
          for (int j = 0; j < kw; j++, cols += C) {
            int w = w0 + j;
            if (h < 0 || h >= H || w < 0 || w >= W) zero_run(cols, C);
            else copy_run(cols, row + j * C, C);
          }
        }
}

/* The adjoint of im2col: gx = 0, then each window's row of gcols is added back where it was
 * read from (padding dropped). conv2d's backward, after its product. */
EXPORT(col2im) void col2im(const float *gcols, float *gx, int N, int H, int W, int C, int kh,
                           int kw, int sh, int sw, int ph, int pw, int Ho, int Wo) {
  zero_run(gx, (long)N * H * W * C);
  for (int n = 0; n < N; n++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++)
        for (int i = 0, w0 = ow * sw - pw; i < kh; i++) {
          int h = oh * sh - ph + i;
          float *row = gx + (((long)n * H + h) * W + w0) * C;
          if (h >= 0 && h < H && w0 >= 0 && w0 + kw <= W) {
            add_run(row, gcols, kw * C);
            gcols += kw * C;
            continue;
          }
          for (int j = 0; j < kw; j++, gcols += C) {
            int w = w0 + j;
            if (h >= 0 && h < H && w >= 0 && w < W) add_run(row + j * C, gcols, C);
          }
        }
}

/* y[n, oh, ow, c] = the max of x over the window (padding skipped), and arg[...] = the index
 * in x of its first maximum in raster order (as PyTorch; a NaN counts as the maximum, as in
 * numpy's maximum), or -1 if the window lies wholly in the padding. */
EXPORT(max_pool) void max_pool(const float *x, float *y, int *arg, int N, int H, int W, int C,
                               int kh, int kw, int sh, int sw, int ph, int pw, int Ho, int Wo) {
  const v128_t lanes = wasm_i32x4_make(0, 1, 2, 3);
  for (int n = 0; n < N; n++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++, y += C, arg += C) {
        int h0 = oh * sh - ph, w0 = ow * sw - pw, c = 0;
        for (; c + 4 <= C; c += 4) {
          v128_t best = wasm_f32x4_splat(-__builtin_inff()), at = wasm_i32x4_splat(-1);
          for (int h = h0 < 0 ? 0 : h0; h < h0 + kh && h < H; h++)
            for (int w = w0 < 0 ? 0 : w0; w < w0 + kw && w < W; w++) {
              int off = (int)((((long)n * H + h) * W + w) * C + c);
              v128_t v = wasm_v128_load(x + off);
              v128_t take = wasm_v128_or(wasm_f32x4_gt(v, best),  /* first NaN wins too */
                                         wasm_v128_andnot(wasm_f32x4_ne(v, v), wasm_f32x4_ne(best, best)));
              best = wasm_v128_bitselect(v, best, take);
              at = wasm_v128_bitselect(wasm_i32x4_add(wasm_i32x4_splat(off), lanes), at, take);
            }
          wasm_v128_store(y + c, best);
          wasm_v128_store(arg + c, at);
        }
        for (; c < C; c++) {
          float best = -__builtin_inff();
          int at = -1;
          for (int h = h0 < 0 ? 0 : h0; h < h0 + kh && h < H; h++)
            for (int w = w0 < 0 ? 0 : w0; w < w0 + kw && w < W; w++) {
              int off = (int)((((long)n * H + h) * W + w) * C + c);
              float v = x[off];
              if (v > best || (v != v && best == best)) {
                best = v;
                at = off;
              }
            }
          y[c] = best;
          arg[c] = at;
        }
      }
}

/* max_pool's backward: gx (n_in floats) = 0, then each output's gradient goes to its arg. */
EXPORT(max_pool_backward) void max_pool_backward(const float *g, const int *arg, float *gx,
                                                 int n_out, int n_in) {
  zero_run(gx, n_in);
  for (int k = 0; k < n_out; k++)
    if (arg[k] >= 0) gx[arg[k]] += g[k];
}
