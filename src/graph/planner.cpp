// Liveness-based memory planning with zero-copy concatenation and views.
#include <algorithm>
#include <limits>

#include "backends/onednn/kernel.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/quantization.hpp"
#include "layout_classes.hpp"
#include "slot_allocator.hpp"

namespace cspnet {
namespace {

constexpr int kForever = std::numeric_limits<int>::max();

const Shape& tensor_shape(const Network& net, int tensor, const Shape& input) {
  return tensor == net.size() ? input : net.layer(tensor).output_shape();
}

// Per tensor (layer outputs, then the input): the layers reading it.
std::vector<std::vector<int>> readers_of(const Network& net) {
  std::vector<std::vector<int>> readers(size_t(net.size()) + 1);
  for (int i = 0; i < net.size(); ++i)
    for (int in : net.layer(i).inputs()) readers[size_t(in < 0 ? net.size() : in)].push_back(i);
  return readers;
}

// Per root tensor: the tensors its buffer holds (itself included).
std::vector<std::vector<int>> members_of(const MemoryPlan& plan) {
  std::vector<std::vector<int>> members(plan.root.size());
  for (size_t t = 0; t < plan.root.size(); ++t) members[size_t(plan.root[t])].push_back(int(t));
  return members;
}

// int8 executors: what the 8-bit passes ask of a layer once the tensors are
// placed: which 8-bit quantization it reads (an int8 convolution its table
// entry; a concatenation copied in 8 bits its readers'; with
// `through_loops`, a max pool or upsample that moves 8-bit values whatever
// its own readers share), whether it can write 8 bits, and the one
// quantization a set of readers shares.
struct Int8Readers {
  const Network& net;
  const ExecOptions& options;
  const QuantizationTable& table;
  const MemoryPlan& plan;
  std::vector<std::vector<int>> readers = readers_of(net);
  // Loops count as 8-bit readers only once layouts are chosen (they need
  // channels-last buffers) and only in the pass that decides their outputs.
  bool through_loops = false;
  std::vector<std::vector<int>> members = members_of(plan);

  const QuantizedInput* reading(int layer) const {
    if (plan.folded[size_t(layer)]) return nullptr;
    const Layer& l = net.layer(layer);
    if (l.kind() == LayerKind::convolutional) return table.find(layer);
    if (moves_int8(layer)) return can_hold_int8(layer) ? common(readers_through_views(layer)) : nullptr;
    if (!plan.int8_concatenation[size_t(layer)]) return nullptr;
    return table.find(readers[size_t(layer)].front());
  }
  bool moves_int8(int layer) const {
    const Layer& l = net.layer(layer);
    return through_loops && l.output_kind() == OutputKind::compute && onednn_kernels(l).moves_int8(l);
  }
  bool writes_int8(int layer) const {
    const Layer& l = net.layer(layer);
    return l.kind() == LayerKind::convolutional && reading(layer) && onednn_kernels(l).can_write_narrow(l, options);
  }
  // Null when `layers` is empty, one of them reads floats, or two differ.
  const QuantizedInput* common(const std::vector<int>& layers) const {
    const QuantizedInput* first = layers.empty() ? nullptr : reading(layers.front());
    for (int r : layers) {
      const QuantizedInput* q = reading(r);
      if (!first || !q || q->threshold != first->threshold || q->is_unsigned != first->is_unsigned) return nullptr;
    }
    return first;
  }
  // A root buffer that can be 8-bit: channels-last, nothing accumulated into
  // it, holding nothing but its own tensor and whole views of it (a [route]
  // of that one layer: the CSP split).
  bool can_hold_int8(int root) const {
    if (plan.root[size_t(root)] != root || !plan.channels_last[size_t(root)] ||
        plan.accumulates_for[size_t(root)] >= 0 || plan.overwritten[size_t(root)] || plan.folded[size_t(root)])
      return false;
    for (int m : members[size_t(root)])
      if (plan.root_channel[size_t(m)] != 0 || !(net.layer(m).output_shape() == net.layer(root).output_shape()) ||
          (m != root && (net.layer(m).output_kind() != OutputKind::view || plan.folded[size_t(m)])))
        return false;
    return true;
  }
  // Who reads a root buffer's tensors, past the views into it.
  std::vector<int> readers_through_views(int root) const {
    std::vector<int> all;
    for (int m : members[size_t(root)])
      for (int r : readers[size_t(m)])
        if (net.layer(r).output_kind() != OutputKind::view) all.push_back(r);
    return all;
  }
};

void set_int8(const QuantizedInput& q, int tensor, MemoryPlan& plan) {
  plan.int8_scale[size_t(tensor)] = q.scale();
  plan.int8_unsigned[size_t(tensor)] = q.is_unsigned;
}

// int8 executors: a concatenation is copied in 8 bits instead of written in
// place when only int8 convolutions read it, all quantizing it alike, and it
// is not an output: oneDNN 2.6's int8 convolutions writing a channel slice
// of a channels-last buffer run its reference kernel, so the producers write
// their own dense 8-bit tensors and the route copies them (a byte per
// element, against fp32 slices and a quantizing reorder in every reader).
std::vector<bool> choose_int8_concatenations(const Network& net, const ExecOptions& options,
                                             const std::vector<std::vector<int>>& readers, const MemoryPlan& plan) {
  std::vector<bool> chosen(size_t(net.size()), false);
  const QuantizationTable* table = options.quantization.get();
  if (options.precision != Precision::int8 || !options.int8_activations || !options.channels_last || !table)
    return chosen;
  // Asked before any concatenation is chosen, so only int8 convolutions
  // count as 8-bit readers here.
  const Int8Readers int8{net, options, *table, plan, readers};
  const auto outputs = net.output_layers();
  for (int i = 0; i < net.size(); ++i)
    chosen[size_t(i)] = net.layer(i).output_kind() == OutputKind::concat &&
                        std::find(outputs.begin(), outputs.end(), i) == outputs.end() &&
                        int8.common(readers[size_t(i)]) != nullptr;
  return chosen;
}

// Places route inputs inside the route's buffer and views inside their source.
int root_of(const std::vector<int>& parent, int t) {
  while (parent[size_t(t)] >= 0) t = parent[size_t(t)];
  return t;
}

// Residual fusion: shortcut j = act(p + f), with p = layer j-1. When p is a
// convolution read only by j, and j is the last reader of f, p can write
// straight into f's buffer with a oneDNN sum post-op (p += f in place), and
// j becomes an alias of that buffer. f must not be read through a view or a
// concat (its memory changes under them), nor be an output, nor be p's input.
bool fuse_residual(const Network& net, const ExecOptions& options, const std::vector<std::vector<int>>& readers,
                   int j, std::vector<int>& parent, std::vector<int64_t>& offset, MemoryPlan& plan) {
  const Layer& shortcut = net.layer(j);
  Activation then = Activation::linear;
  if (!options.fuse_residual || !onednn_kernels(shortcut).is_fusable_residual_sum(shortcut, &then)) return false;
  const int p = shortcut.inputs()[0], f = shortcut.inputs()[1];
  if (p != j - 1 || f < 0 || f == p) return false;
  if (!onednn_kernels(net.layer(p)).can_accumulate_into_output(net.layer(p), options, then)) return false;
  if (readers[size_t(p)] != std::vector<int>{j} || parent[size_t(p)] >= 0) return false;
  const auto outputs = net.output_layers();
  auto is_output = [&](int t) { return std::find(outputs.begin(), outputs.end(), t) != outputs.end(); };
  if (is_output(p) || is_output(f) || is_output(j)) return false;
  const bool f_is_alias = plan.folded[size_t(f)];
  if (!f_is_alias && net.layer(f).output_kind() != OutputKind::compute) return false;
  for (int reader : readers[size_t(f)])
    if (reader > j || net.layer(reader).output_kind() != OutputKind::compute) return false;
  for (int in : net.layer(p).inputs())
    if (in < 0 || root_of(parent, in) == root_of(parent, f)) return false;
  parent[size_t(p)] = f;
  parent[size_t(j)] = f;
  offset[size_t(p)] = offset[size_t(j)] = 0;
  plan.accumulates_for[size_t(p)] = j;
  plan.folded[size_t(j)] = true;
  plan.overwritten[size_t(p)] = plan.overwritten[size_t(f)] = true;
  return true;
}

void place_tensors(const Network& net, const ExecOptions& options, std::vector<int>& parent,
                   std::vector<int64_t>& offset, MemoryPlan& plan) {
  const int input_id = net.size();
  const std::vector<std::vector<int>> readers = readers_of(net);
  plan.accumulates_for.assign(size_t(net.size()), -1);
  plan.folded.assign(size_t(net.size()), false);
  plan.overwritten.assign(size_t(net.size()) + 1, false);
  plan.int8_concatenation.assign(size_t(net.size()), false);
  plan.int8_concatenation = choose_int8_concatenations(net, options, readers, plan);
  for (int i = 0; i < net.size(); ++i) {
    const Layer& layer = net.layer(i);
    auto id = [&](int ref) { return ref < 0 ? input_id : ref; };
    if (fuse_residual(net, options, readers, i, parent, offset, plan)) continue;
    if (layer.output_kind() == OutputKind::view) {
      parent[size_t(i)] = id(layer.inputs()[0]);
      offset[size_t(i)] = layer.view_offset();
      continue;
    }
    if (layer.output_kind() != OutputKind::concat) continue;
    if (plan.int8_concatenation[size_t(i)]) {  // copied by the route, every input
      plan.copied_inputs += int(layer.inputs().size());
      continue;
    }
    int64_t channel = 0;
    const auto& ins = layer.inputs();
    for (size_t k = 0; k < ins.size(); ++k) {
      int p = ins[k];
      bool repeated = std::find(ins.begin(), ins.begin() + long(k), p) != ins.begin() + long(k);
      bool eligible = options.zero_copy_concat && !repeated && parent[size_t(p)] < 0 &&
                      net.layer(p).output_kind() != OutputKind::view && !plan.folded[size_t(p)];
      if (eligible) {
        parent[size_t(p)] = i;
        offset[size_t(p)] = channel;
        ++plan.zero_copy_inputs;
      } else {
        ++plan.copied_inputs;
      }
      channel += net.layer(p).output_shape().c;  // routes only name layers, never the input
    }
  }
}

// Tensors that must share a layout form classes (union-find): everything in
// one root buffer, and the operands of every layer whose rule is `same`. A
// class is blocked when every member can be (channels and channel offset
// multiples of the block) and none is forced plain (plain-only layers, the
// network input and outputs).
void choose_layouts(const Network& net, const ExecOptions& options, MemoryPlan& plan) {
  const int count = net.size() + 1, input_id = net.size();
  plan.blocked.assign(size_t(count), false);
  if (!options.blocked_layout) return;
  LayoutClasses classes(count);
  for (int t = 0; t < count; ++t) {
    const Shape& s = t == input_id ? net.input_shape() : net.layer(t).output_shape();
    if (s.c % kChannelBlock != 0 || plan.root_channel[size_t(t)] % kChannelBlock != 0) classes.mark_plain(t);
    classes.unite(t, plan.root[size_t(t)]);
  }
  classes.mark_plain(input_id);
  for (int o : net.output_layers()) classes.mark_plain(o);
  for (int i = 0; i < net.size(); ++i) {
    const Layer& layer = net.layer(i);
    const bool computes = layer.output_kind() == OutputKind::compute && !plan.folded[size_t(i)];
    LayoutRule rule = computes ? onednn_kernels(layer).layout_rule(layer) : LayoutRule::same;
    if (rule == LayoutRule::any) continue;
    for (int in : layer.inputs()) {
      int t = in < 0 ? input_id : in;
      classes.unite(t, i);
      if (rule == LayoutRule::plain) classes.mark_plain(t);
    }
    if (rule == LayoutRule::plain) classes.mark_plain(i);
  }
  plan.blocked = classes.blocked();
}

// int8 executors: oneDNN 2.6's int8 convolutions take channels-last (nhwc)
// operands only. A class of tensors (one root buffer; the operands of a
// layer other than a convolution) is kept channels-last when every member is
// a whole dense tensor (no channel slice of a concat, no view into another
// shape), none is the network's input or an output, and every layer touching
// it takes channels-last operands (convolutions; shortcuts over equal
// shapes). Such classes leave the blocked layout.
void choose_channels_last(const Network& net, const ExecOptions& options, MemoryPlan& plan) {
  const int count = net.size() + 1, input_id = net.size();
  plan.channels_last.assign(size_t(count), false);
  if ((options.precision != Precision::int8 && options.precision != Precision::bf16) || !options.channels_last) return;
  LayoutClasses classes(count);
  auto shape_of = [&](int t) { return t == input_id ? net.input_shape() : net.layer(t).output_shape(); };
  for (int t = 0; t < count; ++t) {
    const int root = plan.root[size_t(t)];
    if (plan.root_channel[size_t(t)] != 0 || !(shape_of(t) == shape_of(root))) classes.mark_plain(t);
    classes.unite(t, root);
  }
  classes.mark_plain(input_id);
  for (int o : net.output_layers()) classes.mark_plain(o);
  for (int i = 0; i < net.size(); ++i) {
    const Layer& layer = net.layer(i);
    const bool computes = layer.output_kind() == OutputKind::compute && !plan.folded[size_t(i)];
    // Each side its own layout: convolutions, and the route copying an 8-bit
    // concatenation (it converts what it reads).
    if ((computes && layer.kind() == LayerKind::convolutional) || plan.int8_concatenation[size_t(i)]) continue;
    // Views and folded shortcuts run nothing; a concat's copies move NCHW
    // channel ranges, so a concat rules its operands out.
    const bool runs_nothing = layer.output_kind() == OutputKind::view || plan.folded[size_t(i)];
    const bool takes = runs_nothing || (computes && onednn_kernels(layer).takes_channels_last(layer));
    for (int in : layer.inputs()) {
      const int t = in < 0 ? input_id : in;
      classes.unite(t, i);
      if (!takes) classes.mark_plain(t);
    }
    if (!takes) classes.mark_plain(i);
  }
  plan.channels_last = classes.blocked();  // "no member ruled out"
  for (int t = 0; t < count; ++t)
    if (plan.channels_last[size_t(t)]) plan.blocked[size_t(t)] = false;
}

// int8 executors: a convolution's output stays 8-bit (the convolution
// requantizes it in its post-ops) when its buffer can hold 8 bits (see
// Int8Readers::can_hold_int8) and every reader of it or of its views takes
// 8 bits quantized alike (one threshold and signedness: int8 convolutions
// calibrated on the same tensor, concatenations copied in 8 bits for such
// convolutions, or max pools and upsamples whose own readers are such). So
// no reader needs it in floats. A concatenation copied in 8 bits is 8-bit
// when it is channels-last (its route converts whatever its inputs are); a
// max pool or upsample when its input is 8-bit at its readers' quantization
// (max and copies commute with quantizing).
void choose_int8_activations(const Network& net, const ExecOptions& options, MemoryPlan& plan) {
  const int count = net.size() + 1;
  plan.int8_scale.assign(static_cast<size_t>(count), 0.f);
  plan.int8_unsigned.assign(static_cast<size_t>(count), false);
  const QuantizationTable* table = options.quantization.get();
  if (options.precision != Precision::int8 || !options.int8_activations || !table) return;
  Int8Readers int8{net, options, *table, plan};
  int8.through_loops = true;
  for (int t = 0; t < net.size(); ++t) {
    if (!int8.can_hold_int8(t)) continue;
    const QuantizedInput* q = int8.common(int8.readers_through_views(t));
    if (!q) continue;
    bool writes = plan.int8_concatenation[size_t(t)] || int8.writes_int8(t);
    if (int8.moves_int8(t)) {  // its input was decided before it (layers run in order)
      const int in = net.layer(t).inputs().at(0);
      writes = in >= 0 && plan.int8_scale[size_t(in)] == q->scale() && plan.int8_unsigned[size_t(in)] == q->is_unsigned;
    }
    if (writes)
      for (int m : int8.members[size_t(t)]) set_int8(*q, m, plan);
  }
}

// int8 executors: a residual stream, the buffer a chain of fused shortcuts
// accumulates into (its first tensor, then per block the convolution adding
// into it and the shortcut it performs), is kept 8-bit when it is
// channels-last, every convolution writing it is int8 and can requantize,
// and every tensor the buffer holds in turn is read (other than by the
// shortcut folded into the next block) only by layers taking 8 bits quantized
// alike. Each of those tensors has its own scale: a convolution adding into
// the buffer reads the old value back with the residual's scale and
// requantizes the sum with the shortcut's.
void choose_int8_residual_streams(const Network& net, const ExecOptions& options, MemoryPlan& plan) {
  const QuantizationTable* table = options.quantization.get();
  if (options.precision != Precision::int8 || !options.int8_activations || !table) return;
  const Int8Readers int8{net, options, *table, plan};
  const std::vector<std::vector<int>> members = members_of(plan);
  for (int root = 0; root < net.size(); ++root) {
    const std::vector<int>& held = members[size_t(root)];
    const bool stream = std::any_of(held.begin(), held.end(), [&](int m) { return plan.accumulates_for[size_t(m)] >= 0; });
    if (plan.root[size_t(root)] != root || !stream || !plan.channels_last[size_t(root)] || !int8.writes_int8(root))
      continue;
    // Per tensor held: the quantization its readers share (an adding
    // convolution's tensor holds its shortcut's value: quantized as that).
    std::vector<const QuantizedInput*> quantization(size_t(net.size()), nullptr);
    bool narrow = true;
    for (int m : held) {
      narrow = narrow && plan.root_channel[size_t(m)] == 0 &&
               net.layer(m).output_shape() == net.layer(root).output_shape();
      if (plan.accumulates_for[size_t(m)] >= 0) {
        const Layer& shortcut = net.layer(plan.accumulates_for[size_t(m)]);
        Activation then = Activation::linear;
        onednn_kernels(shortcut).is_fusable_residual_sum(shortcut, &then);
        narrow = narrow && int8.writes_int8(m) && then != Activation::selu;  // see can_write_narrow
        continue;
      }
      std::vector<int> own_readers;  // not the shortcut folded into the next block
      for (int r : int8.readers[size_t(m)])
        if (!(plan.folded[size_t(r)] && plan.root[size_t(r)] == root)) own_readers.push_back(r);
      quantization[size_t(m)] = int8.common(own_readers);
      narrow = narrow && (m == root || plan.folded[size_t(m)]) && quantization[size_t(m)];
    }
    if (!narrow) continue;
    for (int m : held) {
      const int shortcut = plan.accumulates_for[size_t(m)];
      set_int8(*quantization[size_t(shortcut >= 0 ? shortcut : m)], m, plan);
    }
  }
}

// bf16 executors: tensors are bfloat16 in classes (union-find over root
// buffers, joined by the layers that run on bfloat16 operands: pooling,
// upsampling, unfused shortcuts; LayerKernels::runs_on_bf16). A class is
// bf16 when every layer writing into it is such a layer, a convolution that
// fuses all its post-ops, a view or a concatenation (the route copies what
// is not written in place, converting), nothing is accumulated into it
// (fused residual sums add in fp32), it holds neither the input nor an
// output, and every layer reading it is a convolution (bf16 convolutions
// read bf16: their f32 -> bf16 reorder goes away) or such a layer.
void choose_bf16_activations(const Network& net, const ExecOptions& options, MemoryPlan& plan) {
  const int count = net.size() + 1, input_id = net.size();
  plan.bf16.assign(static_cast<size_t>(count), false);
  if (options.precision != Precision::bf16 || !options.bf16_activations) return;
  LayoutClasses classes(count);  // "blocked" here: may be bfloat16
  for (int t = 0; t < count; ++t) classes.unite(t, plan.root[size_t(t)]);
  classes.mark_plain(input_id);
  for (int o : net.output_layers()) classes.mark_plain(o);
  for (int i = 0; i < net.size(); ++i) {
    const Layer& layer = net.layer(i);
    if (plan.folded[size_t(i)] || plan.accumulates_for[size_t(i)] >= 0 || plan.overwritten[size_t(i)]) {
      classes.mark_plain(i);
      continue;
    }
    if (layer.output_kind() != OutputKind::compute) continue;  // views and concatenations
    const LayerKernels& kernels = onednn_kernels(layer);
    if (layer.kind() == LayerKind::convolutional) {  // reads either type
      if (!kernels.can_write_narrow(layer, options)) classes.mark_plain(i);
      continue;
    }
    const bool on_bf16 = kernels.runs_on_bf16(layer);
    for (int in : layer.inputs()) {
      const int t = in < 0 ? input_id : in;
      if (on_bf16)
        classes.unite(t, i);
      else
        classes.mark_plain(t);
    }
    if (!on_bf16) classes.mark_plain(i);
  }
  plan.bf16 = classes.blocked();
}

// Each tensor's root buffer and channel offset in it. Memoised: a walk stops
// at the first tensor already resolved and then resolves the tensors it
// passed, so long chains of views cost linear time, not quadratic.
void resolve_roots(const std::vector<int>& parent, const std::vector<int64_t>& offset, MemoryPlan& plan) {
  const size_t count = parent.size();
  plan.root.assign(count, -1);
  plan.root_channel.assign(count, 0);
  std::vector<int> path;
  for (size_t t = 0; t < count; ++t) {
    int r = int(t);
    while (plan.root[size_t(r)] < 0 && parent[size_t(r)] >= 0) {
      path.push_back(r);
      r = parent[size_t(r)];
    }
    if (plan.root[size_t(r)] < 0) plan.root[size_t(r)] = r;  // a root itself, at channel 0
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      const size_t p = size_t(parent[size_t(*it)]);
      plan.root[size_t(*it)] = plan.root[p];
      plan.root_channel[size_t(*it)] = plan.root_channel[p] + offset[size_t(*it)];
    }
    path.clear();
  }
}

}  // namespace

MemoryPlan plan_memory(const Network& net, const ExecOptions& options) {
  const int count = net.size() + 1, input_id = net.size();
  const Shape input = net.input_shape();
  MemoryPlan plan;
  std::vector<int> parent(size_t(count), -1);
  std::vector<int64_t> offset(size_t(count), 0);
  place_tensors(net, options, parent, offset, plan);

  resolve_roots(parent, offset, plan);

  choose_layouts(net, options, plan);
  choose_channels_last(net, options, plan);
  choose_int8_activations(net, options, plan);
  choose_int8_residual_streams(net, options, plan);
  choose_bf16_activations(net, options, plan);

  // Lifetimes of root buffers in steps: the input is written at step 0,
  // layer i runs at step i+1.
  std::vector<int> start(size_t(count), kForever), end(size_t(count), -1);
  auto step_of = [&](int tensor) { return tensor == input_id ? 0 : tensor + 1; };
  for (int t = 0; t < count; ++t) {
    int r = plan.root[size_t(t)];
    start[size_t(r)] = std::min(start[size_t(r)], step_of(t));
    end[size_t(r)] = std::max(end[size_t(r)], step_of(t));
  }
  for (int i = 0; i < net.size(); ++i)
    for (int in : net.layer(i).inputs()) {
      int r = plan.root[size_t(in < 0 ? input_id : in)];
      end[size_t(r)] = std::max(end[size_t(r)], i + 1);
    }
  for (int out : net.output_layers()) end[size_t(plan.root[size_t(out)])] = kForever;
  if (!options.reuse_memory)
    for (auto& e : end) e = kForever;

  // Root buffers share slots of one arena (assign_slots).
  std::vector<int> roots;
  std::vector<LiveInterval> intervals;
  for (int t = 0; t < count; ++t)
    if (plan.root[size_t(t)] == t) {
      roots.push_back(t);
      const int64_t elements = tensor_shape(net, t, input).count();
      const int64_t floats = plan.int8_scale[size_t(t)] != 0.f ? (elements + 3) / 4
                             : plan.bf16[size_t(t)]                ? (elements + 1) / 2
                                                                   : elements;
      intervals.push_back({start[size_t(t)], end[size_t(t)], floats});
    }
  SlotAssignment slots = assign_slots(intervals);
  plan.slot.assign(size_t(count), -1);
  for (size_t k = 0; k < roots.size(); ++k) plan.slot[size_t(roots[k])] = slots.slot[k];
  plan.slot_floats = std::move(slots.slot_floats);
  plan.slot_offset = std::move(slots.slot_offset);
  plan.peak_bytes = slots.arena_floats * int64_t(sizeof(float));
  plan.naive_bytes = input.count() * int64_t(sizeof(float));
  for (int i = 0; i < net.size(); ++i) plan.naive_bytes += net.layer(i).output_shape().count() * int64_t(sizeof(float));
  return plan;
}

}  // namespace cspnet
