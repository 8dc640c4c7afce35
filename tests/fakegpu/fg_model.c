/* fg_model.c — the device-time model: how long a unit of work would take on a real GPU.
 *
 * GENIE_FAKE_GPU_MODEL=h100|h200|a100 (or a path to a model file; default none) picks one of
 * the data files in tests/fakegpu/models/ (compiled in; each cites its public sources). Every
 * unit of work then occupies its stream for its modeled duration (fg_sched.c):
 *   GEMM     max(gemm_min, flops / (peak[dtype] * gemm_efficiency), bytes / (hbm * hbm_efficiency))
 *   H2D/D2H  copy_latency + bytes / host link bandwidth
 *   D2D      copy_latency + 2 * bytes / (hbm * hbm_efficiency)   (read and write)
 *   memset   copy_latency + bytes / (hbm * hbm_efficiency)
 *   kernel   launch + (roofline of its flops and bytes when known, else the first `kernel`
 *            row whose pattern is in its name: base + blocks * per_block, else kernel_default)
 * With a model the fake GPU runs timing-only unless GENIE_FAKE_GPU_COMPUTE=1: kernels, GEMMs
 * and copies are not computed (values are garbage), since CPU work could only add to the
 * modeled time. Every number it produces is a simulation, labelled "simulated <gpu>". */
#include "fakegpu_int.h"
#include "fakegpu_work.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_models.h" /* generated: the model files as byte arrays */

#define FG_MAX_KROWS 64

typedef struct fg_krow {
    char pat[96];
    double base_ns, per_block_ns;
} fg_krow;

typedef struct fg_model {
    char name[64];
    double peak[FG_DT_COUNT]; /* FLOP/s */
    double gemm_eff, gemm_min_ns;
    double hbm, hbm_eff, h2d, d2h; /* bytes/s */
    double copy_lat_ns, launch_ns, kernel_default_ns;
    fg_krow rows[FG_MAX_KROWS];
    int nrows;
} fg_model;

static fg_model fg_m;
static int fg_model_on, fg_compute = 1;
static pthread_once_t fg_model_once = PTHREAD_ONCE_INIT;

static const struct {
    const char *key;
    const unsigned char *text;
    const unsigned long *len;
} fg_builtin[] = {
    {"h100", fg_model_h100, &fg_model_h100_len},
    {"h200", fg_model_h200, &fg_model_h200_len},
    {"a100", fg_model_a100, &fg_model_a100_len},
};

static char *fg_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* One `key = value` line (comments after '#' already cut). 0, or -1 for an unknown key or a
 * bad value. */
static int fg_model_line(fg_model *m, char *key, char *val)
{
    static const struct {
        const char *k;
        size_t off;
        double scale;
    } num[] = {
        {"peak_f32", offsetof(fg_model, peak) + FG_DT_F32 * sizeof(double), 1},
        {"peak_tf32", offsetof(fg_model, peak) + FG_DT_TF32 * sizeof(double), 1},
        {"peak_f16", offsetof(fg_model, peak) + FG_DT_F16 * sizeof(double), 1},
        {"peak_f64", offsetof(fg_model, peak) + FG_DT_F64 * sizeof(double), 1},
        {"peak_i8", offsetof(fg_model, peak) + FG_DT_I8 * sizeof(double), 1},
        {"peak_f8", offsetof(fg_model, peak) + FG_DT_F8 * sizeof(double), 1},
        {"gemm_efficiency", offsetof(fg_model, gemm_eff), 1},
        {"gemm_min_us", offsetof(fg_model, gemm_min_ns), 1e3},
        {"hbm_bandwidth", offsetof(fg_model, hbm), 1},
        {"hbm_efficiency", offsetof(fg_model, hbm_eff), 1},
        {"h2d_bandwidth", offsetof(fg_model, h2d), 1},
        {"d2h_bandwidth", offsetof(fg_model, d2h), 1},
        {"copy_latency_us", offsetof(fg_model, copy_lat_ns), 1e3},
        {"launch_us", offsetof(fg_model, launch_ns), 1e3},
        {"kernel_default_us", offsetof(fg_model, kernel_default_ns), 1e3},
    };
    if (!strcmp(key, "name")) {
        snprintf(m->name, sizeof m->name, "%s", val);
        return 0;
    }
    if (!strcmp(key, "kernel")) { /* kernel = pattern base_us per_block_ns */
        if (m->nrows == FG_MAX_KROWS)
            return -1;
        fg_krow *r = &m->rows[m->nrows];
        double base, per;
        char pat[96];
        if (sscanf(val, "%95s %lf %lf", pat, &base, &per) != 3)
            return -1;
        snprintf(r->pat, sizeof r->pat, "%s", pat);
        r->base_ns = base * 1e3;
        r->per_block_ns = per;
        m->nrows++;
        return 0;
    }
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (!strcmp(key, num[i].k)) {
            char *end;
            double v = strtod(val, &end);
            if (end == val || *fg_trim(end) || v < 0)
                return -1;
            *(double *)((char *)m + num[i].off) = v * num[i].scale;
            return 0;
        }
    return -1;
}

/* Parses a model file's text; 0, or -1 with the line logged. */
static int fg_model_parse(fg_model *m, const char *text, size_t len, const char *what)
{
    memset(m, 0, sizeof *m);
    char line[512];
    size_t i = 0;
    int no = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        size_t n = j - i < sizeof line - 1 ? j - i : sizeof line - 1;
        memcpy(line, text + i, n);
        line[n] = 0;
        i = j + 1;
        no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *eq = strchr(line, '=');
        char *l = fg_trim(line);
        if (!*l)
            continue;
        if (!eq) {
            fprintf(stderr, "fakegpu: %s:%d: expected key = value\n", what, no);
            return -1;
        }
        *eq = 0;
        if (fg_model_line(m, fg_trim(line), fg_trim(eq + 1))) {
            fprintf(stderr, "fakegpu: %s:%d: bad line\n", what, no);
            return -1;
        }
    }
    if (!m->name[0] || m->peak[FG_DT_F32] <= 0 || m->hbm <= 0 || m->h2d <= 0 || m->d2h <= 0 ||
        m->gemm_eff <= 0 || m->hbm_eff <= 0) {
        fprintf(stderr, "fakegpu: %s: name, peak_f32, bandwidths and efficiencies are required\n",
                what);
        return -1;
    }
    for (int d = 0; d < FG_DT_COUNT; d++) /* a precision the file omits runs at FP32's peak */
        if (m->peak[d] <= 0)
            m->peak[d] = m->peak[FG_DT_F32];
    return 0;
}

static int fg_model_load_file(fg_model *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    int r = buf ? fg_model_parse(m, buf, n, path) : -1;
    free(buf);
    return r;
}

static void fg_model_init(void)
{
    const char *v = getenv("GENIE_FAKE_GPU_MODEL");
    if (!v || !*v || !strcmp(v, "none"))
        return;
    int ok = -1;
    for (size_t i = 0; i < sizeof fg_builtin / sizeof fg_builtin[0]; i++)
        if (!strcmp(v, fg_builtin[i].key))
            ok = fg_model_parse(&fg_m, (const char *)fg_builtin[i].text, *fg_builtin[i].len,
                                fg_builtin[i].key);
    if (ok && strchr(v, '/'))
        ok = fg_model_load_file(&fg_m, v);
    if (ok) {
        fprintf(stderr, "fakegpu: GENIE_FAKE_GPU_MODEL=%s is not h100, h200, a100, none or a "
                        "readable model file: no device-time model\n", v);
        return;
    }
    const char *c = getenv("GENIE_FAKE_GPU_COMPUTE");
    fg_compute = c && *c == '1';
    fg_model_on = 1;
    fprintf(stderr, "fakegpu: simulated %s (device-time model; %s)\n", fg_m.name,
            fg_compute ? "computing too: times are at least the model's"
                       : "timing-only: results are not computed");
}

int fg_model_compute(void)
{
    pthread_once(&fg_model_once, fg_model_init);
    return fg_compute;
}

/* "simulated <gpu>" when a model is on, else NULL. */
const char *fg_model_name(void)
{
    pthread_once(&fg_model_once, fg_model_init);
    return fg_model_on ? fg_m.name : NULL;
}

static double fg_max(double a, double b)
{
    return a > b ? a : b;
}

uint64_t fg_model_ns(const fg_cost *c)
{
    pthread_once(&fg_model_once, fg_model_init);
    if (!fg_model_on || !c)
        return 0;
    const fg_model *m = &fg_m;
    double hbm = m->hbm * m->hbm_eff, t = 0;
    switch (c->kind) {
    case FG_COST_NONE:
        return 0;
    case FG_COST_GEMM:
        t = fg_max(m->gemm_min_ns,
                   fg_max(c->flops / (m->peak[c->dtype] * m->gemm_eff), c->bytes / hbm) * 1e9);
        break;
    case FG_COST_H2D:
        t = m->copy_lat_ns + c->bytes / m->h2d * 1e9;
        break;
    case FG_COST_D2H:
        t = m->copy_lat_ns + c->bytes / m->d2h * 1e9;
        break;
    case FG_COST_D2D:
        t = m->copy_lat_ns + 2 * c->bytes / hbm * 1e9;
        break;
    case FG_COST_MEMSET:
        t = m->copy_lat_ns + c->bytes / hbm * 1e9;
        break;
    case FG_COST_KERNEL:
        t = m->launch_ns;
        if (c->flops > 0 || c->bytes > 0) {
            t += fg_max(c->flops / m->peak[FG_DT_F32], c->bytes / hbm) * 1e9;
            break;
        }
        for (int i = 0; i < m->nrows; i++)
            if (c->name && strstr(c->name, m->rows[i].pat)) {
                return (uint64_t)(t + m->rows[i].base_ns +
                                  (double)c->blocks * m->rows[i].per_block_ns);
            }
        t += m->kernel_default_ns;
        break;
    }
    return (uint64_t)t;
}
