// Many threads on one container: results identical to single-threaded runs, a runner never
// used by two runs at once, never more runs in flight than runners, and the intra-op thread
// count shared out among busy runners.

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "fake_model.h"
#include "kiln/kiln.h"
#include "runtime_test_util.h"

namespace {

using rtest::Inputs;

constexpr int kThreads = 8;
constexpr int kRunsPerThread = 1000;
constexpr int kDistinctInputs = 64;

struct Reference {
  std::vector<float> y, z;
};

class Concurrency : public ::testing::TestWithParam<int> {};

TEST_P(Concurrency, ThreadedRunsMatchSingleThreadedRuns) {
  const int runners = GetParam();
  // Inputs at every s0 from 1 to 64, and their outputs from single-threaded runs.
  std::vector<std::unique_ptr<Inputs>> inputs;
  std::vector<Reference> reference;
  {
    auto single = rtest::make_container(1);
    for (int i = 0; i < kDistinctInputs; ++i) {
      inputs.push_back(std::make_unique<Inputs>(1 + i, static_cast<uint32_t>(5000 + i)));
      rtest::ManagedOutputs out;
      ASSERT_EQ(kiln_run(single.get(), inputs.back()->ptrs, 2, nullptr, out.items, 2, nullptr),
                KILN_OK);
      const size_t rows = static_cast<size_t>(1 + i);
      reference.push_back({std::vector<float>(out.y(), out.y() + rows * 4),
                           std::vector<float>(out.z(), out.z() + rows)});
    }
  }

  fake::reset_stats();
  auto c = rtest::make_container(runners, 8);
  std::atomic<int> failures{0}, mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> y(64 * 4), z(64);
      for (int r = 0; r < kRunsPerThread; ++r) {
        const int pick = (t * 7919 + r * 31) % kDistinctInputs;
        const Inputs& in = *inputs[static_cast<size_t>(pick)];
        const size_t rows = static_cast<size_t>(in.s0);
        // Alternate the output modes.
        if (r % 2 == 0) {
          rtest::ManagedOutputs out;
          if (kiln_run(c.get(), in.ptrs, 2, nullptr, out.items, 2, nullptr) != KILN_OK) {
            ++failures;
            continue;
          }
          if (std::memcmp(out.y(), reference[pick].y.data(), rows * 4 * sizeof(float)) != 0 ||
              std::memcmp(out.z(), reference[pick].z.data(), rows * sizeof(float)) != 0) {
            ++mismatches;
          }
        } else {
          int64_t y_shape[] = {in.s0, 4}, z_shape[] = {in.s0};
          DLTensor yt{y.data(), {kDLCPU, 0}, 2, rtest::kF32, y_shape, nullptr, 0};
          DLTensor zt{z.data(), {kDLCPU, 0}, 1, rtest::kF32, z_shape, nullptr, 0};
          DLTensor* outs[] = {&yt, &zt};
          if (kiln_run(c.get(), in.ptrs, 2, outs, nullptr, 2, nullptr) != KILN_OK) {
            ++failures;
            continue;
          }
          if (std::memcmp(y.data(), reference[pick].y.data(), rows * 4 * sizeof(float)) != 0 ||
              std::memcmp(z.data(), reference[pick].z.data(), rows * sizeof(float)) != 0) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  const fake::RunStats s = fake::stats();
  EXPECT_EQ(s.runs, kThreads * kRunsPerThread);
  EXPECT_FALSE(s.arena_shared);
  EXPECT_LE(s.max_in_flight, runners);
  for (int n : s.thread_counts) {
    EXPECT_GE(n, 8 / runners);
    EXPECT_LE(n, 8);
  }
}

INSTANTIATE_TEST_SUITE_P(Runners, Concurrency, ::testing::Values(1, 2, 4));

TEST(ConcurrencyPool, SlowRunsOverlapAndShareThreads) {
  // Runs that sleep overlap for sure; each then gets its share of the 8 threads.
  fake::reset_stats();
  fake::set_run_delay_us(2000);
  auto c = rtest::make_container(4, 8);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r) {
        if (!rtest::runs_ok(c.get(), 1 + (t + r) % 64, static_cast<uint32_t>(t * 100 + r))) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  fake::set_run_delay_us(0);
  const fake::RunStats s = fake::stats();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_FALSE(s.arena_shared);
  EXPECT_LE(s.max_in_flight, 4);
  EXPECT_GT(s.max_in_flight, 1);
  // A run that started while another held a runner saw at least two busy runners.
  EXPECT_LE(*s.thread_counts.begin(), 4);
  for (int n : s.thread_counts)
    EXPECT_TRUE(n == 8 || n == 4 || n == 2) << n;
}

TEST(ConcurrencyPool, OneRunnerSerializesRuns) {
  fake::reset_stats();
  fake::set_run_delay_us(1000);
  auto c = rtest::make_container(1, 3);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 10; ++r) {
        if (!rtest::runs_ok(c.get(), 5, static_cast<uint32_t>(t * 10 + r))) ++failures;
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  fake::set_run_delay_us(0);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fake::stats().max_in_flight, 1);
  EXPECT_EQ(fake::stats().thread_counts, std::set<int>{3});
}

}  // namespace
