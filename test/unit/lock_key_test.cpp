// lock_key_test.cpp: the lock key is stable and separates its parts.
#include <gtest/gtest.h>

#include "core/lock_key.h"

namespace identity {
namespace {

TEST(LockKey, StableAcrossCalls) {
  EXPECT_EQ(lock_key(0, "email", "a@x.io"), lock_key(0, "email", "a@x.io"));
  // The FNV-1a value is part of the contract between backends of different
  // builds: a change here would let two versions run side by side unlocked.
  // Reference values computed independently from the FNV-1a definition.
  EXPECT_EQ(lock_key(0, "", ""), -1872228358846142017LL);
  EXPECT_EQ(lock_key(0, "email", "a@x.io"), -5121989917471389122LL);
}

TEST(LockKey, DiffersByAccountTypeAndValue) {
  int64_t base = lock_key(1, "email", "a@x.io");
  EXPECT_NE(base, lock_key(2, "email", "a@x.io"));
  EXPECT_NE(base, lock_key(1, "phone", "a@x.io"));
  EXPECT_NE(base, lock_key(1, "email", "b@x.io"));
  EXPECT_NE(lock_key(1, "ab", "c"), lock_key(1, "a", "bc"));
}

}  // namespace
}  // namespace identity
