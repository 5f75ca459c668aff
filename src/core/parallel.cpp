// parallel.cpp: a fork-join loop over plain threads.
#include "core/parallel.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace identity {
namespace {

// Below this many items a thread costs more than it saves.
constexpr size_t kItemsPerThread = 256;

}  // namespace

unsigned threads_for(size_t n) {
  if (n < 2 * kItemsPerThread) return 1;
  // hardware_concurrency() reads /sys on every call: once per process.
  static const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(std::min<size_t>({cores, 4, n / kItemsPerThread}));
}

std::thread quiet_thread(std::function<void()> work) {
  // A new thread inherits the signal mask: block everything while making it.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    std::thread thread(std::move(work));
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return thread;
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
}

void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)> &work) {
  threads = static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(threads, n)));
  std::exception_ptr failure;
  std::mutex failure_lock;
  auto share = [&](unsigned t) {
    size_t begin = n * t / threads, end = n * (t + 1) / threads;
    try {
      for (size_t i = begin; i < end; i++) work(i);
    } catch (...) {
      std::lock_guard<std::mutex> guard(failure_lock);
      if (!failure) failure = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  try {
    for (unsigned t = 1; t < threads; t++) workers.push_back(quiet_thread([&share, t] { share(t); }));
  } catch (...) {
    for (std::thread &w : workers) w.join();
    throw;
  }
  share(0);
  for (std::thread &w : workers) w.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace identity
