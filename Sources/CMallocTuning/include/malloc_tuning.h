#ifndef OUTPOST_MALLOC_TUNING_H
#define OUTPOST_MALLOC_TUNING_H

#include <stddef.h>

// glibc's malloc is limited to one arena before main runs (a constructor in malloc_tuning.c): glibc gives each busy
// thread an arena of its own, and with our few, allocation-light threads the extra arenas cost ~1.5 MiB of resident
// memory for no measurable speed. Set later (in `outpost run`), it came too late: the Swift concurrency pool's
// threads had already made four.

/// Gives freed heap memory back to the system (`malloc_trim(0)`; a no-op on other C libraries): glibc keeps what a
/// burst of allocations (a batch being encoded) freed, and resident memory would stay at the burst's peak.
void outpost_release_free_memory(void);

/// How many arenas glibc's malloc has made (from `malloc_info`); 1 on other C libraries. A diagnostic for the
/// constructor above, which a missing `#include` once compiled away without a word.
int outpost_malloc_arena_count(void);

/// The heap bytes malloc has handed out and not had back (glibc's `mallinfo2().uordblks`; 0 on other C libraries):
/// exact memory measurements in benchmarks, where resident-set growth hides in freed pages.
size_t outpost_heap_bytes_in_use(void);

#endif
