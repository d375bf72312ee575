#ifndef OUTPOST_MALLOC_TUNING_H
#define OUTPOST_MALLOC_TUNING_H

/// Limits glibc's malloc to one arena (a no-op on other C libraries): `mallopt` and `M_ARENA_MAX` live in
/// <malloc.h>, which Swift's Glibc module does not export.
void outpost_use_one_malloc_arena(void);

#endif
