// parallel_test.cpp: the import's threads do every item once, pass a
// failure on, and take no signal.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "core/parallel.h"

namespace identity {
namespace {

TEST(Parallel, EveryItemOnce) {
  struct Row {
    size_t n;
    unsigned threads;
  } rows[] = {{0, 1}, {1, 4}, {5, 1}, {1000, 2}, {1001, 3}, {7, 8}};
  for (const Row &r : rows) {
    std::vector<std::atomic<int>> seen(r.n);
    parallel_for(r.n, r.threads, [&](size_t i) { seen[i]++; });
    for (size_t i = 0; i < r.n; i++)
      EXPECT_EQ(seen[i].load(), 1) << "n=" << r.n << " threads=" << r.threads << " i=" << i;
  }
}

TEST(Parallel, FailureReachesTheCaller) {
  EXPECT_THROW(parallel_for(1000, 3,
                            [](size_t i) {
                              if (i == 900) throw std::runtime_error("item 900");
                            }),
               std::runtime_error);
}

TEST(Parallel, ThreadsForSmallBatchesIsOne) {
  EXPECT_EQ(threads_for(0), 1u);
  EXPECT_EQ(threads_for(511), 1u);
  EXPECT_GE(threads_for(100000), 1u);
  EXPECT_LE(threads_for(100000), 4u);
}

TEST(Parallel, QuietThreadTakesNoSignal) {
  sigset_t before, in_thread, after;
  pthread_sigmask(SIG_SETMASK, nullptr, &before);
  std::thread t = quiet_thread([&] { pthread_sigmask(SIG_SETMASK, nullptr, &in_thread); });
  t.join();
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM}) {
    EXPECT_TRUE(sigismember(&in_thread, sig)) << "signal " << sig << " reaches the thread";
    EXPECT_EQ(sigismember(&before, sig), sigismember(&after, sig)) << "the caller's mask changed for " << sig;
  }
}

}  // namespace
}  // namespace identity
