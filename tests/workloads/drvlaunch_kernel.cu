// drvlaunch_kernel.cu — the device code drvlaunch.cu loads through the driver API (cuModuleLoadData),
// as PyTorch loads NVRTC output. Built into a fatbin, a cubin and PTX by tests/workloads/CMakeLists.txt
// and embedded in drvlaunch; never linked into a program. extern "C": the name is "drv_axpb".

// y[i] = a * x[i] + b (fmaf: one rounding, so the CPU twin matches bit for bit), grid-stride.
extern "C" __global__ void drv_axpb(float *y, const float *x, float a, float b, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        y[i] = fmaf(a, x[i], b);
}
