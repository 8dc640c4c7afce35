/* err.c — the message table of GENIE_ERRNO_MAP. */
#include "common/genie.h"

#include <string.h>

const char *genie_strerror(int err)
{
    switch (err) {
    case GENIE_OK:
        return "success";
#define GENIE_XX_(code, msg)                                                                   \
    case GENIE_E##code:                                                                        \
        return msg;
        GENIE_ERRNO_MAP(GENIE_XX_)
#undef GENIE_XX_
    default:
        return "unknown genie error";
    }
}
