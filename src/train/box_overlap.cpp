// Box overlap measures, written once over a scalar type: double for values,
// a forward-mode dual number (value + 4 partials) for exact gradients.
#include "train/box_overlap.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cspnet {
namespace {

// value and d/d(pred x, y, w, h)
struct Dual {
  double v = 0;
  std::array<double, 4> d{};
};
Dual operator+(Dual a, const Dual& b) {
  a.v += b.v;
  for (int i = 0; i < 4; ++i) a.d[i] += b.d[i];
  return a;
}
Dual operator-(Dual a, const Dual& b) {
  a.v -= b.v;
  for (int i = 0; i < 4; ++i) a.d[i] -= b.d[i];
  return a;
}
Dual operator*(const Dual& a, const Dual& b) {
  Dual r{a.v * b.v, {}};
  for (int i = 0; i < 4; ++i) r.d[i] = a.d[i] * b.v + a.v * b.d[i];
  return r;
}
Dual operator/(const Dual& a, const Dual& b) {
  Dual r{a.v / b.v, {}};
  for (int i = 0; i < 4; ++i) r.d[i] = (a.d[i] * b.v - a.v * b.d[i]) / (b.v * b.v);
  return r;
}
Dual atan(const Dual& a) {
  Dual r{std::atan(a.v), {}};
  for (int i = 0; i < 4; ++i) r.d[i] = a.d[i] / (1 + a.v * a.v);
  return r;
}
double value(double a) { return a; }
double value(const Dual& a) { return a.v; }
// min/max follow the smaller/larger operand's partials (a subgradient at ties)
template <class T>
T lesser(const T& a, const T& b) {
  return value(a) <= value(b) ? a : b;
}
template <class T>
T greater(const T& a, const T& b) {
  return value(a) >= value(b) ? a : b;
}
using std::atan;

Dual constant(double v) { return Dual{v, {}}; }
double lift(double v, double) { return v; }
Dual lift(double v, const Dual&) { return constant(v); }

template <class T>
T overlap(const std::array<T, 4>& p, const BoxD& t, IouKind kind, double ciou_alpha) {
  const T half = lift(0.5, p[0]);
  const T pl = p[0] - p[2] * half, pr = p[0] + p[2] * half, pt = p[1] - p[3] * half, pb = p[1] + p[3] * half;
  const T tl = lift(t.x - t.w / 2, p[0]), tr = lift(t.x + t.w / 2, p[0]);
  const T tt = lift(t.y - t.h / 2, p[0]), tb = lift(t.y + t.h / 2, p[0]);
  const T iw = lesser(pr, tr) - greater(pl, tl), ih = lesser(pb, tb) - greater(pt, tt);
  const T zero = lift(0.0, p[0]);
  const T inter = value(iw) > 0 && value(ih) > 0 ? iw * ih : zero;
  const T uni = p[2] * p[3] + lift(t.w * t.h, p[0]) - inter;
  const T iou = value(uni) > 0 ? inter / uni : zero;
  if (kind == IouKind::iou) return iou;
  const T cw = greater(pr, tr) - lesser(pl, tl), ch = greater(pb, tb) - lesser(pt, tt);
  if (kind == IouKind::giou) {
    const T enclosing = cw * ch;
    return value(enclosing) > 0 ? iou - (enclosing - uni) / enclosing : iou;
  }
  const T dx = p[0] - lift(t.x, p[0]), dy = p[1] - lift(t.y, p[0]);
  const T diagonal = cw * cw + ch * ch;
  const T diou = value(diagonal) > 0 ? iou - (dx * dx + dy * dy) / diagonal : iou;
  if (kind == IouKind::diou) return diou;
  const double k = 4 / (std::numbers::pi * std::numbers::pi);
  const T angle = lift(std::atan(t.w / t.h), p[0]) - atan(p[2] / p[3]);
  const T v = lift(k, p[0]) * angle * angle;
  double alpha = ciou_alpha;
  if (alpha < 0) alpha = value(v) > 0 ? value(v) / (1 - value(iou) + value(v)) : 0;
  return diou - lift(alpha, p[0]) * v;
}

}  // namespace

double box_overlap(const BoxD& pred, const BoxD& truth, IouKind kind, double ciou_alpha) {
  return overlap<double>({pred.x, pred.y, pred.w, pred.h}, truth, kind, ciou_alpha);
}

std::array<double, 4> box_overlap_gradient(const BoxD& pred, const BoxD& truth, IouKind kind) {
  std::array<Dual, 4> p{Dual{pred.x, {1, 0, 0, 0}}, Dual{pred.y, {0, 1, 0, 0}}, Dual{pred.w, {0, 0, 1, 0}},
                        Dual{pred.h, {0, 0, 0, 1}}};
  return overlap<Dual>(p, truth, kind, -1).d;
}

IouKind overlap_kind(BoxLoss loss) {
  switch (loss) {
    case BoxLoss::giou: return IouKind::giou;
    case BoxLoss::diou: return IouKind::diou;
    case BoxLoss::ciou: return IouKind::ciou;
    default: return IouKind::iou;
  }
}

}  // namespace cspnet
