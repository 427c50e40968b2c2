// nDPI 4.2 names a protocol from the ports alone at a TCP SYN (e.g.
// TargusDataspeed for port 5201, where iperf3 listens): the adapter reports
// that as a port guess (app_source port, confidence guessed), never as a
// final DPI answer, so the catalog, a dissector or later packets may decide.
#include <gtest/gtest.h>

#include "gateway/core/pipeline.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

class Last final : public FlowEventSink {
 public:
  void onClassified(const Flow& f) override { cls = f.cls; }
  void onFlowEnd(const Flow&, EndReason) override {}
  Classification cls;
};

TEST(NdpiPortGuess, ASynToAKnownPortIsAGuessNotDpi) {
  dpi::NdpiClassifier classifier;
  ManualClock clock;
  Last sink;
  Pipeline pipe(PipelineConfig{}, classifier, clock, sink);
  auto tcp = [&](const char* s, const char* d, uint16_t sp, uint16_t dp, uint8_t flags, const char* data) {
    clock.advanceTo(clock.now() + 1000);
    return pipe.step(LinkType::Ethernet,
                     test::PacketBuilder().eth().ipv4({.src = s, .dst = d}).tcp({.sport = sp, .dport = dp, .flags = flags})
                         .payload(data).build(), clock.now());
  };
  const StepResult syn = tcp("10.0.0.1", "10.0.0.2", 40000, 5201, kTcpSyn, "");
  ASSERT_NE(syn.flow, nullptr);
  EXPECT_FALSE(syn.classified_now) << "a port guess must not end inspection";
  // Debian's libndpi 4.2 names the port at the SYN.
  EXPECT_EQ(syn.flow->cls.application, "TargusDataspeed");
  EXPECT_EQ(syn.flow->cls.app_source, AppSource::Port);
  EXPECT_EQ(syn.flow->cls.confidence, Confidence::Guessed);
  tcp("10.0.0.2", "10.0.0.1", 5201, 40000, kTcpSyn | kTcpAck, "");
  tcp("10.0.0.1", "10.0.0.2", 40000, 5201, kTcpAck, "");
  tcp("10.0.0.1", "10.0.0.2", 40000, 5201, kTcpAck | kTcpPsh, "0123456789abcdefghijklmnopqrstuvwxyz01");
  pipe.finish();
  EXPECT_EQ(sink.cls.application, "TargusDataspeed");
  EXPECT_EQ(sink.cls.app_source, AppSource::Port);
  EXPECT_EQ(sink.cls.confidence, Confidence::Guessed);
}

}  // namespace
}  // namespace fg::core
