// heap_reuse.cpp: glibc's malloc thresholds while an import runs (heap_reuse.h).
#include "pg/heap_reuse.h"

#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pgshell {
namespace {

#if defined(__GLIBC__)
// Imports running in this backend (an import's batch may call another).
// Only the backend's own thread constructs these.
int holders = 0;

// glibc's starting values (DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_THRESHOLD_MIN).
constexpr int kDefaultTrim = 128 * 1024, kDefaultMmap = 128 * 1024;
// While an import runs: blocks up to 32 MB (glibc's largest mmap threshold
// on 64 bits) come from the heap, and up to 512 MB of free top stays there.
constexpr int kImportTrim = 512 * 1024 * 1024, kImportMmap = 32 * 1024 * 1024;
#endif

}  // namespace

KeepFreedMemory::KeepFreedMemory() {
#if defined(__GLIBC__)
  if (holders++ == 0) {
    mallopt(M_MMAP_THRESHOLD, kImportMmap);
    mallopt(M_TRIM_THRESHOLD, kImportTrim);
  }
#endif
}

KeepFreedMemory::~KeepFreedMemory() {
#if defined(__GLIBC__)
  if (--holders == 0) {
    mallopt(M_MMAP_THRESHOLD, kDefaultMmap);
    mallopt(M_TRIM_THRESHOLD, kDefaultTrim);
    malloc_trim(0);
  }
#endif
}

}  // namespace pgshell
