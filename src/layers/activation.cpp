#include "cspnet/activation.hpp"

#include <algorithm>
#include <cmath>

#include "cspnet/error.hpp"

namespace cspnet {
namespace {

struct NamedActivation {
  const char* name;
  Activation act;
};

constexpr NamedActivation kActivations[] = {
    {"linear", Activation::linear}, {"logistic", Activation::logistic}, {"relu", Activation::relu},
    {"relu6", Activation::relu6},   {"leaky", Activation::leaky},       {"tanh", Activation::tanh},
    {"elu", Activation::elu},       {"selu", Activation::selu},         {"mish", Activation::mish},
    {"swish", Activation::swish},   {"hard_mish", Activation::hard_mish}, {"gelu", Activation::gelu},
};

// darknet's own (rounded) SELU constants, so outputs match darknet's.
constexpr double kSeluAlpha = 1.6732;
constexpr double kSeluScale = 1.0507;

}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  std::string accepted;
  for (const auto& entry : kActivations) {
    if (name == entry.name) return entry.act;
    accepted += accepted.empty() ? entry.name : std::string(", ") + entry.name;
  }
  throw Error(where + ": expected an activation (" + accepted + "), got '" + name + "'");
}

const char* activation_name(Activation act) {
  for (const auto& entry : kActivations)
    if (entry.act == act) return entry.name;
  return "?";
}

double activate(Activation act, double x) {
  switch (act) {
    case Activation::linear: return x;
    case Activation::logistic: return 1.0 / (1.0 + std::exp(-x));
    case Activation::relu: return x > 0 ? x : 0;
    case Activation::relu6: return x < 0 ? 0 : (x > 6 ? 6 : x);
    case Activation::leaky: return x > 0 ? x : 0.1 * x;
    case Activation::tanh: return std::tanh(x);
    case Activation::elu: return x >= 0 ? x : std::exp(x) - 1;
    case Activation::selu: return x >= 0 ? kSeluScale * x : kSeluScale * kSeluAlpha * (std::exp(x) - 1);
    case Activation::mish: {
      // darknet's softplus switches to the identity above 20
      double softplus = x > 20 ? x : std::log1p(std::exp(x));
      return x * std::tanh(softplus);
    }
    case Activation::swish: return x / (1.0 + std::exp(-x));
    case Activation::hard_mish:
      if (x > 0) return x;
      if (x > -2) return x * x / 2 + x;
      return 0;
    case Activation::gelu:
      return 0.5 * x * (1 + std::tanh(0.797885 * x + 0.035677 * x * x * x));
  }
  return x;
}

bool append_activation_post_op(Activation act, dnnl::post_ops& ops) {
  using dnnl::algorithm;
  switch (act) {
    case Activation::linear: return true;
    case Activation::logistic: ops.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); return true;
    case Activation::relu: ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); return true;
    case Activation::relu6: ops.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); return true;
    case Activation::leaky: ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.1f, 0.f); return true;
    case Activation::tanh: ops.append_eltwise(1.f, algorithm::eltwise_tanh, 0.f, 0.f); return true;
    case Activation::elu: ops.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); return true;
    case Activation::selu:
      ops.append_eltwise(1.f, algorithm::eltwise_elu, static_cast<float>(kSeluAlpha), 0.f);
      ops.append_eltwise(1.f, algorithm::eltwise_linear, static_cast<float>(kSeluScale), 0.f);
      return true;
    case Activation::swish: ops.append_eltwise(1.f, algorithm::eltwise_swish, 1.f, 0.f); return true;
    // darknet's mish switches softplus to the identity above 20 and its gelu
    // rounds the tanh-approximation constants to 6 digits; in float both
    // agree with oneDNN's definitions to a few ulp (tested), and oneDNN's are
    // vectorised post-ops instead of a scalar pass over memory.
    case Activation::mish: ops.append_eltwise(1.f, algorithm::eltwise_mish, 0.f, 0.f); return true;
    case Activation::gelu: ops.append_eltwise(1.f, algorithm::eltwise_gelu_tanh, 0.f, 0.f); return true;
    case Activation::hard_mish: return false;
  }
  return false;
}

bool has_activation_post_op(Activation act) {
  dnnl::post_ops scratch;
  return append_activation_post_op(act, scratch);
}

void activate_array(Activation act, float* data, int64_t count) {
  if (act == Activation::linear) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    float x = data[i];
    float y = x;
    switch (act) {
      case Activation::logistic: y = 1.f / (1.f + std::exp(-x)); break;
      case Activation::relu: y = x > 0 ? x : 0.f; break;
      case Activation::relu6: y = x < 0 ? 0.f : (x > 6 ? 6.f : x); break;
      case Activation::leaky: y = x > 0 ? x : 0.1f * x; break;
      case Activation::tanh: y = std::tanh(x); break;
      case Activation::elu: y = x >= 0 ? x : std::expm1(x); break;
      case Activation::selu:
        y = x >= 0 ? static_cast<float>(kSeluScale) * x
                   : static_cast<float>(kSeluScale * kSeluAlpha) * std::expm1(x);
        break;
      case Activation::mish: y = x * std::tanh(x > 20 ? x : std::log1p(std::exp(x))); break;
      case Activation::swish: y = x / (1.f + std::exp(-x)); break;
      case Activation::hard_mish: y = x > 0 ? x : (x > -2 ? x * x / 2 + x : 0.f); break;
      case Activation::gelu: y = 0.5f * x * (1 + std::tanh(0.797885f * x + 0.035677f * x * x * x)); break;
      case Activation::linear: break;
    }
    data[i] = y;
  }
}

namespace {

// Written once as a template so the double reference and the float kernel
// are the same formulas.
template <typename T>
T derivative(Activation act, T x) {
  using std::exp;
  using std::tanh;
  switch (act) {
    case Activation::linear: return T(1);
    case Activation::logistic: {
      T s = T(1) / (T(1) + exp(-x));
      return s * (T(1) - s);
    }
    case Activation::relu: return x > 0 ? T(1) : T(0);
    case Activation::relu6: return x > 0 && x < 6 ? T(1) : T(0);
    case Activation::leaky: return x > 0 ? T(1) : T(0.1);
    case Activation::tanh: {
      T t = tanh(x);
      return T(1) - t * t;
    }
    case Activation::elu: return x >= 0 ? T(1) : exp(x);
    case Activation::selu: return x >= 0 ? T(kSeluScale) : T(kSeluScale * kSeluAlpha) * exp(x);
    case Activation::mish: {
      if (x > 20) {  // softplus is the identity there: d/dx x*tanh(x)
        T t = tanh(x);
        return t + x * (T(1) - t * t);
      }
      T softplus = std::log1p(exp(x));
      T t = tanh(softplus);
      T sigmoid = T(1) / (T(1) + exp(-x));
      return t + x * (T(1) - t * t) * sigmoid;
    }
    case Activation::swish: {
      T s = T(1) / (T(1) + exp(-x));
      return s + x * s * (T(1) - s);
    }
    case Activation::hard_mish:
      if (x > 0) return T(1);
      if (x > -2) return x + T(1);
      return T(0);
    case Activation::gelu: {
      T inner = T(0.797885) * x + T(0.035677) * x * x * x;
      T t = tanh(inner);
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * (T(0.797885) + T(3 * 0.035677) * x * x);
    }
  }
  return T(1);
}

}  // namespace

double activation_derivative(Activation act, double x) { return derivative<double>(act, x); }

void activation_backward(Activation act, const float* x, const float* dy, float* dx, int64_t count) {
  if (act == Activation::linear) {
    if (dx != dy) std::copy(dy, dy + count, dx);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * derivative<float>(act, x[i]);
}

}  // namespace cspnet
