#ifndef OUTPOST_CZLIB_SHIM_H
#define OUTPOST_CZLIB_SHIM_H
#include <zlib.h>

// deflateInit2 and inflateInit2 are macros that Swift cannot call.
static inline int outpost_deflate_init_gzip(z_stream *stream, int level) {
    // windowBits 15 + 16 selects the gzip wrapper; memLevel 8 is zlib's default.
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

static inline int outpost_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
#endif
