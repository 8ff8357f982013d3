// decode.cu: incremental (KV-cache) attention of one new query per row,
// for causal decoding; inference only, no backward.
// out (B,C) <- the q third of qkv (B,3C), kCache, vCache (B,Tmax,C) holding
// Tk positions (row b's position t at (b*Tmax+t)*C). One block per (b, h)
// (grid B*H); the Tk scores live in dynamic shared memory as doubles and
// everything is accumulated in float64, as the CPU backend does, so that
// decoding matches the tiled forward to float32 rounding.
extern "C" __global__ void attn_decode(float* out, const float* qkv, const float* kc, const float* vc, int B, int Tk,
                                       int Tmax, int C, int H, double scale) {
    extern __shared__ double dec_sc[];
    __shared__ double scratch[32];
    int hd = C / H, bh = blockIdx.x, h = bh % H, b = bh / H;
    const float* q = qkv + (long long)b * 3 * C + h * hd;
    long long base = (long long)b * Tmax * C + h * hd;
    double mx = -1.0 / 0.0;
    for (int j = threadIdx.x; j < Tk; j += blockDim.x) {
        const float* k = kc + base + (long long)j * C;
        double s = 0.0;
        for (int d = 0; d < hd; d++) s += (double)q[d] * (double)k[d];
        s *= scale;
        dec_sc[j] = s;
        mx = fmax(mx, s);
    }
    mx = block_max_d(mx, scratch);
    double sum = 0.0;
    for (int j = threadIdx.x; j < Tk; j += blockDim.x) {
        double e = exp(dec_sc[j] - mx);
        dec_sc[j] = e;
        sum += e;
    }
    sum = block_sum_d(sum, scratch); // its barriers also order the dec_sc writes
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        double acc = 0.0;
        for (int j = 0; j < Tk; j++) acc += dec_sc[j] / sum * (double)vc[base + (long long)j * C + d];
        out[(long long)b * C + h * hd + d] = (float)acc;
    }
}
