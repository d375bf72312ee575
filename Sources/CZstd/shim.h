#ifndef OUTPOST_CZSTD_SHIM_H
#define OUTPOST_CZSTD_SHIM_H
// zstd (RFC 8878) from the system's libzstd: Swift calls its functions directly, no wrappers needed.
#include <zstd.h>
#endif
