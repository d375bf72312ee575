#include "malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void outpost_use_one_malloc_arena(void) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, 1);
#endif
}
