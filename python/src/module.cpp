// _cspnet: the nanobind extension behind `import cspnet`. Thin over the public
// C++ API (include/cspnet); the Python-facing names live in python/cspnet.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cspnet/analysis.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/detect.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/image.hpp"
#include "cspnet/layer.hpp"
#include "cspnet/network.hpp"
#include "cspnet/onnx_export.hpp"
#include "cspnet/quantization.hpp"
#include "cspnet/tensor.hpp"
#include "cspnet/trainer.hpp"
#include "cspnet/version.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/zoo.hpp"

namespace nb = nanobind;

namespace {

using cspnet::Error;

cspnet::Precision parse_precision(const std::string& name) {
  if (name == "fp32") return cspnet::Precision::fp32;
  if (name == "bf16") return cspnet::Precision::bf16;
  if (name == "int8") return cspnet::Precision::int8;
  throw nb::value_error(("precision must be \"fp32\", \"bf16\" or \"int8\", got \"" + name + "\"").c_str());
}

// A float32 NumPy array that owns the tensor's storage (no copy of outputs).
nb::ndarray<nb::numpy, float> to_numpy(cspnet::Tensor&& tensor) {
  const cspnet::Shape s = tensor.shape();
  auto* owned = new std::vector<float>(std::move(tensor.values()));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  const size_t shape[4] = {size_t(s.n), size_t(s.c), size_t(s.h), size_t(s.w)};
  return nb::ndarray<nb::numpy, float>(owned->data(), 4, shape, owner);
}

// Checks what a forward pass needs and says precisely what is wrong otherwise.
void check_input(const nb::ndarray<nb::ro>& x) {
  if (x.device_type() != nb::device::cpu::value) throw nb::value_error("input must be on the CPU");
  if (x.dtype() != nb::dtype<float>())
    throw nb::type_error("input must be float32 (convert with .astype(numpy.float32))");
  if (x.ndim() != 4)
    throw nb::value_error(("input must be 4-D NxCxHxW, got " + std::to_string(x.ndim()) + " dimensions").c_str());
  // Empty first: exporters may report any strides for an empty array.
  for (size_t d = 0; d < 4; ++d)
    if (x.shape(d) == 0) throw nb::value_error("input has an empty dimension");
  int64_t expected = 1;
  for (int d = 3; d >= 0; --d) {
    if (x.shape(size_t(d)) > 1 && x.stride(size_t(d)) != expected)
      throw nb::value_error("input must be C-contiguous (use numpy.ascontiguousarray)");
    expected *= int64_t(x.shape(size_t(d)));
  }
}

// A network with the executor that runs it, rebuilt when the options, the
// input geometry or the weights change. Held by pointer: the executor keeps a
// reference to the network.
class PyNetwork {
 public:
  explicit PyNetwork(cspnet::Network net) : net_(std::make_unique<cspnet::Network>(std::move(net))) {}

  static PyNetwork from_cfg(const std::string& path, std::optional<std::string> weights, std::optional<int> size) {
    cspnet::ParseOptions options;
    if (size) {
      if (*size <= 0) throw nb::value_error("size must be positive");
      options.width = options.height = *size;
    }
    PyNetwork net(cspnet::Network::from_cfg_file(path, options));
    if (weights) net.load_weights(*weights);
    return net;
  }

  void load_weights(const std::string& path) {
    cspnet::load_weights(*net_, path);
    executor_.reset();  // folded batchnorm and packed weights are stale
  }
  void save_weights(const std::string& path) { cspnet::save_weights(*net_, path); }
  void init_weights(uint64_t seed) {
    cspnet::init_weights(*net_, seed);
    executor_.reset();
  }

  // int8: the table from float32 NxCxHxW calibration images (one forward
  // per image at their size), kept for forward(precision="int8").
  nb::dict quantize(const nb::ndarray<nb::ro>& images, const std::string& method, double percentile) {
    check_input(images);
    const cspnet::Shape one{1, int64_t(images.shape(1)), int64_t(images.shape(2)), int64_t(images.shape(3))};
    if (one.c != net_->config().channels)
      throw nb::value_error(("images have " + std::to_string(one.c) + " channels, the network takes " +
                             std::to_string(net_->config().channels)).c_str());
    cspnet::CalibrationOptions options;
    if (method == "minmax")
      options.method = cspnet::CalibrationMethod::minmax;
    else if (method != "percentile")
      throw nb::value_error(("method must be \"percentile\" or \"minmax\", got \"" + method + "\"").c_str());
    if (!(percentile > 0 && percentile <= 100)) throw nb::value_error("percentile must be in (0, 100]");
    options.percentile = percentile;
    const auto* data = static_cast<const float*>(images.data());
    const int64_t count = int64_t(images.shape(0));
    {
      nb::gil_scoped_release release;
      executor_.reset();
      net_->reshape(int(one.w), int(one.h), 1);
      auto image = [&](int64_t i) {
        cspnet::Tensor t(one);
        std::memcpy(t.data(), data + i * one.per_image(), size_t(one.per_image()) * sizeof(float));
        return t;
      };
      table_ = std::make_shared<const cspnet::QuantizationTable>(cspnet::calibrate(*net_, count, image, options));
    }
    nb::dict d;
    d["convolutions"] = table_->inputs.size();
    d["method"] = table_->method;
    d["images"] = table_->images;
    return d;
  }
  void save_quantization(const std::string& path) const {
    if (!table_) throw nb::value_error("no quantization table: call quantize() or load_quantization() first");
    cspnet::write_quantization_table(path, *table_);
  }
  void load_quantization(const std::string& path) {
    table_ = std::make_shared<const cspnet::QuantizationTable>(cspnet::read_quantization_table(path));
    executor_.reset();
  }

  nb::dict info() const {
    nb::dict d;
    d["name"] = net_->name();
    d["layers"] = net_->size();
    d["params"] = net_->parameter_count();
    d["bflops"] = net_->bflops();
    d["memory"] = cspnet::plan_memory(*net_, cspnet::ExecOptions{}).peak_bytes;
    const cspnet::Shape in = net_->input_shape();
    d["input"] = std::make_tuple(in.c, in.h, in.w);
    return d;
  }

  std::vector<nb::ndarray<nb::numpy, float>> forward(const nb::ndarray<nb::ro>& x, std::optional<int> threads,
                                                     const std::string& precision) {
    check_input(x);
    const cspnet::Shape shape{int64_t(x.shape(0)), int64_t(x.shape(1)), int64_t(x.shape(2)), int64_t(x.shape(3))};
    if (shape.c != net_->config().channels)
      throw nb::value_error(("input has " + std::to_string(shape.c) + " channels, the network takes " +
                             std::to_string(net_->config().channels)).c_str());
    if (threads && *threads <= 0) throw nb::value_error("threads must be positive");
    // The array is read in place into the executor's planned input buffer;
    // `x` holds a reference to it while the GIL is released.
    const auto* input = static_cast<const float*>(x.data());
    std::vector<cspnet::Tensor> outputs;
    {
      nb::gil_scoped_release release;
      if (threads) cspnet::set_num_threads(*threads);
      cspnet::Executor& executor = prepare(shape, parse_precision(precision));
      outputs = executor.forward(input, shape);
    }
    std::vector<nb::ndarray<nb::numpy, float>> arrays;
    for (auto& t : outputs) arrays.push_back(to_numpy(std::move(t)));
    return arrays;
  }

  // image: HxWxC uint8, RGB channel order (PIL's; flip OpenCV's BGR first).
  std::vector<std::tuple<int, float, std::tuple<float, float, float, float>>> detect(
      const nb::ndarray<nb::ro>& image, float threshold, float nms) {
    const cspnet::Tensor rgb = image_tensor(image);
    const int width = net_->config().width, height = net_->config().height;
    const cspnet::Tensor input =
        cspnet::match_channels(cspnet::letterbox_image(rgb, width, height), net_->config().channels);
    std::vector<cspnet::Detection> found;
    {
      nb::gil_scoped_release release;
      std::vector<cspnet::Tensor> outputs = prepare(input.shape(), cspnet::Precision::fp32).forward(input);
      found = cspnet::non_max_suppression(
          cspnet::decode_yolo(*net_, outputs, 0, int(rgb.shape().w), int(rgb.shape().h), threshold), nms);
    }
    std::vector<std::tuple<int, float, std::tuple<float, float, float, float>>> result;
    for (const auto& d : found) result.emplace_back(d.best_class, d.score, std::make_tuple(d.x, d.y, d.w, d.h));
    return result;
  }

  // top-1/top-5 and loss of a classifier on a data source (as `cspnet eval`).
  nb::dict evaluate(const std::string& data, const std::string& split, int batch, int64_t limit) {
    if (split != "test" && split != "train") throw nb::value_error("split must be \"test\" or \"train\"");
    if (batch <= 0) throw nb::value_error("batch must be positive");
    if (limit < 0) throw nb::value_error("limit must be non-negative");
    executor_.reset();  // evaluate reshapes the network to its batch
    cspnet::EvalReport report;
    {
      nb::gil_scoped_release release;
      const cspnet::NetConfig& c = net_->config();
      auto source = cspnet::make_data_source(data, split == "train", c.channels, c.height, c.width);
      report = cspnet::evaluate(*net_, *source, batch, limit);
    }
    nb::dict d;
    d["images"] = report.images;
    d["loss"] = report.loss;
    d["top1"] = report.top1;
    d["top5"] = report.top5;
    d["class_names"] = report.class_names;
    d["predictions"] = report.predictions;
    return d;
  }

  // The paper's per-stage figures (as `cspnet analyze`).
  nb::dict analyze(int runs, int training_batch) {
    if (runs < 0 || training_batch < 0) throw nb::value_error("runs and training_batch must be non-negative");
    executor_.reset();  // analysis measures at batch 1
    cspnet::NetworkFigures f;
    {
      nb::gil_scoped_release release;
      f = cspnet::analyze(*net_, cspnet::AnalysisOptions{runs, training_batch});
    }
    nb::list stages;
    for (const auto& stage : f.stages) stages.append(stage_dict(stage));
    nb::dict d;
    d["name"] = f.name;
    d["width"] = f.width;
    d["height"] = f.height;
    d["stages"] = stages;
    d["total"] = stage_dict(f.total);
    d["inference_peak_bytes"] = f.inference_peak_bytes;
    d["training_batch"] = f.training_batch;
    d["training_bytes"] = f.training_bytes;
    return d;
  }

  // Writes the network at its current input size and batch as ONNX (as `cspnet export`).
  void export_onnx(const std::string& path, int opset, bool dynamic_batch, bool fold_bn, bool yolo_decode) {
    cspnet::OnnxExportOptions options;
    options.opset = opset;
    options.dynamic_batch = dynamic_batch;
    options.fold_bn = fold_bn;
    options.yolo_decode = yolo_decode;
    nb::gil_scoped_release release;
    cspnet::export_onnx(*net_, path, options);
  }

  bool is_detector() const { return cspnet::is_detector(*net_); }

 private:
  cspnet::Executor& prepare(const cspnet::Shape& shape, cspnet::Precision precision) {
    const bool geometry_changed = shape.n != net_->batch() || shape.h != net_->config().height ||
                                  shape.w != net_->config().width;
    if (geometry_changed) {
      executor_.reset();
      net_->reshape(int(shape.w), int(shape.h), int(shape.n));
    }
    if (precision == cspnet::Precision::int8 && !table_)
      throw nb::value_error("precision \"int8\" needs a quantization table: call quantize() or load_quantization()");
    if (!executor_ || precision_ != precision) {
      executor_.reset();
      cspnet::ExecOptions options;
      options.precision = precision;
      if (precision == cspnet::Precision::int8) options.quantization = table_;
      executor_ = std::make_unique<cspnet::Executor>(*net_, options);
      precision_ = precision;
    }
    return *executor_;
  }

  static nb::dict stage_dict(const cspnet::StageFigures& s) {
    nb::dict d;
    d["name"] = s.name;
    d["first_layer"] = s.first_layer;
    d["last_layer"] = s.last_layer;
    d["parameters"] = s.parameters;
    d["conv_weights"] = s.conv_weights;
    d["bflops"] = s.bflops;
    d["cio"] = s.cio;
    d["time_ms"] = s.time_ms;
    return d;
  }

  static cspnet::Tensor image_tensor(const nb::ndarray<nb::ro>& image) {
    if (image.device_type() != nb::device::cpu::value) throw nb::value_error("image must be on the CPU");
    if (image.dtype() != nb::dtype<uint8_t>()) throw nb::type_error("image must be uint8 HxWxC");
    if (image.ndim() != 3 || (image.shape(2) != 3 && image.shape(2) != 1))
      throw nb::value_error("image must be HxWxC with C = 3 (RGB) or 1 (grey)");
    const int64_t h = int64_t(image.shape(0)), w = int64_t(image.shape(1)), c = int64_t(image.shape(2));
    if (h == 0 || w == 0) throw nb::value_error("image is empty");
    const auto* pixels = static_cast<const uint8_t*>(image.data());
    cspnet::Tensor t(cspnet::Shape{1, 3, h, w});
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t k = 0; k < 3; ++k) {
          const int64_t offset = y * image.stride(0) + x * image.stride(1) + (c == 3 ? k : 0) * image.stride(2);
          t.at(0, k, y, x) = pixels[offset] / 255.f;  // as load_image_rgb
        }
    return t;
  }

  std::unique_ptr<cspnet::Network> net_;
  std::unique_ptr<cspnet::Executor> executor_;
  cspnet::Precision precision_ = cspnet::Precision::fp32;
  std::shared_ptr<const cspnet::QuantizationTable> table_;  // int8: from quantize() or load_quantization()
};

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const auto& m : cspnet::zoo_models()) names.push_back(m.name);
  return names;
}

// cspnet::train with a Python per-step callback: it gets a dict (step,
// total_steps, epoch, loss, lr, images_per_second) and stops the run by
// returning False. The GIL is released while training and taken per call; an
// exception in the callback stops the run and is raised afterwards.
nb::dict train(const std::string& cfg, const std::string& data, int64_t epochs, int64_t max_batches,
               const std::string& out, uint64_t seed, const std::string& weights, int64_t eval_limit, bool exist_ok,
               nb::object callback) {
  cspnet::TrainOptions options;
  options.cfg = cfg;
  options.data = data;
  options.epochs = epochs;
  options.max_batches = max_batches;
  options.out_dir = out;
  options.seed = seed;
  options.weights = weights;
  options.eval_limit = eval_limit;
  options.exist_ok = exist_ok;
  bool callback_raised = false;
  if (!callback.is_none()) {
    options.on_step = [&](const cspnet::StepReport& r) {
      nb::gil_scoped_acquire acquire;
      try {
        nb::dict report;
        report["step"] = r.step;
        report["total_steps"] = r.total_steps;
        report["epoch"] = r.epoch;
        report["loss"] = r.loss;
        report["lr"] = r.lr;
        report["images_per_second"] = r.images_per_second;
        nb::object verdict = callback(report);
        return !(verdict.is(nb::bool_(false)));
      } catch (nb::python_error& error) {
        error.restore();
        callback_raised = true;
        return false;
      }
    };
  }
  cspnet::TrainSummary summary;
  {
    nb::gil_scoped_release release;
    summary = cspnet::train(options, std::cout);
  }
  if (callback_raised) throw nb::python_error();
  nb::dict d;
  d["steps"] = summary.steps;
  d["epochs"] = summary.epochs;
  d["seconds"] = summary.seconds;
  d["images_per_second"] = summary.images_per_second;
  d["test_loss"] = summary.test_loss;
  d["test_top1"] = summary.test_top1;
  d["weights"] = summary.weights_path;
  d["checkpoint"] = summary.checkpoint_path;
  d["log"] = summary.log_path;
  d["interrupted"] = summary.interrupted;
  return d;
}

}  // namespace

NB_MODULE(_cspnet, m) {
  m.doc() = "cspnet: Cross Stage Partial Networks (darknet-compatible), the C++ library's Python binding";
  nb::exception<cspnet::Error>(m, "Error", PyExc_RuntimeError);
  m.def("version", [] { return std::string(cspnet::version()); }, "The library's version string.");
  m.def("set_num_threads", &cspnet::set_num_threads, nb::arg("threads"), "Sets the compute threads (OpenMP).");
  m.def("num_threads", &cspnet::num_threads, "The compute threads in use.");
  m.def("zoo_list", &zoo_names, "Names of the zoo's models.");
  m.def("zoo_build", [](const std::string& name) { return PyNetwork(cspnet::zoo_network(name)); }, nb::arg("name"),
        "Builds a zoo model (untrained: call init_weights or load_weights).");

  m.def("train", &train, nb::arg("cfg"), nb::arg("data") = "fashion-mnist", nb::arg("epochs") = 0,
        nb::arg("max_batches") = 0, nb::arg("out") = "out/train", nb::arg("seed") = 1, nb::arg("weights") = "",
        nb::arg("eval_limit") = 0, nb::arg("exist_ok") = false, nb::arg("callback") = nb::none(),
        "Trains a classifier as `cspnet train` does; callback(report) returning False stops it. Returns a summary dict.");

  nb::class_<PyNetwork>(m, "Network", "A darknet-compatible network with its executor.")
      .def_static("from_cfg", &PyNetwork::from_cfg, nb::arg("path"), nb::arg("weights") = nb::none(),
                  nb::arg("size") = nb::none(),
                  "Parses a darknet .cfg; optionally loads .weights and sets a square input side.")
      .def("load_weights", &PyNetwork::load_weights, nb::arg("path"), "Loads darknet .weights.")
      .def("save_weights", &PyNetwork::save_weights, nb::arg("path"), "Saves darknet .weights.")
      .def("init_weights", &PyNetwork::init_weights, nb::arg("seed"),
           "Random parameters, as `cspnet predict` does without --weights.")
      .def("quantize", &PyNetwork::quantize, nb::arg("images").noconvert(), nb::arg("method") = "percentile",
           nb::arg("percentile") = 99.99,
           "Calibrates int8 inference on float32 NxCxHxW images (as `cspnet quantize`); then precision=\"int8\".")
      .def("save_quantization", &PyNetwork::save_quantization, nb::arg("path"),
           "Writes the int8 table (the `cspnet quantize` format).")
      .def("load_quantization", &PyNetwork::load_quantization, nb::arg("path"),
           "Reads an int8 table written by `cspnet quantize` or save_quantization().")
      .def("info", &PyNetwork::info, "A dict: name, layers, params, bflops, memory (bytes), input (C, H, W).")
      .def("forward", &PyNetwork::forward, nb::arg("x").noconvert(), nb::arg("threads") = nb::none(),
           nb::arg("precision") = "fp32",
           "Runs a float32 C-contiguous NxCxHxW array; returns the output layers' arrays.")
      .def("__call__", &PyNetwork::forward, nb::arg("x").noconvert(), nb::arg("threads") = nb::none(),
           nb::arg("precision") = "fp32", "Same as forward().")
      .def("evaluate", &PyNetwork::evaluate, nb::arg("data") = "fashion-mnist", nb::arg("split") = "test",
           nb::arg("batch") = 200, nb::arg("limit") = 0,
           "Classifier accuracy on a data source: {images, loss, top1, top5, class_names, predictions}.")
      .def("analyze", &PyNetwork::analyze, nb::arg("runs") = 0, nb::arg("training_batch") = 0,
           "Per-stage parameters, conv weights, BFLOPs, CIO, time; planned memory (as `cspnet analyze`).")
      .def("export_onnx", &PyNetwork::export_onnx, nb::arg("path"), nb::arg("opset") = 17,
           nb::arg("dynamic_batch") = false, nb::arg("fold_bn") = false, nb::arg("yolo_decode") = false,
           "Writes the network at its current input size and batch as an ONNX model.")
      .def("is_detector", &PyNetwork::is_detector, "Whether the first output is a [yolo] head.")
      .def("detect", &PyNetwork::detect, nb::arg("image").noconvert(), nb::arg("threshold"), nb::arg("nms"),
           "Detections of a uint8 HxWxC RGB image.");
}
