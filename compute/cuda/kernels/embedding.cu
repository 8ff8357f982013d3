// embedding.cu: token embedding, forward and backward side by side.

// out (N,C) = wte (V,C) [tok (N)]. A token outside [0,V) is a programmer
// error: its row becomes NaN and FAULT_TOKEN is set in *fault for Sync.
extern "C" __global__ void embedding_forward(float* out, const int* tok, const float* wte, int N, int C, int V,
                                             int* fault) {
    GRID_STRIDE(i, (long long)N * C) {
        int n = (int)(i / C), c = (int)(i % C);
        int id = tok[n];
        if (id < 0 || id >= V) {
            out[i] = F_NAN;
            if (c == 0) atomicOr(fault, FAULT_TOKEN);
        } else {
            out[i] = wte[(long long)id * C + c];
        }
    }
}

// dwte (V,C) += scatter of dout (N,C) by tok (N), small vocabularies (V*32
// floats fit in shared memory): block (32 columns x 8 row-lanes) gathers
// rows blockIdx.x*rowsPerBlock.. into a V x 32 shared table, then adds the
// non-zero entries to dwte (few global atomics; DNA has V = 12).
extern "C" __global__ void embedding_backward_smem(float* dwte, const float* dout, const int* tok, int N, int C,
                                                   int V, int rowsPerBlock) {
    extern __shared__ float emsm[];
    int tx = threadIdx.x % 32, ty = threadIdx.x / 32, ny = blockDim.x / 32;
    int c = blockIdx.y * 32 + tx;
    for (int i = threadIdx.x; i < V * 32; i += blockDim.x) emsm[i] = 0.0f;
    __syncthreads();
    int n0 = blockIdx.x * rowsPerBlock, n1 = min(N, n0 + rowsPerBlock);
    if (c < C) {
        for (int n = n0 + ty; n < n1; n += ny) {
            int id = tok[n];
            if (id >= 0 && id < V) atomicAdd(&emsm[id * 32 + tx], dout[(long long)n * C + c]);
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < V * 32; i += blockDim.x) {
        int cc = blockIdx.y * 32 + i % 32;
        float v = emsm[i];
        if (cc < C && v != 0.0f) atomicAdd(&dwte[(long long)(i / 32) * C + cc], v);
    }
}

// dwte (V,C) += scatter of dout (N,C) by tok (N), large vocabularies: one
// global atomic per element (rows rarely collide when V is large).
extern "C" __global__ void embedding_backward_atomic(float* dwte, const float* dout, const int* tok, int N, int C,
                                                     int V) {
    GRID_STRIDE(i, (long long)N * C) {
        int n = (int)(i / C), c = (int)(i % C);
        int id = tok[n];
        if (id >= 0 && id < V) atomicAdd(&dwte[(long long)id * C + c], dout[i]);
    }
}
