// layernorm.cu: LayerNorm over the last dim, eps 1e-5, biased variance (as
// PyTorch); forward and backward side by side. One warp per row.

// out (N,C), mean (N), rstd (N) <- inp (N,C), w (C), b (C); mean and rstd
// may be null (inference). Two passes over the row for accuracy.
extern "C" __global__ void layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                                             const float* w, const float* b, int N, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const float* x = inp + (long long)row * C;
    float s = 0.0f;
    for (int i = lane; i < C; i += 32) s += x[i];
    float m = warp_sum(s) / C;
    float ss = 0.0f;
    for (int i = lane; i < C; i += 32) {
        float d = x[i] - m;
        ss += d * d;
    }
    ss = warp_sum(ss);
    float r = (float)(1.0 / sqrt((double)(ss / C) + 1e-5));
    float* o = out + (long long)row * C;
    for (int i = lane; i < C; i += 32) o[i] = (x[i] - m) * r * w[i] + b[i];
    if (lane == 0) {
        if (mean) mean[row] = m;
        if (rstd) rstd[row] = r;
    }
}

// dinp (N,C) += (optional, may be null), dw (C) +=, db (C) += <- dout (N,C),
// inp, w, mean, rstd. With norm = (x-mean)*rstd and dn = w*dout:
// dw += dout*norm, db += dout, dinp += (dn - mean(dn) - norm*mean(dn*norm)) * rstd.
// Each block sums dw, db of its rows in shared memory (2C floats, dynamic),
// then adds them to the global ones atomically.
extern "C" __global__ void layernorm_backward(float* dinp, float* dw, float* db, const float* dout,
                                              const float* inp, const float* w, const float* mean,
                                              const float* rstd, int N, int C) {
    extern __shared__ float lnsm[];
    float* sdw = lnsm;
    float* sdb = lnsm + C;
    for (int i = threadIdx.x; i < 2 * C; i += blockDim.x) lnsm[i] = 0.0f;
    __syncthreads();
    int lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int row = blockIdx.x * warps + threadIdx.x / 32; row < N; row += gridDim.x * warps) {
        const float* x = inp + (long long)row * C;
        const float* d = dout + (long long)row * C;
        float mu = mean[row], rs = rstd[row];
        float dmean = 0.0f, dnm = 0.0f;
        for (int i = lane; i < C; i += 32) {
            float norm = (x[i] - mu) * rs;
            float dn = w[i] * d[i];
            dmean += dn;
            dnm += dn * norm;
            atomicAdd(&sdw[i], d[i] * norm);
            atomicAdd(&sdb[i], d[i]);
        }
        if (dinp) {
            dmean = warp_sum(dmean) / C;
            dnm = warp_sum(dnm) / C;
            float* di = dinp + (long long)row * C;
            for (int i = lane; i < C; i += 32) {
                float norm = (x[i] - mu) * rs;
                di[i] += (w[i] * d[i] - dmean - norm * dnm) * rs;
            }
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
        if (dw) atomicAdd(&dw[i], sdw[i]);
        if (db) atomicAdd(&db[i], sdb[i]);
    }
}
