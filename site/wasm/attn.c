/* Causal self-attention in one call per direction: part of kernels.wasm (see kernels.c for
 * the rules every kernel follows: no data, no stack, caller-owned memory).
 *
 * engine/nn/seqops.self_attention's float32 path in the page. The heads are read and written
 * where they lie in the packed projection qkv (B, T, 3C) = [q | k | v], head h at columns
 * h*hs of each part (row stride 3C), and the output (B, T, C) likewise (row stride C): no
 * head copies. Under the causal mask the weights are zero above the diagonal, so the six
 * products leave out what they would multiply by it (gemm_strided's `tri`): about half of
 * each at T = 64. */
#include "simd.h"

/* out (B, T, C) and the weights w (B, nh, T, T) of softmax(scale * q k^T) v per head;
 * causal: key j takes part in row i only when j <= i (the others get weight 0). */
EXPORT(attention) void attention(const float *qkv, float *out, float *w, int B, int T, int nh,
                                 int hs, float scale, int causal, float *scratch) {
  int C = nh * hs, ld = 3 * C;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < nh; h++) {
      const float *q = qkv + (long)b * T * ld + h * hs, *k = q + C, *v = q + 2 * C;
      float *wz = w + ((long)b * nh + h) * T * T, *o = out + (long)b * T * C + h * hs;
      gemm_strided(q, ld, k, ld, wz, T, T, hs, T, 0, 1, causal ? TRI_C_LOWER : TRI_NONE, scratch);
      softmax(wz, T, T, T, scale, causal, scratch);
      gemm_strided(wz, T, v, ld, o, C, T, T, hs, 0, 0, causal ? TRI_A_LOWER : TRI_NONE, scratch);
    }
}

/* attention's backward: from g (B, T, C), the output's gradient, the gradient gx (B, T, 3C)
 * of qkv = [gq | gk | gv], every element written. gs: T x T floats of room (the scores'
 * gradient of one head at a time). */
EXPORT(attention_backward) void attention_backward(const float *qkv, const float *w,
                                                   const float *g, float *gx, float *gs, int B,
                                                   int T, int nh, int hs, float scale,
                                                   int causal, float *scratch) {
  int C = nh * hs, ld = 3 * C;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < nh; h++) {
      long at = (long)b * T * ld + h * hs;
      const float *q = qkv + at, *k = q + C, *v = q + 2 * C;
      const float *wz = w + ((long)b * nh + h) * T * T, *gz = g + (long)b * T * C + h * hs;
      float *gq = gx + at, *gk = gq + C, *gv = gq + 2 * C;
      /* gv = w^T g; gs = g v^T; through the softmax; gq = gs k; gk = gs^T q */
      gemm_strided(wz, T, gz, C, gv, ld, T, T, hs, 1, 0, causal ? TRI_A_UPPER : TRI_NONE, scratch);
      gemm_strided(gz, C, v, ld, gs, T, T, hs, T, 0, 1, causal ? TRI_C_LOWER : TRI_NONE, scratch);
      softmax_backward(gs, wz, T, T, scale);
      gemm_strided(gs, T, k, ld, gq, ld, T, T, hs, 0, 0, causal ? TRI_A_LOWER : TRI_NONE, scratch);
      gemm_strided(gs, T, q, ld, gk, ld, T, T, hs, 1, 0, causal ? TRI_A_UPPER : TRI_NONE, scratch);
    }
}
