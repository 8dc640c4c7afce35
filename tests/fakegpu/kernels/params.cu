// params.cu — kernels of assorted parameter lists, built by nvcc into fatbins that
// tests/fakegpu/test_fakegpu_cubin.c loads: the fake GPU must report the layouts the cubin's
// .nv.info gives, which are the C layout of the parameter list (the test compares them with
// offsetof over a struct of the same members). No kernel here has a CPU twin.
struct s3 { float a, b, c; };               // 12 bytes, align 4
struct __align__(16) s16 { long x, y; };    // 16 bytes, align 16
struct big { double v[40]; int tail; };     // 328 bytes, align 8

extern "C" __global__ void fg_params_saxpy(int n, float a, const float *x, float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = a * x[i] + y[i];
}

extern "C" __global__ void fg_params_mixed(char c, double d, s3 s, s16 t, short h, float4 f,
                                           void *p)
{
    if (p)
        *(float *)p = c + d + s.a + t.x + h + f.x;
}

extern "C" __global__ void fg_params_none() {}

extern "C" __global__ void fg_params_big(big b, char c, float *out)
{
    if (out)
        out[0] = b.v[3] + b.tail + c;
}

#define P8(n) int n##0, int n##1, int n##2, int n##3, int n##4, int n##5, int n##6, int n##7
// 40 parameters: more than a twin may declare (FG_MAX_PARAMS 32)
extern "C" __global__ void fg_params_many(P8(a), P8(b), P8(c), P8(d), P8(e), int *out)
{
    if (out)
        out[0] = a0 + b1 + c2 + d3 + e7;
}

// a C++ (mangled) name, as PyTorch's kernels have
template <typename T> __global__ void fg_params_tmpl(T *out, T v, int n)
{
    if (n)
        out[0] = v;
}
template __global__ void fg_params_tmpl<double>(double *, double, int);
