// attention.cu: multi-head scaled dot-product attention, flash-attention
// style: the (T,T) score matrix never exists. Forward and backward side by
// side. qkv (B,T,3C) holds [q | k | v] per row, each (H, hd), rotary
// already applied; keyMask (B,T) (1 valid key, 0 padding) may be null;
// causal: query i sees keys j <= i. Scores are scale * q.k, scale =
// 1/sqrt(hd) from the host.
//
// Blocking: a block is BQ (= blockDim.x) threads for one (batch, head) and
// BQ consecutive rows; each thread owns one row (a query in the forward and
// dq, a key in dk and dv) and keeps its vectors in registers (HD floats
// each, HD the compiled head-dim bound; hd <= HD runs zero-padded). The
// other side is staged through shared memory in tiles of BK rows, read as
// float4 broadcasts (every thread reads the same row). Online softmax: a
// running max m and sum l per query; the partial output is rescaled when m
// grows; lse = m + log l is saved so the backward recomputes
// P = exp(S - lse) instead of storing it.
//
// Dynamic shared memory: tile A (BK*HD), tile B (BK*HD), 2*BK scalars.

// ---------------------------------------------------------------- forward

// out (B,T,C), lse (B,H,T) (may be null) <- qkv (B,T,3C), keyMask (B,T).
// A query with no valid key gets a zero output and lse -inf.
template <int HD, int BK>
__device__ __forceinline__ void attn_forward_impl(float* out, float* lse, const float* qkv, const int* mask, int B,
                                                  int T, int C, int H, int causal, float scale) {
    extern __shared__ float4 attn_sm4[];
    float* Ks = (float*)attn_sm4;
    float* Vs = Ks + BK * HD;
    float* kvalid = Vs + BK * HD;
    const int hd = C / H, C3 = 3 * C, b = blockIdx.z, h = blockIdx.y;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = i < T;
    float q[HD], o[HD];
#pragma unroll
    for (int d = 0; d < HD; d++) {
        q[d] = (active && d < hd) ? qkv[((long long)b * T + i) * C3 + h * hd + d] : 0.0f;
        o[d] = 0.0f;
    }
    float m = NEG_INF, l = 0.0f;
    const int kend = causal ? min(T, (int)((blockIdx.x + 1) * blockDim.x)) : T;
    for (int j0 = 0; j0 < kend; j0 += BK) {
        __syncthreads(); // the previous tile is no longer read
        for (int idx = threadIdx.x; idx < BK * HD; idx += blockDim.x) {
            int r = idx / HD, d = idx % HD, j = j0 + r;
            bool ok = j < T && d < hd;
            long long base = ((long long)b * T + j) * C3 + h * hd + d;
            Ks[idx] = ok ? qkv[base + C] : 0.0f;
            Vs[idx] = ok ? qkv[base + 2 * C] : 0.0f;
        }
        for (int r = threadIdx.x; r < BK; r += blockDim.x) {
            int j = j0 + r;
            kvalid[r] = (j < T && (mask == 0 || mask[b * T + j] != 0)) ? 1.0f : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        float s[BK];
        float mt = NEG_INF;
#pragma unroll
        for (int r = 0; r < BK; r++) {
            const float4* k4 = (const float4*)(Ks + r * HD);
            float acc = 0.0f;
#pragma unroll
            for (int d4 = 0; d4 < HD / 4; d4++) {
                float4 kk = k4[d4];
                acc += q[4 * d4] * kk.x + q[4 * d4 + 1] * kk.y + q[4 * d4 + 2] * kk.z + q[4 * d4 + 3] * kk.w;
            }
            bool ok = kvalid[r] != 0.0f && (!causal || j0 + r <= i);
            s[r] = ok ? acc * scale : NEG_INF;
            mt = fmaxf(mt, s[r]);
        }
        float mnew = fmaxf(m, mt);
        if (mnew == NEG_INF) continue; // no valid key so far
        float alpha = expf(m - mnew);  // 0 while m is -inf
        l *= alpha;
#pragma unroll
        for (int d = 0; d < HD; d++) o[d] *= alpha;
#pragma unroll
        for (int r = 0; r < BK; r++) {
            float p = expf(s[r] - mnew);
            l += p;
            const float4* v4 = (const float4*)(Vs + r * HD);
#pragma unroll
            for (int d4 = 0; d4 < HD / 4; d4++) {
                float4 vv = v4[d4];
                o[4 * d4] += p * vv.x;
                o[4 * d4 + 1] += p * vv.y;
                o[4 * d4 + 2] += p * vv.z;
                o[4 * d4 + 3] += p * vv.w;
            }
        }
        m = mnew;
    }
    if (!active) return;
    float* dst = out + ((long long)b * T + i) * C + h * hd;
    float L = NEG_INF;
    float inv = l == 0.0f ? 0.0f : 1.0f / l;
#pragma unroll
    for (int d = 0; d < HD; d++)
        if (d < hd) dst[d] = o[d] * inv;
    if (l != 0.0f) L = m + logf(l);
    if (lse) lse[((long long)b * H + h) * T + i] = L;
}

// ---------------------------------------------------------------- backward
//
// dqkv (B,T,3C) OVERWRITTEN <- dout (B,T,C), qkv, out, lse (B,H,T), as the
// forward. With P = exp(S - lse), D_i = rowsum(dO_i * O_i) (attn_bwd_pre):
// dV_j = sum_i P_ij dO_i ; dP_ij = dO_i . V_j ; dS = P * (dP - D) ;
// dQ_i = scale sum_j dS_ij K_j ; dK_j = scale sum_i dS_ij Q_i.
// Three kernels (dq per query; dk and dv per key) so that each thread keeps
// at most three HD-vectors in registers; S is recomputed in each.

// D (B,H,T) = sum_d dout * out over each head's slice. One thread per (b,t,h).
extern "C" __global__ void attn_bwd_pre(float* D, const float* dout, const float* out, int B, int T, int C, int H) {
    int hd = C / H;
    GRID_STRIDE(idx, (long long)B * T * H) {
        int h = (int)(idx % H);
        long long bt = idx / H;
        int b = (int)(bt / T), t = (int)(bt % T);
        const float* a = dout + bt * C + h * hd;
        const float* o = out + bt * C + h * hd;
        float s = 0.0f;
        for (int d = 0; d < hd; d++) s += a[d] * o[d];
        D[((long long)b * H + h) * T + t] = s;
    }
}

// dq: thread per query i; tiles of K and V.
template <int HD, int BK>
__device__ __forceinline__ void attn_bwd_dq_impl(float* dqkv, const float* dout, const float* qkv, const float* lse,
                                                 const float* Dv, const int* mask, int B, int T, int C, int H,
                                                 int causal, float scale) {
    extern __shared__ float4 attn_sm4[];
    float* Ks = (float*)attn_sm4;
    float* Vs = Ks + BK * HD;
    float* kvalid = Vs + BK * HD;
    const int hd = C / H, C3 = 3 * C, b = blockIdx.z, h = blockIdx.y;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = i < T;
    float q[HD], dO[HD], dq[HD];
#pragma unroll
    for (int d = 0; d < HD; d++) {
        bool ok = active && d < hd;
        q[d] = ok ? qkv[((long long)b * T + i) * C3 + h * hd + d] : 0.0f;
        dO[d] = ok ? dout[((long long)b * T + i) * C + h * hd + d] : 0.0f;
        dq[d] = 0.0f;
    }
    const float L = active ? lse[((long long)b * H + h) * T + i] : NEG_INF;
    const float Di = active ? Dv[((long long)b * H + h) * T + i] : 0.0f;
    const int kend = causal ? min(T, (int)((blockIdx.x + 1) * blockDim.x)) : T;
    for (int j0 = 0; j0 < kend; j0 += BK) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < BK * HD; idx += blockDim.x) {
            int r = idx / HD, d = idx % HD, j = j0 + r;
            bool ok = j < T && d < hd;
            long long base = ((long long)b * T + j) * C3 + h * hd + d;
            Ks[idx] = ok ? qkv[base + C] : 0.0f;
            Vs[idx] = ok ? qkv[base + 2 * C] : 0.0f;
        }
        for (int r = threadIdx.x; r < BK; r += blockDim.x) {
            int j = j0 + r;
            kvalid[r] = (j < T && (mask == 0 || mask[b * T + j] != 0)) ? 1.0f : 0.0f;
        }
        __syncthreads();
        if (!active || L == NEG_INF) continue;
        // Unrolled by 2 only: no register array is indexed by r here, and
        // full unrolling made ptxas spill q, dO, dq at HD 64.
#pragma unroll 2
        for (int r = 0; r < BK; r++) {
            const float4* k4 = (const float4*)(Ks + r * HD);
            const float4* v4 = (const float4*)(Vs + r * HD);
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int d4 = 0; d4 < HD / 4; d4++) {
                float4 kk = k4[d4], vv = v4[d4];
                s += q[4 * d4] * kk.x + q[4 * d4 + 1] * kk.y + q[4 * d4 + 2] * kk.z + q[4 * d4 + 3] * kk.w;
                dp += dO[4 * d4] * vv.x + dO[4 * d4 + 1] * vv.y + dO[4 * d4 + 2] * vv.z + dO[4 * d4 + 3] * vv.w;
            }
            bool ok = kvalid[r] != 0.0f && (!causal || j0 + r <= i);
            float p = ok ? expf(s * scale - L) : 0.0f;
            float ds = p * (dp - Di) * scale;
#pragma unroll
            for (int d4 = 0; d4 < HD / 4; d4++) {
                float4 kk = k4[d4];
                dq[4 * d4] += ds * kk.x;
                dq[4 * d4 + 1] += ds * kk.y;
                dq[4 * d4 + 2] += ds * kk.z;
                dq[4 * d4 + 3] += ds * kk.w;
            }
        }
    }
    if (!active) return;
    float* dst = dqkv + ((long long)b * T + i) * C3 + h * hd;
#pragma unroll
    for (int d = 0; d < HD; d++)
        if (d < hd) dst[d] = dq[d];
}

// dk (wantDK = 1) or dv (wantDK = 0): thread per key j; tiles of Q and dO
// with each query's lse and D. Causal: only queries i >= j, so the walk
// starts at this block's first key.
template <int HD, int BK>
__device__ __forceinline__ void attn_bwd_dkv_impl(float* dqkv, const float* dout, const float* qkv, const float* lse,
                                                  const float* Dv, const int* mask, int B, int T, int C, int H,
                                                  int causal, float scale, int wantDK) {
    extern __shared__ float4 attn_sm4[];
    float* Qs = (float*)attn_sm4;
    float* dOs = Qs + BK * HD;
    float* Ls = dOs + BK * HD;
    float* Ds = Ls + BK;
    const int hd = C / H, C3 = 3 * C, b = blockIdx.z, h = blockIdx.y;
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = j < T;
    const bool kval = active && (mask == 0 || mask[b * T + j] != 0);
    float k[HD], v[HD], acc[HD];
#pragma unroll
    for (int d = 0; d < HD; d++) {
        bool ok = active && d < hd;
        long long base = ((long long)b * T + j) * C3 + h * hd + d;
        k[d] = ok ? qkv[base + C] : 0.0f;
        v[d] = (ok && wantDK) ? qkv[base + 2 * C] : 0.0f;
        acc[d] = 0.0f;
    }
    const int i0 = causal ? (int)(blockIdx.x * blockDim.x) : 0;
    for (int q0 = i0; q0 < T; q0 += BK) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < BK * HD; idx += blockDim.x) {
            int r = idx / HD, d = idx % HD, i = q0 + r;
            bool ok = i < T && d < hd;
            Qs[idx] = ok ? qkv[((long long)b * T + i) * C3 + h * hd + d] : 0.0f;
            dOs[idx] = ok ? dout[((long long)b * T + i) * C + h * hd + d] : 0.0f;
        }
        for (int r = threadIdx.x; r < BK; r += blockDim.x) {
            int i = q0 + r;
            Ls[r] = i < T ? lse[((long long)b * H + h) * T + i] : NEG_INF;
            Ds[r] = i < T ? Dv[((long long)b * H + h) * T + i] : 0.0f;
        }
        __syncthreads();
        if (!kval) continue;
#pragma unroll 2
        for (int r = 0; r < BK; r++) {
            const float4* q4 = (const float4*)(Qs + r * HD);
            const float4* o4 = (const float4*)(dOs + r * HD);
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int d4 = 0; d4 < HD / 4; d4++) {
                float4 qq = q4[d4];
                s += k[4 * d4] * qq.x + k[4 * d4 + 1] * qq.y + k[4 * d4 + 2] * qq.z + k[4 * d4 + 3] * qq.w;
                if (wantDK) {
                    float4 oo = o4[d4];
                    dp += v[4 * d4] * oo.x + v[4 * d4 + 1] * oo.y + v[4 * d4 + 2] * oo.z + v[4 * d4 + 3] * oo.w;
                }
            }
            float Li = Ls[r];
            bool ok = Li != NEG_INF && (!causal || j <= q0 + r);
            float p = ok ? expf(s * scale - Li) : 0.0f;
            float coef = wantDK ? p * (dp - Ds[r]) * scale : p;
            const float4* src = wantDK ? q4 : o4;
#pragma unroll
            for (int d4 = 0; d4 < HD / 4; d4++) {
                float4 xx = src[d4];
                acc[4 * d4] += coef * xx.x;
                acc[4 * d4 + 1] += coef * xx.y;
                acc[4 * d4 + 2] += coef * xx.z;
                acc[4 * d4 + 3] += coef * xx.w;
            }
        }
    }
    if (!active) return;
    float* dst = dqkv + ((long long)b * T + j) * C3 + (wantDK ? C : 2 * C) + h * hd;
#pragma unroll
    for (int d = 0; d < HD; d++)
        if (d < hd) dst[d] = acc[d];
}

// One extern "C" entry per compiled head-dim bound; the Go side picks the
// smallest HD >= hd (launch.go attnHD) and BK to match (attnBK).
#define ATTN_ENTRIES(HD, BK)                                                                                       \
    extern "C" __global__ void attn_forward_##HD(float* out, float* lse, const float* qkv, const int* mask, int B,  \
                                                 int T, int C, int H, int causal, float scale) {                  \
        attn_forward_impl<HD, BK>(out, lse, qkv, mask, B, T, C, H, causal, scale);                                \
    }                                                                                                              \
    extern "C" __global__ void attn_bwd_dq_##HD(float* dqkv, const float* dout, const float* qkv, const float* lse, \
                                                const float* D, const int* mask, int B, int T, int C, int H,       \
                                                int causal, float scale) {                                         \
        attn_bwd_dq_impl<HD, BK>(dqkv, dout, qkv, lse, D, mask, B, T, C, H, causal, scale);                        \
    }                                                                                                              \
    extern "C" __global__ void attn_bwd_dkv_##HD(float* dqkv, const float* dout, const float* qkv,                 \
                                                 const float* lse, const float* D, const int* mask, int B, int T, \
                                                 int C, int H, int causal, float scale, int wantDK) {              \
        attn_bwd_dkv_impl<HD, BK>(dqkv, dout, qkv, lse, D, mask, B, T, C, H, causal, scale, wantDK);              \
    }

ATTN_ENTRIES(16, 32)
ATTN_ENTRIES(32, 32)
ATTN_ENTRIES(64, 32)
ATTN_ENTRIES(128, 16)
