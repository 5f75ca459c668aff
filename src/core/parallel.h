// parallel.h: running independent pure-core work (normalizing an import
// batch's identifiers) on several threads. Only for code of src/core: no
// PostgreSQL function may run off the backend's own thread.
#pragma once

#include <cstddef>
#include <functional>
#include <thread>

namespace identity {

// Calls work(i) for every i in [0, n), on the calling thread and up to
// threads - 1 more, each taking a contiguous share; returns when all are
// done. The extra threads take no signal (they are blocked there), so that
// the process's signal handlers run on the calling thread only. An
// exception thrown by work is rethrown here (the first one); work should
// catch what it expects itself.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)> &work);

// How many threads parallel_for should use for n items: 1 for small
// batches, else the machine's cores, at most 4.
unsigned threads_for(size_t n);

// A new thread running work, with every signal blocked in it, so that the
// process's signal handlers run on the calling thread only. Throws
// std::system_error when no thread can be made.
std::thread quiet_thread(std::function<void()> work);

}  // namespace identity
