#include "common/histogram.h"

#include <gtest/gtest.h>

namespace fg {
namespace {

TEST(Histogram, BucketsAreContiguousAndOrdered) {
  EXPECT_EQ(Histogram::lowerBound(0), 0u);
  for (int i = 0; i + 1 < Histogram::kBuckets; ++i) {
    EXPECT_LT(Histogram::lowerBound(i), Histogram::lowerBound(i + 1)) << i;
    // Every value of a bucket maps back to it, and the next bound to the next.
    EXPECT_EQ(Histogram::bucketOf(Histogram::lowerBound(i)), i);
    EXPECT_EQ(Histogram::bucketOf(Histogram::lowerBound(i + 1) - 1), i);
  }
  EXPECT_EQ(Histogram::bucketOf(~uint64_t{0}), Histogram::kBuckets - 1) << "huge values land in the last bucket";
}

TEST(Histogram, BucketsAreAtMostAQuarterOfTheirValue) {
  for (int i = 4; i + 1 < Histogram::kBuckets; ++i) {
    const double lo = static_cast<double>(Histogram::lowerBound(i));
    const double hi = static_cast<double>(Histogram::lowerBound(i + 1));
    EXPECT_LE((hi - lo) / lo, 0.25) << i;
  }
}

TEST(Histogram, QuantilesOfAUniformSpread) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.sum(), 500500u);
  EXPECT_NEAR(h.quantile(0.5), 500, 500 * 0.25);
  EXPECT_NEAR(h.quantile(0.99), 990, 990 * 0.25);
  EXPECT_LE(h.quantile(0.1), h.quantile(0.5));
  EXPECT_EQ(h.countBelow(512), 511u) << "512 is a bucket bound: exact";
}

TEST(Histogram, EmptyAndMerged) {
  Histogram a, b;
  EXPECT_EQ(a.quantile(0.5), 0);
  a.record(10);
  b.record(1000);
  b.record(1000);
  a.add(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_GT(a.quantile(0.9), 800);
  EXPECT_LT(a.quantile(0.2), 12);
}

TEST(SharedHistogram, ReadersSeeWhatTheOwnerPublished) {
  Histogram h;
  h.record(7);
  h.record(70);
  SharedHistogram s;
  EXPECT_EQ(s.snapshot().count(), 0u);
  s.publish(h);
  const Histogram seen = s.snapshot();
  EXPECT_EQ(seen.count(), 2u);
  EXPECT_EQ(seen.sum(), 77u);
  EXPECT_EQ(seen.bucket(Histogram::bucketOf(70)), 1u);
}

}  // namespace
}  // namespace fg
