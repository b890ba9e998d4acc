// Shape limits: shape arithmetic never wraps, and no tensor beyond the
// supported element counts is planned or allocated (an Error instead).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "cspnet/cspnet.hpp"

namespace {

using namespace cspnet;

bool throws_containing(const std::function<void()>& f, const std::string& part, std::string* message) {
  try {
    f();
  } catch (const Error& e) {
    *message = e.what();
    return message->find(part) != std::string::npos;
  }
  *message = "no error";
  return false;
}

TEST(ShapeLimits, CountOverflowIsAnErrorNotAWrappedProduct) {
  const Shape zero_wrap{1, int64_t{1} << 21, int64_t{1} << 21, int64_t{1} << 22};  // 2^64 elements
  const Shape negative_wrap{1, int64_t{1} << 21, int64_t{1} << 21, int64_t{1} << 21};  // 2^63
  std::string message;
  EXPECT_TRUE(throws_containing([&] { (void)zero_wrap.count(); }, "overflows", &message)) << message;
  EXPECT_TRUE(throws_containing([&] { (void)negative_wrap.per_image(); }, "overflows", &message)) << message;
  EXPECT_FALSE(zero_wrap.within_limits());
  EXPECT_FALSE(negative_wrap.within_limits());
  EXPECT_TRUE((Shape{2, 3, 4, 5}.within_limits()));
  EXPECT_EQ((Shape{2, 3, 4, 5}.count()), 120);
}

TEST(ShapeLimits, TensorRefusesMoreThanTheSupportedElements) {
  std::string message;
  EXPECT_TRUE(throws_containing([] { Tensor t(Shape{1024, 1024, 1024, 1024}); }, "supported", &message)) << message;
}

// 2^30 elements per image is allowed; at batch 5 the input is 5*2^30 > 2^32.
TEST(ShapeLimits, BatchBeyondTheTensorLimitIsAnError) {
  Network net = Network::from_cfg(
      parse_cfg_text("[net]\nwidth=32768\nheight=32768\nchannels=1\n[avgpool]\n", "big.cfg"));
  std::string message;
  EXPECT_TRUE(throws_containing([&] { net.reshape(32768, 32768, 5); }, "elements per tensor", &message)) << message;
  EXPECT_EQ(net.batch(), 1);
}

// A layer whose output at the requested batch is beyond the limit: named by file:line.
TEST(ShapeLimits, LayerOutputBeyondTheTensorLimitNamesTheLayer) {
  Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=8192\nheight=8192\nchannels=1\n[upsample]\nstride=2\n", "big.cfg"));  // 2^28 per image
  std::string message;
  EXPECT_TRUE(throws_containing([&] { net.reshape(8192, 8192, 32); }, "big.cfg:5: [upsample]: output shape", &message))
      << message;
  EXPECT_NE(message.find("at batch 32 exceeds the supported 4294967296 elements per tensor"), std::string::npos)
      << message;
}

}  // namespace
