/* log.c — stderr logging with a level taken once from GENIE_LOG. */
#include "common/genie.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int genie_log_level = GENIE_LOG_WARN;

void genie_log_init(void)
{
    const char *s = genie_env_str("GENIE_LOG", NULL);
    if (!s)
        return;
    if (!strcmp(s, "error"))
        genie_log_level = GENIE_LOG_ERROR;
    else if (!strcmp(s, "warn"))
        genie_log_level = GENIE_LOG_WARN;
    else if (!strcmp(s, "info"))
        genie_log_level = GENIE_LOG_INFO;
    else if (!strcmp(s, "debug"))
        genie_log_level = GENIE_LOG_DEBUG;
}

void genie_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > genie_log_level)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "genie[%d] %s: ", (int)getpid(),
                     names[level < 0 ? 0 : level > 3 ? 3 : level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* one write() so lines from several threads do not interleave */
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}
