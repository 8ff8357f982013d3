// cublas.cpp: the cuBLAS stand-in: a plain reference sgemm (column-major,
// host pointer mode, float64 accumulation) that checks every leading
// dimension and that each operand lies inside one device allocation. In
// TF32 math mode the operands are rounded to TF32 (10-bit mantissa) first,
// as the tensor cores do.
#include <stdio.h>
#include <string.h>

#include "internal.h"

namespace emu {

struct Handle {
    int math = 0;
};

enum BlasCode : int {
    kBlasSuccess = 0,
    kBlasNotInitialized = 1,
    kBlasInvalidValue = 7,
    kBlasExecutionFailed = 13,
};

static int blas_fail(int code, const std::string& msg) {
    fprintf(stderr, "cuda-emu: %s\n", msg.c_str());
    return code;
}

static float tf32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) { // not inf or NaN: round to nearest even at bit 13
        u += 0xfffu + ((u >> 13) & 1u);
        u &= ~0x1fffu;
    }
    memcpy(&x, &u, 4);
    return x;
}

} // namespace emu

using namespace emu;

EMU_EXPORT int cublasCreate_v2(Handle** h) {
    if (!h) return kBlasInvalidValue;
    *h = new Handle;
    return 0;
}

EMU_EXPORT int cublasDestroy_v2(Handle* h) {
    if (!h) return kBlasNotInitialized;
    delete h;
    return 0;
}

EMU_EXPORT int cublasGetVersion_v2(Handle* h, int* v) {
    if (!h) return kBlasNotInitialized;
    *v = 120800;
    return 0;
}

EMU_EXPORT int cublasSetStream_v2(Handle* h, void* stream) {
    if (!h) return kBlasNotInitialized;
    return stream ? blas_fail(kBlasInvalidValue, "cublasSetStream: the emulator runs the legacy default stream only") : 0;
}

// Math modes: 0 default, 1 tensor op (deprecated), 2 pedantic, 3 TF32;
// bit 16 (disallow reduced-precision reductions) is accepted.
EMU_EXPORT int cublasSetMathMode(Handle* h, int mode) {
    if (!h) return kBlasNotInitialized;
    int m = mode & ~16;
    if (m < 0 || m > 3) return blas_fail(kBlasInvalidValue, fmt("cublasSetMathMode: unknown mode %d", mode));
    h->math = m;
    return 0;
}

// cublasSgemm: C (m,n; ldc) = alpha op(A) (m,k) op(B) (k,n) + beta C, all
// column-major; beta 0 ignores C's old contents (NaN included).
EMU_EXPORT int cublasSgemm_v2(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B,
                              int ldb, const float* beta, float* C, int ldc) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (!h) return kBlasNotInitialized;
    if (sticky) return blas_fail(kBlasExecutionFailed, "cublasSgemm: the context has a sticky error");
    auto op = [](int t) { return t == 0 || t == 1 || t == 2; };
    if (!op(ta) || !op(tb)) return blas_fail(kBlasInvalidValue, fmt("cublasSgemm: transa %d / transb %d is not N, T or C", ta, tb));
    if (m < 0 || n < 0 || k < 0) return blas_fail(kBlasInvalidValue, fmt("cublasSgemm: m %d n %d k %d", m, n, k));
    int arows = ta == 0 ? m : k, brows = tb == 0 ? k : n;
    if (lda < (arows > 1 ? arows : 1))
        return blas_fail(kBlasInvalidValue, fmt("cublasSgemm: lda %d < %d, the rows of A (transa %c, m %d, k %d)", lda, arows, ta ? 'T' : 'N', m, k));
    if (ldb < (brows > 1 ? brows : 1))
        return blas_fail(kBlasInvalidValue, fmt("cublasSgemm: ldb %d < %d, the rows of B (transb %c, k %d, n %d)", ldb, brows, tb ? 'T' : 'N', k, n));
    if (ldc < (m > 1 ? m : 1)) return blas_fail(kBlasInvalidValue, fmt("cublasSgemm: ldc %d < m %d", ldc, m));
    if (!alpha || !beta) return blas_fail(kBlasInvalidValue, "cublasSgemm: null alpha or beta");
    if (m == 0 || n == 0) return 0;
    // Every element an operand's shape reaches must be device memory.
    auto extent = [](int rows, int cols, int ld) { return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * 4; };
    std::string e;
    if (k > 0) {
        e = check_range("cublasSgemm A", (uintptr_t)A, extent(arows, ta == 0 ? k : m, lda));
        if (e.empty()) e = check_range("cublasSgemm B", (uintptr_t)B, extent(brows, tb == 0 ? n : k, ldb));
    }
    if (e.empty()) e = check_range("cublasSgemm C", (uintptr_t)C, extent(m, n, ldc));
    if (!e.empty()) {
        make_sticky(kIllegalAddress, e);
        return blas_fail(kBlasExecutionFailed, e);
    }
    float al = *alpha, be = *beta;
    bool round = h->math == 3;
    // op(A) as rows of k, op(B) as columns of k: both walks contiguous.
    std::vector<float> ar((size_t)m * k), bc((size_t)n * k);
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++) {
            float v = ta == 0 ? A[i + (size_t)p * lda] : A[p + (size_t)i * lda];
            ar[(size_t)i * k + p] = round ? tf32(v) : v;
        }
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++) {
            float v = tb == 0 ? B[p + (size_t)j * ldb] : B[j + (size_t)p * ldb];
            bc[(size_t)j * k + p] = round ? tf32(v) : v;
        }
    auto store = [&](int i, int j, double acc) {
        float* c = &C[i + (size_t)j * ldc];
        *c = be == 0.0f ? (float)(al * acc) : (float)(al * acc + (double)be * *c);
    };
    for (int i = 0; i < m; i++) {
        const float* a = &ar[(size_t)i * k];
        int j = 0;
        for (; j + 4 <= n; j += 4) { // four independent sums: the loop is latency-bound otherwise
            const float *b0 = &bc[(size_t)j * k], *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int p = 0; p < k; p++) {
                double x = a[p];
                s0 += x * b0[p];
                s1 += x * b1[p];
                s2 += x * b2[p];
                s3 += x * b3[p];
            }
            store(i, j, s0);
            store(i, j + 1, s1);
            store(i, j + 2, s2);
            store(i, j + 3, s3);
        }
        for (; j < n; j++) {
            const float* b = &bc[(size_t)j * k];
            double acc = 0;
            for (int p = 0; p < k; p++) acc += (double)a[p] * b[p];
            store(i, j, acc);
        }
    }
    return 0;
}
