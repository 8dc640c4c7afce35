/* env.c — typed reads of GENIE_* environment variables. */
#include "common/genie.h"

#include <stdlib.h>
#include <string.h>

const char *genie_env_str(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return (v && *v) ? v : dflt;
}

long long genie_env_int(const char *name, long long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long long x = strtoll(v, &end, 0);
    if (*end) {
        GENIE_WARN("%s=%s is not a number; using %lld", name, v, dflt);
        return dflt;
    }
    return x;
}

int genie_env_bool(const char *name, int dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcasecmp(v, "no"))
        return 0;
    return 1;
}
