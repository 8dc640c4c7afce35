/* test_copies2d.c — shim/cudart_mem.c's pitched copies and memsets: rows, spans, pitches, one round trip. */
#include <string.h>

#include "tests/shim/shim_harness.h"

TestSuite(copies2d, .init = shim_test_env);

enum { W = 24, H = 9, HP = 40 }; /* width, height, a host pitch */

Test(copies2d, rows_land_at_their_pitches)
{
    uint8_t *d;
    size_t dp = 0;
    cr_assert_eq(cudaMallocPitch((void **)&d, &dp, W, H), cudaSuccess);
    cr_assert_geq(dp, (size_t)W);
    cr_assert_eq(dp % 512, 0, "rows padded to 512 bytes, pitch %zu", dp);
    uint8_t src[H * HP], back[H * HP];
    for (int i = 0; i < H * HP; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    cr_assert_eq(cudaMemset2D(d, dp, 0xee, dp, H), cudaSuccess);
    cr_assert_eq(cudaMemcpy2D(d, dp, src, HP, W, H, cudaMemcpyHostToDevice), cudaSuccess);

    /* a pageable D2H of H rows: one round trip whatever the number of rows */
    memset(back, 0x55, sizeof back);
    shim_stats s0 = shim_test_stats();
    cr_assert_eq(cudaMemcpy2D(back, HP, d, dp, W, H, cudaMemcpyDeviceToHost), cudaSuccess);
    shim_stats s1 = shim_test_stats();
    cr_assert_eq(s1.round_trips, s0.round_trips + 1, "%lu round trips",
                 (unsigned long)(s1.round_trips - s0.round_trips));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < HP; x++)
            cr_assert_eq(back[y * HP + x], x < W ? src[y * HP + x] : 0x55,
                         "row %d byte %d: bytes between rows are left alone", y, x);

    /* the device's padding between rows was not written by the H2D rows */
    uint8_t *whole = malloc(dp * H);
    cr_assert_eq(cudaMemcpy(whole, d, dp * H, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int y = 0; y < H; y++)
        for (size_t x = W; x < dp; x++)
            cr_assert_eq(whole[y * dp + x], 0xee, "padding row %d byte %zu", y, x);
    free(whole);

    /* D2D between pitches, then a 2D memset of a narrower block */
    uint8_t *d2;
    cr_assert_eq(cudaMalloc((void **)&d2, 64 * H), cudaSuccess);
    cr_assert_eq(cudaMemcpy2D(d2, 64, d, dp, W, H, cudaMemcpyDeviceToDevice), cudaSuccess);
    cr_assert_eq(cudaMemset2D(d2, 64, 0x11, 4, H), cudaSuccess);
    cr_assert_eq(cudaMemcpy2D(back, HP, d2, 64, W, H, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            cr_assert_eq(back[y * HP + x], x < 4 ? 0x11 : src[y * HP + x], "row %d byte %d", y, x);
}

Test(copies2d, pitch_and_span_checks)
{
    uint8_t *d;
    size_t dp;
    uint8_t host[4096];
    cr_assert_eq(cudaMallocPitch((void **)&d, &dp, W, H), cudaSuccess);
    cr_assert_eq(cudaMemcpy2D(d, dp, host, W - 1, W, 2, cudaMemcpyHostToDevice),
                 cudaErrorInvalidPitchValue, "width above the source pitch");
    cr_assert_eq(cudaMemcpy2D(d, W - 1, host, HP, W, 2, cudaMemcpyHostToDevice),
                 cudaErrorInvalidPitchValue, "width above the destination pitch");
    cr_assert_eq(cudaMemset2D(d, W - 1, 0, W, 2), cudaErrorInvalidValue,
                 "a memset wider than its pitch");
    /* the last row's span [p + (H-1)*pitch, + width) must lie in the allocation */
    cr_assert_eq(cudaMemcpy2D(host, HP, d, dp, W, H + 1, cudaMemcpyDeviceToHost),
                 cudaErrorInvalidValue, "one row past the allocation");
    cr_assert_eq(cudaMemcpy2D(host, 16, d, dp, 16, H, cudaMemcpyDeviceToHost), cudaSuccess,
                 "the same allocation, rows inside it");
    /* zero width or height does nothing */
    shim_stats s0 = shim_test_stats();
    cr_assert_eq(cudaMemcpy2D(host, HP, d, dp, 0, H, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(cudaMemcpy2D(host, HP, d, dp, W, 0, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(shim_test_stats().ops_recorded, s0.ops_recorded);
    /* equal pitches: one plain copy, not a record per row */
    cr_assert_eq(cudaMemcpy2D(d, dp, host, dp, dp, 2, cudaMemcpyHostToDevice), cudaSuccess);
    cr_assert_eq(shim_test_stats().ops_recorded, s0.ops_recorded + 1);
}
