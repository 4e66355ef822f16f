// zlib from Debian's zlib1g-dev: CRC-32 for the wire format, gzip for dataset files.
#ifndef FEDSIM_CZLIB_SHIM_H
#define FEDSIM_CZLIB_SHIM_H
#include <zlib.h>
#endif
