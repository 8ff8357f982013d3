// rotary.cu: rotary position embedding, rotate-half convention over the
// whole head dim, applied in place to the q and k thirds of qkv (B,T,3C)
// (layout [q | k | v], each (H, hd)). cos, sin (positions, hd/2) are the
// host-built tables (float32 angles as PyTorch computes them). Row t has
// position t+pos0. Forward: sign = 1; backward (the inverse rotation, on
// dqkv): sign = -1. One thread per (row, q/k, head, i < hd/2):
// (x1, x2) = (x[i], x[i+hd/2]) -> (x1 c - x2 s, x2 c + x1 s), s = sign*sin.
extern "C" __global__ void rotary(float* qkv, const float* cosT, const float* sinT, int B, int T, int C, int H,
                                  int pos0, float sign) {
    int hd = C / H, half = hd / 2;
    GRID_STRIDE(idx, (long long)B * T * 2 * H * half) {
        int i = (int)(idx % half);
        long long rest = idx / half;
        int h = (int)(rest % H);
        rest /= H;
        int part = (int)(rest % 2);
        long long row = rest / 2;
        int t = (int)(row % T) + pos0;
        float* x = qkv + row * 3 * C + part * C + h * hd;
        float c = cosT[(long long)t * half + i], s = sign * sinT[(long long)t * half + i];
        float x1 = x[i], x2 = x[i + half];
        x[i] = x1 * c - x2 * s;
        x[i + half] = x2 * c + x1 * s;
    }
}
