/* Channels-last image kernels (conv2d's im2col / col2im, max pooling): part of kernels.wasm
 * (see kernels.c for the rules every kernel follows: no data, no stack, caller-owned memory). */
#include "simd.h"

/* -- Channels-last image kernels: conv2d's im2col / col2im and max pooling ------------------
 * Images are (N, H, W, C) float32, C-contiguous. A window is kh x kw, moved by (sh, sw) over
 * the image padded by (ph, pw) on each side, giving Ho x Wo windows; padding reads as 0
 * (convolution) or is skipped (max pooling: as -inf). engine.nn.functional keeps the numpy
 * code of each op beside the call; these do the same in one pass over memory. */

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
