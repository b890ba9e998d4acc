#pragma once
// Darknet's activation functions: parsing, scalar definitions (also the
// reference for tests) and vectorised loops.
#include <cstdint>
#include <string>

namespace cspnet {

// darknet's own (rounded) SELU constants, so outputs match darknet's.
constexpr double kSeluAlpha = 1.6732;
constexpr double kSeluScale = 1.0507;

enum class Activation { linear, logistic, relu, relu6, leaky, tanh, elu, selu, mish, swish, hard_mish, gelu };

// Throws cspnet::Error naming `where` and the accepted names on an unknown one.
Activation parse_activation(const std::string& name, const std::string& where);
const char* activation_name(Activation act);
// The definition in double precision (darknet's formulas).
double activate(Activation act, double x);
// Applies the activation in place to `count` floats (parallel loop).
void activate_array(Activation act, float* data, int64_t count);
// out = act(in) for `count` floats (out may alias in).
void activate_into(Activation act, const float* in, float* out, int64_t count);
// Derivative of the activation at x, in double (the reference for tests).
double activation_derivative(Activation act, double x);
// Backward through the activation: dx = dy * act'(x) for `count` floats,
// where x is the activation's input; dx may alias dy or x (elementwise).
void activation_backward(Activation act, const float* x, const float* dy, float* dx, int64_t count);

}  // namespace cspnet
