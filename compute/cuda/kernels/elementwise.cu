// elementwise.cu: GELU, residual add/accumulate/scale, bias, AdamW, EMA and
// the sum of squares. One thread per element, grid-stride.

#define GELU_K 0.7978845608028654f // sqrt(2/pi)
#define GELU_A 0.044715f

// GELU (tanh form) as x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3):
// 0.5 x (1 + tanh u) with one exp, saturating cleanly at both ends.
__device__ __forceinline__ float gelu_sigmoid(float x) {
    return 1.0f / (1.0f + expf(-2.0f * GELU_K * (x + GELU_A * x * x * x)));
}

// out (n) = gelu(inp (n))
extern "C" __global__ void gelu_forward(float* out, const float* inp, long long n) {
    GRID_STRIDE(i, n) {
        float x = inp[i];
        out[i] = x * gelu_sigmoid(x);
    }
}

// dinp (n) OVERWRITTEN = dout (n) * gelu'(inp (n)); dinp may alias dout.
// d/dx x s(x) = s + x s (1-s) 2k (1 + 3a x^2)
extern "C" __global__ void gelu_backward(float* dinp, const float* inp, const float* dout, long long n) {
    GRID_STRIDE(i, n) {
        float x = inp[i];
        float s = gelu_sigmoid(x);
        float g = s + x * s * (1.0f - s) * 2.0f * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        dinp[i] = dout[i] * g;
    }
}

// out (n) = a (n) + b (n); out may alias a or b.
extern "C" __global__ void add(float* out, const float* a, const float* b, long long n) {
    GRID_STRIDE(i, n) { out[i] = a[i] + b[i]; }
}

// dst (n) += src (n)
extern "C" __global__ void accumulate(float* dst, const float* src, long long n) {
    GRID_STRIDE(i, n) { dst[i] += src[i]; }
}

// x (n) *= s
extern "C" __global__ void scale(float* x, long long n, float s) {
    GRID_STRIDE(i, n) { x[i] *= s; }
}

// Matmul bias, forward and backward side by side.
// out (N,OC) += bias (OC) broadcast over rows.
extern "C" __global__ void bias_forward(float* out, const float* bias, long long N, int OC) {
    GRID_STRIDE(i, N * OC) { out[i] += bias[i % OC]; }
}

// dbias (OC) += sum_n dout (N,OC). Block (32,32): 32 columns, the 32 rows
// of threads stride down the rows; a fixed-order reduction, no atomics,
// so the sum does not depend on scheduling.
extern "C" __global__ void bias_backward(float* dbias, const float* dout, int N, int OC) {
    __shared__ float part[32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < OC) {
        for (int n = threadIdx.y; n < N; n += 32) s += dout[(long long)n * OC + c];
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        float t = 0.0f;
        for (int r = 0; r < 32; r++) t += part[r][threadIdx.x];
        dbias[c] += t;
    }
}

// AdamW with decoupled weight decay; bc1 = 1-b1^t, bc2 = 1-b2^t from the host.
// params, grads, m, v (n):
// m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2 ;
// p -= lr * ( (m/bc1) / (sqrt(v/bc2) + eps) + wd * p )
extern "C" __global__ void adamw(float* p, const float* g, float* m, float* v, long long n,
                                 float lr, float b1, float b2, float eps, float wd, float bc1, float bc2) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        p[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
    }
}

// ema (n) = decay*ema + (1-decay)*params
extern "C" __global__ void ema(float* e, const float* p, long long n, float decay) {
    GRID_STRIDE(i, n) { e[i] = decay * e[i] + (1.0f - decay) * p[i]; }
}

// Sum of squares in float64, two passes in a fixed order (deterministic):
// partial (gridDim.x) = per-block sums of x (n)^2; then one block sums the
// partials into out (1). NaN and Inf propagate.
extern "C" __global__ void sumsq_partial(double* partial, const float* x, long long n) {
    __shared__ double scratch[32];
    double s = 0.0;
    GRID_STRIDE(i, n) {
        double v = x[i];
        s += v * v;
    }
    s = block_sum_d(s, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

extern "C" __global__ void sumsq_final(double* out, const double* partial, int nb) {
    __shared__ double scratch[32];
    double s = 0.0;
    for (int i = threadIdx.x; i < nb; i += blockDim.x) s += partial[i];
    s = block_sum_d(s, scratch);
    if (threadIdx.x == 0) out[0] = s;
}
