/* torch_twin.c — a CPU twin of the one PyTorch kernel torch.cuda.CUDAGraph cannot do without.
 *
 * CUDAGraph.capture_begin and replay fill the CUDA generator's int64 seed and offset tensors
 * (FillFunctor<long>) on the device, so a graph of PyTorch's cannot be captured on the fake GPU
 * without it (tests/torch/test_torch_fake.py). Every other elementwise kernel of PyTorch stays
 * twinless: the float fill below it (FillFunctor<float>) still fails, as run.sh checks. */
#include "tests/workloads/wl_twin.h"

/* template <int vec_size, typename func_t, typename array_t>
 * __global__ void at::native::vectorized_elementwise_kernel(int N, func_t f, array_t data)
 * with func_t = FillFunctor<long> { long value; } and array_t = std::array<char *, 1> */
static int fill_i64_twin(const fg_launch *l, void **args)
{
    int32_t n = wl_i32(args, 0);
    int64_t v;
    memcpy(&v, args[1], 8);
    int64_t *out = wl_ptr(args, 2);
    if (wl_grid_threads_x(l) == 0)
        return 0;
    for (int32_t i = 0; i < n; i++)
        out[i] = v;
    return 0;
}

FG_TWIN(torch_fill_i64,
        "_ZN2at6native29vectorized_elementwise_kernelILi2ENS0_11FillFunctorIlEESt5arrayIPcLm1EEEEviT0_T1_",
        fill_i64_twin, 3, 4, 8, 8)
