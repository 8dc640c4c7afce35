/* test_hash.c — tests common/hash.c and common/buf.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/genie.h"

Test(hash, crc32c_check_value)
{
    /* The CRC-32C check value of "123456789" (RFC 3720, B.4). */
    cr_assert_eq(genie_crc32c(0, "123456789", 9), 0xE3069283u);
}

Test(hash, crc32c_is_incremental)
{
    const char *s = "genie frames are checksummed";
    uint32_t whole = genie_crc32c(0, s, strlen(s));
    uint32_t part = genie_crc32c(genie_crc32c(0, s, 7), s + 7, strlen(s) - 7);
    cr_assert_eq(whole, part);
}

Test(hash, content_hash_differs_on_one_bit)
{
    unsigned char a[4096] = {0}, b[4096] = {0};
    b[4095] = 1;
    genie_hash128 ha = genie_hash_content(a, sizeof a), hb = genie_hash_content(b, sizeof b);
    cr_assert(ha.lo != hb.lo || ha.hi != hb.hi);
    genie_hash128 ha2 = genie_hash_content(a, sizeof a);
    cr_assert(ha.lo == ha2.lo && ha.hi == ha2.hi);
}

Test(buf, grows_and_keeps_bytes)
{
    genie_buf b = {0};
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(genie_buf_append(&b, &i, sizeof i), 0);
    cr_assert_eq(b.len, 10000 * sizeof(int));
    int x;
    memcpy(&x, b.data + 9999 * sizeof(int), sizeof x);
    cr_assert_eq(x, 9999);
    genie_buf_free(&b);
    cr_assert_null(b.data);
}

/* Found by fuzz_batch: a 0-byte append to an empty buffer reported "no memory" (and computed
 * NULL + 0). */
Test(buf, empty_append_to_empty_buffer)
{
    genie_buf b = {0};
    cr_assert_eq(genie_buf_append(&b, "", 0), 0);
    cr_assert_eq(b.len, 0);
    cr_assert_not_null(genie_buf_grow(&b, 0));
    genie_buf_free(&b);
}

Test(err, every_code_has_a_message)
{
    for (int e = GENIE_E__BASE + 1; e < GENIE_E__END; e++)
        cr_assert_str_neq(genie_strerror(e), "unknown genie error");
}
