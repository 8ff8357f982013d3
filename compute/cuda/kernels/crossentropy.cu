// crossentropy.cu: fused softmax cross-entropy (forward and backward in one
// kernel, the logits overwritten by their gradient) and the plain softmax
// used for sampling. One warp per row; sums in float64 as the CPU backend.

// losses (N) = weight[n] * -log softmax(logits[n])[target[n]], 0 where
// target == ignore or weight == 0; banned >= 0 is a class whose logit counts
// as -inf (-1: none); weights (N) and losses (N) may be null. With backward,
// logits (N,V) is OVERWRITTEN by dlogits = gradScale*weight*(softmax - onehot),
// 0 on ignored rows. A target outside [0,V) gives NaN loss and gradients.
extern "C" __global__ void cross_entropy(float* losses, float* logits, const int* targets, const float* weights,
                                         int N, int V, int ignore, int banned, int backward, float gradScale) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    float* x = logits + (long long)row * V;
    int tgt = targets[row];
    float w = weights ? weights[row] : 1.0f;
    if (tgt == ignore || w == 0.0f) {
        if (losses && lane == 0) losses[row] = 0.0f;
        if (backward)
            for (int v = lane; v < V; v += 32) x[v] = 0.0f;
        return;
    }
    double mx = -1.0 / 0.0;
    for (int v = lane; v < V; v += 32)
        if (v != banned) mx = fmax(mx, (double)x[v]);
    mx = warp_max_d(mx);
    double sum = 0.0;
    for (int v = lane; v < V; v += 32)
        if (v != banned) sum += exp((double)x[v] - mx);
    sum = warp_sum_d(sum);
    double lse = mx + log(sum);
    bool bad = tgt < 0 || tgt >= V;
    double loss;
    if (bad) loss = F_NAN;
    else if (tgt == banned) loss = 1.0 / 0.0;
    else loss = lse - (double)x[tgt];
    __syncwarp(); // every lane has read x[tgt] before any overwrites it
    if (losses && lane == 0) losses[row] = w * (float)loss;
    if (backward) {
        double gs = (double)gradScale * (double)w;
        for (int v = lane; v < V; v += 32) {
            double p = v != banned ? exp((double)x[v] - lse) : 0.0;
            if (v == tgt) p -= 1.0;
            if (bad) p = F_NAN;
            x[v] = (float)(gs * p);
        }
    }
}

// probs (N,V) = softmax(logits (N,V) / temperature) with banned's
// probability 0 (banned -1: none). temperature <= 0: one-hot on the largest
// allowed logit, the first on ties.
extern "C" __global__ void softmax(float* probs, const float* logits, int N, int V, int banned, float temperature) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const float* x = logits + (long long)row * V;
    float* dst = probs + (long long)row * V;
    // Per lane: the first largest of its columns (ascending), then a warp
    // reduction that keeps the larger value, the lower index on ties.
    double mx = -1.0 / 0.0;
    int arg = -1;
    for (int v = lane; v < V; v += 32) {
        if (v != banned && (arg < 0 || (double)x[v] > mx)) {
            mx = x[v];
            arg = v;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        double m2 = __shfl_xor_sync(0xffffffffu, mx, o);
        int a2 = __shfl_xor_sync(0xffffffffu, arg, o);
        bool take = a2 >= 0 && (arg < 0 || m2 > mx || (m2 == mx && a2 < arg));
        if (take) {
            mx = m2;
            arg = a2;
        }
    }
    if (temperature <= 0.0f) {
        for (int v = lane; v < V; v += 32) dst[v] = v == arg ? 1.0f : 0.0f;
        return;
    }
    double inv = 1.0 / (double)temperature;
    double sum = 0.0;
    for (int v = lane; v < V; v += 32)
        if (v != banned) sum += exp(((double)x[v] - mx) * inv);
    sum = warp_sum_d(sum);
    for (int v = lane; v < V; v += 32) dst[v] = v == banned ? 0.0f : (float)(exp(((double)x[v] - mx) * inv) / sum);
}
