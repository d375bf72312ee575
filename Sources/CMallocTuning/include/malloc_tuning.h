#ifndef OUTPOST_MALLOC_TUNING_H
#define OUTPOST_MALLOC_TUNING_H

/// Limits glibc's malloc to one arena (a no-op on other C libraries): `mallopt` and `M_ARENA_MAX` live in
/// <malloc.h>, which Swift's Glibc module does not export.
void outpost_use_one_malloc_arena(void);

/// Gives freed heap memory back to the system (`malloc_trim(0)`; a no-op on other C libraries): glibc keeps what a
/// burst of allocations (a batch being encoded) freed, and resident memory would stay at the burst's peak.
void outpost_release_free_memory(void);

#endif
