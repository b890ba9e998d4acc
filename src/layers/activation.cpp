#include "cspnet/activation.hpp"

#include <algorithm>
#include <cmath>

#include "cspnet/cfg.hpp"
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

}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  std::string accepted;
  for (const auto& entry : kActivations) {
    if (name == entry.name) return entry.act;
    accepted += accepted.empty() ? entry.name : std::string(", ") + entry.name;
  }
  throw Error(where + ": expected an activation (" + accepted + "), got '" + cfg_excerpt(name) + "'");
}

const char* activation_name(Activation act) {
  for (const auto& entry : kActivations)
    if (entry.act == act) return entry.name;
  return "?";
}

namespace {

// Each activation's value and derivative, written once as templates on the
// activation (so a loop over one activation has no branch on the kind and
// vectorises) and on the type (double for the reference, float for kernels).
template <Activation A, typename T>
T value_of(T x) {
  using std::exp;
  using std::tanh;
  if constexpr (A == Activation::linear) return x;
  if constexpr (A == Activation::logistic) return T(1) / (T(1) + exp(-x));
  if constexpr (A == Activation::relu) return x > 0 ? x : T(0);
  if constexpr (A == Activation::relu6) return x < 0 ? T(0) : (x > 6 ? T(6) : x);
  if constexpr (A == Activation::leaky) return x > 0 ? x : T(0.1) * x;
  if constexpr (A == Activation::tanh) return tanh(x);
  if constexpr (A == Activation::elu) return x >= 0 ? x : std::expm1(x);
  if constexpr (A == Activation::selu) return x >= 0 ? T(kSeluScale) * x : T(kSeluScale * kSeluAlpha) * std::expm1(x);
  // darknet's softplus switches to the identity above 20
  if constexpr (A == Activation::mish) return x * tanh(x > 20 ? x : std::log1p(exp(x)));
  if constexpr (A == Activation::swish) return x / (T(1) + exp(-x));
  if constexpr (A == Activation::hard_mish) return x > 0 ? x : (x > -2 ? x * x / 2 + x : T(0));
  if constexpr (A == Activation::gelu) return T(0.5) * x * (T(1) + tanh(T(0.797885) * x + T(0.035677) * x * x * x));
}

template <Activation A, typename T>
T derivative_of(T x) {
  using std::exp;
  using std::tanh;
  if constexpr (A == Activation::linear) return T(1);
  if constexpr (A == Activation::logistic) {
    T s = T(1) / (T(1) + exp(-x));
    return s * (T(1) - s);
  }
  if constexpr (A == Activation::relu) return x > 0 ? T(1) : T(0);
  if constexpr (A == Activation::relu6) return x > 0 && x < 6 ? T(1) : T(0);
  if constexpr (A == Activation::leaky) return x > 0 ? T(1) : T(0.1);
  if constexpr (A == Activation::tanh) {
    T t = tanh(x);
    return T(1) - t * t;
  }
  if constexpr (A == Activation::elu) return x >= 0 ? T(1) : exp(x);
  if constexpr (A == Activation::selu) return x >= 0 ? T(kSeluScale) : T(kSeluScale * kSeluAlpha) * exp(x);
  if constexpr (A == Activation::mish) {
    if (x > 20) {  // softplus is the identity there: d/dx x*tanh(x)
      T t = tanh(x);
      return t + x * (T(1) - t * t);
    }
    T t = tanh(std::log1p(exp(x)));
    T sigmoid = T(1) / (T(1) + exp(-x));
    return t + x * (T(1) - t * t) * sigmoid;
  }
  if constexpr (A == Activation::swish) {
    T s = T(1) / (T(1) + exp(-x));
    return s + x * s * (T(1) - s);
  }
  if constexpr (A == Activation::hard_mish) return x > 0 ? T(1) : (x > -2 ? x + T(1) : T(0));
  if constexpr (A == Activation::gelu) {
    T t = tanh(T(0.797885) * x + T(0.035677) * x * x * x);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * (T(0.797885) + T(3 * 0.035677) * x * x);
  }
}

// Calls f.template operator()<A>() for the runtime activation `act`.
template <typename F>
decltype(auto) dispatch(Activation act, F&& f) {
  switch (act) {
    case Activation::linear: return f.template operator()<Activation::linear>();
    case Activation::logistic: return f.template operator()<Activation::logistic>();
    case Activation::relu: return f.template operator()<Activation::relu>();
    case Activation::relu6: return f.template operator()<Activation::relu6>();
    case Activation::leaky: return f.template operator()<Activation::leaky>();
    case Activation::tanh: return f.template operator()<Activation::tanh>();
    case Activation::elu: return f.template operator()<Activation::elu>();
    case Activation::selu: return f.template operator()<Activation::selu>();
    case Activation::mish: return f.template operator()<Activation::mish>();
    case Activation::swish: return f.template operator()<Activation::swish>();
    case Activation::hard_mish: return f.template operator()<Activation::hard_mish>();
    case Activation::gelu: return f.template operator()<Activation::gelu>();
  }
  return f.template operator()<Activation::linear>();
}

// Plain functions (not lambdas) around the loops: reading the pointers from
// a closure inside the loop kept GCC from vectorising it.
template <Activation A>
void activate_loop(const float* in, float* out, int64_t count) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) out[i] = value_of<A, float>(in[i]);
}

template <Activation A>
void backward_loop(const float* x, const float* dy, float* dx, int64_t count) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * derivative_of<A, float>(x[i]);
}

}  // namespace

double activate(Activation act, double x) {
  return dispatch(act, [x]<Activation A>() { return value_of<A, double>(x); });
}

void activate_into(Activation act, const float* in, float* out, int64_t count) {
  if (act == Activation::linear) {
    if (in != out) std::copy(in, in + count, out);
    return;
  }
  dispatch(act, [=]<Activation A>() { activate_loop<A>(in, out, count); });
}

void activate_array(Activation act, float* data, int64_t count) { activate_into(act, data, data, count); }

double activation_derivative(Activation act, double x) {
  return dispatch(act, [x]<Activation A>() { return derivative_of<A, double>(x); });
}

void activation_backward(Activation act, const float* x, const float* dy, float* dx, int64_t count) {
  if (act == Activation::linear) {
    if (dx != dy) std::copy(dy, dy + count, dx);
    return;
  }
  dispatch(act, [=]<Activation A>() { backward_loop<A>(x, dy, dx, count); });
}

}  // namespace cspnet
