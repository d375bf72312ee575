#include "malloc_tuning.h"

// Any C library header defines (or not) __GLIBC__; without one first, the tests below would always be false.
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#endif

// Before main and before any thread exists. `mallopt` and `M_ARENA_MAX` live in <malloc.h>, which Swift's Glibc
// module does not export; on other C libraries this is a no-op.
__attribute__((constructor)) static void use_one_malloc_arena(void) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, 1);
#endif
}

void outpost_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

int outpost_malloc_arena_count(void) {
#if defined(__GLIBC__)
    char *text = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);
    if (!stream) return -1;
    malloc_info(0, stream);
    fclose(stream);
    int arenas = 0;
    for (const char *at = text; (at = strstr(at, "<heap nr=")) != NULL; at++) arenas++;
    free(text);
    return arenas;
#else
    return 1;
#endif
}

size_t outpost_heap_bytes_in_use(void) {
#if defined(__GLIBC__)
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}
