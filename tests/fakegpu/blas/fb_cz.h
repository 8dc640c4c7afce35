/* fb_cz.h — one element model for the S/D/C/Z routines of fb_blas_cz.c and fb_solve.c. */
#ifndef GENIE_FB_CZ_H
#define GENIE_FB_CZ_H

#include <complex.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fb_int.h"

/* clang 14 (the libFuzzer tree, tests/fuzz) has no __builtin_complex, so glibc's complex.h
 * leaves CMPLX undefined; the union builds the same value (signed zeros and NaNs kept). */
#ifndef CMPLX
static inline double complex fb_cmplx(double re, double im)
{
    union {
        double complex z;
        double d[2];
    } u = {.d = {re, im}};
    return u.z;
}
#define CMPLX(x, y) fb_cmplx((x), (y))
#endif

/* Every element is read into a double complex and written back rounded to its type: the
 * arithmetic is plain loops in double precision, as the reference BLAS/LAPACK order them. */
typedef double complex fb_z;
enum fb_t { FB_S, FB_D, FB_C, FB_Z }; /* float, double, cuComplex, cuDoubleComplex */

static inline fb_z fb_get(const void *p, int t, int64_t i)
{
    switch (t) {
    case FB_S:
        return ((const float *)p)[i];
    case FB_D:
        return ((const double *)p)[i];
    case FB_C:
        return CMPLX(((const float *)p)[2 * i], ((const float *)p)[2 * i + 1]);
    default:
        return CMPLX(((const double *)p)[2 * i], ((const double *)p)[2 * i + 1]);
    }
}

static inline void fb_put(void *p, int t, int64_t i, fb_z v)
{
    switch (t) {
    case FB_S:
        ((float *)p)[i] = (float)creal(v);
        break;
    case FB_D:
        ((double *)p)[i] = creal(v);
        break;
    case FB_C:
        ((float *)p)[2 * i] = (float)creal(v);
        ((float *)p)[2 * i + 1] = (float)cimag(v);
        break;
    default:
        ((double *)p)[2 * i] = creal(v);
        ((double *)p)[2 * i + 1] = cimag(v);
    }
}

static inline int fb_cplx(int t)
{
    return t == FB_C || t == FB_Z;
}
/* |Re| + |Im|: the magnitude the BLAS uses for i?amax and the pivot search */
static inline double fb_abs1(fb_z v)
{
    return fabs(creal(v)) + fabs(cimag(v));
}

#endif
