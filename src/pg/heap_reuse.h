// heap_reuse.h: an import keeps the memory its batches free for the next
// batch, instead of handing it back to the kernel and faulting it in again.
//
// A batch allocates tens of megabytes (rows, requests, log steps, tuples)
// and frees them at its end. glibc's malloc returns a heap's free top to
// the kernel past its trim threshold (128 kB at first) and serves large
// blocks with mmap, so the next batch takes every page again as a page
// fault: on this project's machine, a seventh of a new-contact import.
// While an import runs, the thresholds are raised; the memory held is
// still one batch's, never the source's. When the last import of the
// backend ends, glibc's starting thresholds are set again and the free
// memory is given back (malloc_trim). glibc has no call that reads them:
// a server started with other thresholds (GLIBC_TUNABLES) gets the
// starting ones back in a backend that ran an import.
#pragma once

namespace pgshell {

class KeepFreedMemory {
 public:
  KeepFreedMemory();
  ~KeepFreedMemory();
  KeepFreedMemory(const KeepFreedMemory &) = delete;
  KeepFreedMemory &operator=(const KeepFreedMemory &) = delete;
};

}  // namespace pgshell
