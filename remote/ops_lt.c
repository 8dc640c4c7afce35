/* ops_lt.c — cuBLASLt on the executor (PLACEHOLDER: being written; every op fails clearly). */
#include "remote/exec_lib_int.h"

static int not_yet(exec_session *s, uint32_t index, const char *op)
{
    return exec_fail(s, index, EXEC_cudaErrorNotSupported, 15, "%s: cuBLASLt is not supported yet", op);
}

int exec_op_LT_CREATE(exec_session *s, uint32_t index, const proto_LT_CREATE *a)
{
    (void)a;
    return not_yet(s, index, "LT_CREATE");
}

int exec_op_LT_DESTROY(exec_session *s, uint32_t index, const proto_LT_DESTROY *a)
{
    (void)a;
    return not_yet(s, index, "LT_DESTROY");
}

int exec_op_LT_HEURISTIC(exec_session *s, uint32_t index, const proto_LT_HEURISTIC *a)
{
    (void)a;
    return not_yet(s, index, "LT_HEURISTIC");
}

int exec_op_LT_MATMUL(exec_session *s, uint32_t index, const proto_LT_MATMUL *a)
{
    (void)a;
    return not_yet(s, index, "LT_MATMUL");
}

void exec_lt_session_close(exec_session *s) { (void)s; }
