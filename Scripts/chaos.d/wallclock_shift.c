// Steps the wall clock of one process (and only the wall clock) for Scripts/chaos: CLOCK_REALTIME readings
// (clock_gettime, gettimeofday, time) are moved by the whole seconds written in the file $OUTPOST_CHAOS_SHIFT_FILE.
// CLOCK_MONOTONIC and every sleep are left alone, which is exactly what NTP stepping the clock looks like to a
// process. The file is looked at again at most ten times a second.
//   cc -shared -fPIC -O2 -o wallclock_shift.so wallclock_shift.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn next_clock_gettime(void) {
    static _Atomic(clock_gettime_fn) cached;
    clock_gettime_fn found = atomic_load(&cached);
    if (!found) {
        found = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        atomic_store(&cached, found);
    }
    return found;
}

static long long shift_now(void) {
    static _Atomic long long shift;
    static _Atomic long long checked_at = -1;
    struct timespec mono;
    next_clock_gettime()(CLOCK_MONOTONIC, &mono);
    long long now = mono.tv_sec * 1000000000LL + mono.tv_nsec;
    long long last = atomic_load(&checked_at);
    if (last >= 0 && now - last < 100000000LL) return atomic_load(&shift);
    atomic_store(&checked_at, now);
    const char *name = getenv("OUTPOST_CHAOS_SHIFT_FILE");
    FILE *file = name ? fopen(name, "r") : NULL;
    if (file) {
        long long seconds;
        if (fscanf(file, "%lld", &seconds) == 1) atomic_store(&shift, seconds);
        fclose(file);
    }
    return atomic_load(&shift);
}

int clock_gettime(clockid_t clock, struct timespec *out) {
    int status = next_clock_gettime()(clock, out);
    if (status == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) out->tv_sec += shift_now();
    return status;
}

int gettimeofday(struct timeval *out, void *zone) {
    (void)zone;
    struct timespec now;
    int status = clock_gettime(CLOCK_REALTIME, &now);
    if (status == 0) {
        out->tv_sec = now.tv_sec;
        out->tv_usec = now.tv_nsec / 1000;
    }
    return status;
}

time_t time(time_t *out) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}
