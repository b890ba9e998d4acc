#include <gtest/gtest.h>

#include "cspnet/cspnet.hpp"

TEST(Build, LinksTheLibrary) { EXPECT_EQ(cspnet::Shape({1, 2, 3, 4}).count(), 24); }
