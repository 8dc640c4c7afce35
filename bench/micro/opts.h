/* opts.h — the command-line options of bench/micro's programs (micro, wireref): one table of
 * "--name value" longs, strings and flags, parsed with the values checked (a number that is not
 * one, or is out of range, is an error that names the option, never a silent 0). Header only:
 * micro.cu is compiled by nvcc as C++, wireref.c as C. */
#ifndef GENIE_BENCH_OPTS_H
#define GENIE_BENCH_OPTS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_opt {
    const char *name;  /* "--pings" */
    long *num;         /* a number: at least min */
    long min;
    const char **str;  /* or a string */
    int *flag;         /* or a flag, set to 1, no value */
};

/* 0: parsed; 1: --help was asked (usage printed on stdout); 2: an error (printed, with usage,
 * on stderr). */
static inline int bench_opts_parse(int argc, char **argv, const struct bench_opt *opts,
                                   const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s %s", argv[0], usage);
            return 1;
        }
        const struct bench_opt *o = opts;
        while (o->name && strcmp(o->name, argv[i]))
            o++;
        if (!o->name) {
            fprintf(stderr, "%s: unknown option %s\nusage: %s %s", argv[0], argv[i], argv[0], usage);
            return 2;
        }
        if (o->flag) {
            *o->flag = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], o->name);
            return 2;
        }
        const char *v = argv[++i];
        if (o->str) {
            *o->str = v;
            continue;
        }
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < o->min) {
            fprintf(stderr, "%s: %s wants a whole number of at least %ld, not '%s'\n", argv[0],
                    o->name, o->min, v);
            return 2;
        }
        *o->num = n;
    }
    return 0;
}

#endif
