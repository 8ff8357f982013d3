// meanpool.cu: mean over the valid positions of each sequence, forward and
// backward side by side. One thread per (b, c), walking t.

// out (B,C) = mean_{t: mask[b,t]==1} inp (B,T,C); mask (B,T) may be null
// (all valid). A row with no valid position gives 0.
extern "C" __global__ void meanpool_forward(float* out, const float* inp, const int* mask, int B, int T, int C) {
    GRID_STRIDE(i, (long long)B * C) {
        int b = (int)(i / C), c = (int)(i % C);
        float s = 0.0f;
        int cnt = 0;
        for (int t = 0; t < T; t++) {
            if (mask && mask[b * T + t] == 0) continue;
            s += inp[((long long)b * T + t) * C + c];
            cnt++;
        }
        out[i] = cnt > 0 ? s * (1.0f / (float)cnt) : 0.0f;
    }
}

// dinp (B,T,C) += dout (B,C) / count at valid positions.
extern "C" __global__ void meanpool_backward(float* dinp, const float* dout, const int* mask, int B, int T, int C) {
    GRID_STRIDE(i, (long long)B * C) {
        int b = (int)(i / C), c = (int)(i % C);
        int cnt = T;
        if (mask) {
            cnt = 0;
            for (int t = 0; t < T; t++) cnt += mask[b * T + t] != 0;
        }
        if (cnt == 0) continue;
        float g = dout[i] * (1.0f / (float)cnt);
        for (int t = 0; t < T; t++) {
            if (mask && mask[b * T + t] == 0) continue;
            dinp[((long long)b * T + t) * C + c] += g;
        }
    }
}
