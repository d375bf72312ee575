/*
 * Debian unstable builds its Swift runtime (libswiftCore.a, libdispatch.a, libswift_Concurrency.a) against glibc
 * 2.42, whose headers turn strtol, strtoll and sscanf into their C23 variants (__isoc23_*, glibc 2.38) and which has
 * strlcpy (glibc 2.38). Linked against Debian 12's glibc 2.36, so the binary runs on Debian 12 and Raspberry Pi OS
 * bookworm, those four names need a definition: this file, compiled against the Debian 12 sysroot, gives them.
 *
 * The C23 variants differ from the older ones only in also reading "0b" binary prefixes for base 0 and 2 (and %i);
 * the runtime parses environment variables and /proc files, where none occur. Hidden: they resolve the runtime's
 * references inside the executable and never replace a shared library's own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN long __isoc23_strtol(const char *text, char **end, int base) { return strtol(text, end, base); }

HIDDEN long long __isoc23_strtoll(const char *text, char **end, int base) { return strtoll(text, end, base); }

HIDDEN int __isoc23_sscanf(const char *text, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    int assigned = vsscanf(text, format, arguments);
    va_end(arguments);
    return assigned;
}

/* BSD strlcpy: copies at most size - 1 bytes, always terminates (size > 0), returns strlen(source). */
HIDDEN size_t strlcpy(char *destination, const char *source, size_t size) {
    size_t length = strlen(source);
    if (size > 0) {
        size_t copied = length < size ? length : size - 1;
        memcpy(destination, source, copied);
        destination[copied] = '\0';
    }
    return length;
}
