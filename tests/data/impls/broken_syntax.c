/* Does not compile: stressmm shows the compiler's message. */
#include "stressmm_impl.h"

const stressmm_impl *stressmm_impl_v1(void)
{
    return &no_such_table;
}
