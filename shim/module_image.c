/* module_image.c — where a module image ends: fatbin, fatbin wrapper, cubin (ELF) or PTX (module_image.h). */
#include "shim/module_image.h"

#include <elf.h>
#include <string.h>

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Where an ELF image ends: the furthest of its header tables and of the sections and
 * segments they describe (a cubin ends with its section header table). 0 and *why when that
 * cannot be known or lies past avail. */
static uint64_t elf_size(const uint8_t *p, uint64_t avail, const char **why)
{
    Elf64_Ehdr eh;
    if (avail < sizeof eh) {
        *why = "ELF image shorter than its header";
        return 0;
    }
    if (p[EI_CLASS] != ELFCLASS64 || p[EI_DATA] != ELFDATA2LSB) {
        *why = "not a 64-bit little-endian ELF image";
        return 0;
    }
    memcpy(&eh, p, sizeof eh);
    uint64_t end = sizeof eh;
    uint64_t shnum = eh.e_shnum;
    if (eh.e_shoff) {
        if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > SHIM_MAX_IMAGE ||
            eh.e_shoff + sizeof(Elf64_Shdr) > avail) {
            *why = "ELF section header table unreadable";
            return 0;
        }
        Elf64_Shdr sh;
        if (shnum == 0) { /* extended numbering: the count is in section 0 */
            memcpy(&sh, p + eh.e_shoff, sizeof sh);
            shnum = sh.sh_size;
        }
        if (shnum > 65536 || eh.e_shoff + shnum * sizeof sh > avail) {
            *why = "ELF section header table implausible or past the image";
            return 0;
        }
        end = max_u64(end, eh.e_shoff + shnum * sizeof sh);
        for (uint64_t i = 0; i < shnum; i++) {
            memcpy(&sh, p + eh.e_shoff + i * sizeof sh, sizeof sh);
            if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL) {
                if (sh.sh_offset > SHIM_MAX_IMAGE || sh.sh_size > SHIM_MAX_IMAGE) {
                    *why = "ELF section past any plausible image size";
                    return 0;
                }
                end = max_u64(end, sh.sh_offset + sh.sh_size);
            }
        }
    }
    if (eh.e_phoff && eh.e_phnum) {
        if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > SHIM_MAX_IMAGE ||
            eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > avail) {
            *why = "ELF program header table unreadable";
            return 0;
        }
        end = max_u64(end, eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr));
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            memcpy(&ph, p + eh.e_phoff + i * sizeof ph, sizeof ph);
            if (ph.p_offset > SHIM_MAX_IMAGE || ph.p_filesz > SHIM_MAX_IMAGE) {
                *why = "ELF segment past any plausible image size";
                return 0;
            }
            end = max_u64(end, ph.p_offset + ph.p_filesz);
        }
    }
    if (!eh.e_shoff && !(eh.e_phoff && eh.e_phnum)) {
        *why = "ELF image without section or program headers: its size cannot be known";
        return 0;
    }
    if (end > avail) { /* a section or segment runs past the bytes there are */
        *why = "ELF image truncated: a section or segment ends past it";
        return 0;
    }
    return end;
}

uint64_t shim_image_size(const void *image, uint64_t avail, const uint8_t **start,
                         const char **why)
{
    const uint8_t *p = image;
    uint32_t magic = 0;
    if (avail == 0) {
        *why = "empty image";
        return 0;
    }
    /* neither magic holds a NUL byte: a shorter string is text, and is not read past */
    if (strnlen((const char *)p, avail < 4 ? (size_t)avail : 4) == 4)
        memcpy(&magic, p, sizeof magic);
    if (magic == SHIM_FATBIN_WRAPPER_MAGIC) {
        if (avail != UINT64_MAX) {
            *why = "a fatbin wrapper points into its program's memory";
            return 0;
        }
        const void *data;
        memcpy(&data, p + 8, sizeof data); /* {int magic, version; const u64 *data; ...} */
        if (!data) {
            *why = "fatbin wrapper without a fatbin";
            return 0;
        }
        p = data;
        memcpy(&magic, p, sizeof magic);
        if (magic != SHIM_FATBIN_MAGIC) {
            *why = "fatbin wrapper whose fatbin has no fatbin magic";
            return 0;
        }
    }
    *start = p;
    if (magic == SHIM_FATBIN_MAGIC) {
        if (avail < 16) {
            *why = "fatbin shorter than its header";
            return 0;
        }
        uint16_t header_size;
        uint64_t fat_size;
        memcpy(&header_size, p + 6, sizeof header_size);
        memcpy(&fat_size, p + 8, sizeof fat_size);
        if (header_size < 16 || fat_size == 0 || fat_size > SHIM_MAX_IMAGE) {
            *why = "fatbin header with an implausible size";
            return 0;
        }
        if (header_size + fat_size > avail) {
            *why = "fatbin truncated: its header claims more bytes than there are";
            return 0;
        }
        return header_size + fat_size;
    }
    if (magic == 0x464c457fu) /* "\x7f" "ELF" */
        return elf_size(p, avail, why);
    /* anything else must be PTX: text up to its NUL, with a .version or .target directive */
    size_t n = avail == UINT64_MAX ? strlen((const char *)p) : strnlen((const char *)p, avail);
    if (n == avail) {
        *why = "PTX text without its terminating NUL";
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f' &&
            p[i] != '\v') {
            *why = "neither a fatbin (magic 0xba55ed50), a cubin (ELF) nor PTX text";
            return 0;
        }
    if (!strstr((const char *)p, ".version") && !strstr((const char *)p, ".target")) {
        *why = "text without a PTX .version or .target directive";
        return 0;
    }
    return (uint64_t)n + 1;
}
