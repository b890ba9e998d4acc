#pragma once
// Umbrella header for the cspnet library.
#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "cspnet/detect.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/image.hpp"
#include "cspnet/layer.hpp"
#include "cspnet/network.hpp"
#include "cspnet/peak.hpp"
#include "cspnet/tensor.hpp"
#include "cspnet/weights.hpp"
