/* cudart_extra.c — runtime calls stock PyTorch needs at initialisation, answered locally:
 * driver entry points (c10's DriverAPI table; served by shim/cuda_driver_api.c), peer access. */
#include "shim/shim_int.h"

#include <string.h>

void (*shim_driver_proc(const char *name))(void); /* shim/cuda_driver_api.c */

cudaError_t shim_impl_cudaGetDriverEntryPointByVersion(
    const char *symbol, void **funcPtr, unsigned int cudaVersion, unsigned long long flags,
    enum cudaDriverEntryPointQueryResult *driverStatus)
{
    (void)cudaVersion, (void)flags;
    if (!symbol)
        return shim_set_error(cudaErrorInvalidValue);
    void (*fn)(void) = shim_driver_proc(symbol);
    *funcPtr = (void *)fn;
    if (driverStatus)
        *driverStatus = fn ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
    /* like the runtime: an unknown symbol is reported through driverStatus and a NULL
     * pointer, not as an error of the call */
    return cudaSuccess;
}

cudaError_t shim_impl_cudaDeviceCanAccessPeer(int *canAccessPeer, int device, int peerDevice)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess)
        return e;
    if (device < 0 || device >= n || peerDevice < 0 || peerDevice >= n)
        return shim_set_error(cudaErrorInvalidDevice);
    /* Genie maps no peer access between the session's devices (and a device is never its
     * own peer): the true answer is 0 */
    *canAccessPeer = 0;
    return cudaSuccess;
}
