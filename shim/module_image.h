/* module_image.h — the size of a module image the program hands over: fatbin, fatbin wrapper, cubin (ELF) or PTX.
 *
 * cuModuleLoadData gets a pointer and no length: the shim must find where the image ends to
 * ship it. The image is the program's (or, for a caller passing avail, anyone's): every read
 * stays inside [image, image + avail), and a header that claims more than that is refused. */
#ifndef GENIE_SHIM_MODULE_IMAGE_H
#define GENIE_SHIM_MODULE_IMAGE_H

#include <stdint.h>

#define SHIM_FATBIN_MAGIC 0xba55ed50u
#define SHIM_FATBIN_WRAPPER_MAGIC 0x466243b1u
/* no module image of this size is plausible; larger ones are refused before copying */
#define SHIM_MAX_IMAGE ((uint64_t)1 << 31)

/* Sets *start to the bytes to load (a fatbin wrapper's fatbin, else image) and returns their
 * size; 0 and *why (a static string) when the image is refused. avail: how many bytes may be
 * read at image, UINT64_MAX for memory the program vouches for (cuModuleLoadData: the driver
 * trusts it too; only then may a fatbin wrapper point elsewhere). */
uint64_t shim_image_size(const void *image, uint64_t avail, const uint8_t **start,
                         const char **why);

#endif
