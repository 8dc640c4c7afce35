/* symbols_twin.c — CPU twin of symbols.cu's poly and its device variables. */
#include "tests/fakegpu/fakegpu_twin.h"

#include <string.h>

FG_GLOBAL(coef, "coef", 4 * sizeof(float))
FG_GLOBAL(counter, "counter", sizeof(int))
FG_GLOBAL(table, "table", 256 * sizeof(float))

static int poly(const fg_launch *l, void **args)
{
    float *y;
    const float *x;
    int n;
    memcpy(&y, args[0], sizeof y);
    memcpy(&x, args[1], sizeof x);
    memcpy(&n, args[2], sizeof n);
    const float *c = fg_global_ptr(l, "coef");
    int *counter = fg_global_ptr(l, "counter");
    if (!c || !counter)
        return 700;
    long threads = (long)l->grid.x * l->block.x;
    for (long i = 0; i < threads && i < n; i++) {
        float v = x[i];
        y[i] = c[0] + v * (c[1] + v * (c[2] + v * c[3]));
        ++*counter;
    }
    return 0;
}

/* __global__ void poly(float *y, const float *x, int n) */
FG_TWIN(poly, "_Z4polyPfPKfi", poly, 3, 8, 8, 4)
