// The cspnet command-line tool. Errors are caught here, once: exit 1 for a
// runtime error, 2 for a usage error.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <tuple>

#include "analyze_commands.hpp"
#include "bench.hpp"
#include "cli_parse.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/distributed.hpp"
#include "cspnet/progress.hpp"
#include "cspnet/suggest.hpp"
#include "demo_command.hpp"
#include "detector_commands.hpp"
#include "gradients_command.hpp"
#include "export_command.hpp"
#include "quantize_command.hpp"
#include "import_command.hpp"
#include "partial_command.hpp"
#include "predict_command.hpp"
#include "train_commands.hpp"
#include "zoo_commands.hpp"

namespace {

using namespace cspnet;
using cli::non_negative_number;
using cli::positive_number;

struct CommonOptions {
  std::string cfg;
  std::string size;  // WxH
  int batch = 1;
  bool strict = false;
};

void add_common(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("cfg", o.cfg, "darknet .cfg file or a zoo model name (cspnet zoo lists them)")->required();
  cmd.add_option("--size", o.size, "input size WxH (default: the cfg's)");
  cmd.add_option("--batch", o.batch, "batch size")->check(positive_number());
  cmd.add_flag("--strict", o.strict, "unknown or unused cfg keys are errors");
}

Network load_network(const CommonOptions& o) {
  ParseOptions parse;
  parse.strict = o.strict;
  parse.batch = o.batch;
  if (!o.size.empty()) std::tie(parse.width, parse.height) = cli::parse_size(o.size);  // before the cfg: misuse is exit 2
  if (!std::filesystem::exists(o.cfg) && cli::is_zoo_name(o.cfg)) {
    Network net = cli::load_cfg_or_zoo(o.cfg, parse.width, parse.height);
    net.reshape(int(net.input_shape().w), int(net.input_shape().h), o.batch);
    return net;
  }
  Network net = Network::from_cfg_file(o.cfg, parse);
  for (const auto& warning : net.warnings()) std::cerr << "warning: " << warning << "\n";
  return net;
}

std::string dims(const Shape& s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%4lld x%4lld x%5lld", (long long)s.w, (long long)s.h, (long long)s.c);
  return buf;
}

int run_info(const CommonOptions& o, bool json) {
  Network net = load_network(o);
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  if (json) {
    nlohmann::json j;
    j["name"] = net.name();
    j["input"] = {net.input_shape().n, net.input_shape().c, net.input_shape().h, net.input_shape().w};
    for (int i = 0; i < net.size(); ++i) {
      const Layer& l = net.layer(i);
      const Shape& out = l.output_shape();
      j["layers"].push_back({{"index", i},
                             {"type", std::string(l.type())},
                             {"filters", l.filters()},
                             {"geometry", l.geometry()},
                             {"inputs", l.inputs()},
                             {"output", {out.c, out.h, out.w}},
                             {"parameters", l.parameter_count()},
                             {"bflops", l.bflops()}});
    }
    j["parameters"] = net.parameter_count();
    j["conv_weights"] = net.conv_weight_count();
    j["bflops"] = net.bflops();
    j["conv_bflops"] = net.conv_bflops();
    j["peak_activation_bytes"] = plan.peak_bytes;
    j["naive_activation_bytes"] = plan.naive_bytes;
    j["zero_copy_route_inputs"] = plan.zero_copy_inputs;
    j["copied_route_inputs"] = plan.copied_inputs;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s: input %s, batch %d\n", o.cfg.c_str(), dims(net.input_shape()).c_str(), net.batch());
  std::printf("   layer   type            filters  size/strd(dil)        input                output     BFLOPs\n");
  for (int i = 0; i < net.size(); ++i) {
    const Layer& l = net.layer(i);
    const int in = l.inputs().empty() ? -1 : l.inputs()[0];
    const Shape& in_shape = in < 0 ? net.input_shape() : net.layer(in).output_shape();
    std::string filters = l.filters() ? std::to_string(l.filters()) : "";
    std::printf("%8d %-15s %7s  %-16s %s -> %s %8.3f\n", i, std::string(l.type()).c_str(), filters.c_str(),
                l.geometry().c_str(), dims(in_shape).c_str(), dims(l.output_shape()).c_str(), l.bflops());
  }
  std::printf("Total BFLOPS %.3f (convolutions %.3f)\n", net.bflops(), net.conv_bflops());
  std::printf("Parameters %lld (convolution weights %lld)\n", (long long)net.parameter_count(),
              (long long)net.conv_weight_count());
  std::printf("Activation memory: planned peak %.2f MiB, unplanned sum %.2f MiB (%.1fx less); route inputs "
              "zero-copy %d, copied %d\n",
              plan.peak_bytes / 1048576.0, plan.naive_bytes / 1048576.0,
              double(plan.naive_bytes) / double(std::max<int64_t>(plan.peak_bytes, 1)), plan.zero_copy_inputs,
              plan.copied_inputs);
  return 0;
}

int run_init(CommonOptions o, const std::string& out, uint64_t seed) {
  Network net = load_network(o);
  init_weights(net, seed);
  save_weights(net, out);
  std::printf("wrote %s: %lld parameters, seed %llu\n", out.c_str(), (long long)net.parameter_count(),
              (unsigned long long)seed);
  return 0;
}

}  // namespace

// After a parse error: the first word that names no command where one was
// expected ("cspnet infp"), with the closest command name; empty if the
// error is something else.
std::string unknown_command_message(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    const std::string previous = argv[i - 1];
    if (previous.size() > 1 && previous[0] == '-' && previous.find('=') == std::string::npos) continue;  // its value
    std::vector<std::string> names;
    for (CLI::App* sub : current->get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (names.empty()) return "";  // a command's own arguments from here on
    const auto found = std::find(names.begin(), names.end(), word);
    if (found != names.end()) {
      current = current->get_subcommand(word);
      continue;
    }
    std::string message = "unknown command '" + word + "'";
    if (const std::string guess = closest_match(word, names); !guess.empty()) message += "; did you mean '" + guess + "'?";
    return message + " (cspnet" + (current == &app ? "" : " " + current->get_name()) + " --help lists them)";
  }
  return "";
}

// The deepest subcommand the command line selected.
CLI::App* selected_leaf(CLI::App& app) {
  CLI::App* current = &app;
  for (;;) {
    const auto chosen = current->get_subcommands();
    if (chosen.empty()) return current;
    current = chosen.front();
  }
}

// `cspnet --seed 3 train ...` (or a --seed the verb's own option did not
// take): the verb's --seed gets it, by parsing again with the option at the
// end, where the verb sees it first. Returns the exit code when parsing fails
// again.
std::optional<int> apply_global_seed(CLI::App& app, int argc, char** argv) {
  CLI::App* leaf = selected_leaf(app);
  const CLI::Option* own = leaf == &app ? nullptr : leaf->get_option_no_throw("--seed");
  if (own == nullptr) {
    std::cerr << "cspnet: note: --seed has no effect on '" << leaf->get_name() << "' (it makes no random choice)\n";
    return std::nullopt;
  }
  if (own->count() > 0) return std::nullopt;  // the verb's own --seed wins
  std::vector<std::string> args(argv + 1, argv + argc);
  args.push_back("--seed");
  args.push_back(app.get_option("--seed")->as<std::string>());
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  app.clear();
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

int main(int argc, char** argv) {
  CLI::App app{"cspnet: Cross Stage Partial Networks on the CPU (darknet .cfg/.weights compatible)"};
  app.set_version_flag("--version", std::string("cspnet ") + version() +
                                        (built_with_mpi() ? " (with MPI)" : " (without MPI)"));
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "threads for oneDNN and our kernels (default: all cores)")
      ->check(positive_number());
  bool quiet = false;
  app.add_flag("--quiet,-q", quiet, "no progress lines (results and summaries still print)");
  uint64_t global_seed = 0;
  app.add_option("--seed", global_seed, "seed for the command's random choices (for a verb that has its own --seed)");
  // Global flags anywhere: `cspnet train CFG --threads 2` as well as
  // `cspnet --threads 2 train CFG`. Subcommands inherit fallthrough when made.
  app.fallthrough();

  CommonOptions info_opts, predict_opts, init_opts;
  bool json = false;
  auto* info = app.add_subcommand("info", "per-layer table, parameters, BFLOPs, planned memory");
  add_common(*info, info_opts);
  info->add_flag("--json", json, "machine-readable output");

  std::string init_out;
  uint64_t seed = 1;
  cli::PredictOptions predict_cfg;
  auto* predict = app.add_subcommand(
      "predict", "classify images, or detect objects with a [yolo] network (boxes, JSON, annotated PNGs)");
  add_common(*predict, predict_opts);
  cli::add_predict_options(*predict, predict_cfg);

  auto* init = app.add_subcommand("init", "write deterministic random .weights for a cfg");
  add_common(*init, init_opts);
  init->add_option("out", init_out, "output .weights")->required();
  init->add_option("--seed", seed, "random seed");

  CommonOptions bench_opts;
  cli::BenchOptions bench_cfg;
  std::string compare;
  bool no_fold = false, no_fuse = false, no_zero_copy = false;
  auto* bench = app.add_subcommand("bench", "time inference (or --train: training steps): median/min/max, images/s");
  add_common(*bench, bench_opts);
  bench->add_flag("--train", bench_cfg.train, "time SGD training steps (forward, loss, backward, update)");
  bench->add_option("--weights", bench_cfg.weights, "darknet .weights (default: random, seed 1)");
  bench->add_option("--runs", bench_cfg.runs, "timed runs")->check(positive_number());
  bench->add_option("--warmup", bench_cfg.warmup, "untimed warm-up runs")->check(non_negative_number());
  bench->add_flag("--layers", bench_cfg.per_layer, "per-layer time table (waits after every layer)");
  bench->add_option("--compare", compare, "also time a peer in the same process")->check(CLI::IsMember({"opencv"}));
  std::string precision = "fp32", quantization;
  bench->add_option("--precision", precision, cli::kPrecisionHelp)->check(CLI::IsMember(cli::kPrecisions));
  bench->add_option("--quantization", quantization, cli::kQuantizationHelp);
  bench->add_option("--accuracy-inputs", bench_cfg.accuracy_inputs,
                    "random inputs for the bf16, int8 or Winograd vs direct fp32 check")
      ->check(positive_number());
  bench->add_option("--boxes", bench_cfg.boxes_per_image, "--train on a detector: random truth boxes per image")
      ->check(positive_number());
  bench->add_option("--dump-batch", bench_cfg.dump_batch,
                    "--train: write the input (PREFIX.npy) and the boxes (PREFIX.json) of the timed batch");
  bool no_blocked = false;
  bench->add_flag("--no-blocked", no_blocked, "keep every activation in plain NCHW (inference and --train)");
  bool no_residual = false;
  bench->add_flag("--no-fuse-residual", no_residual, "run every shortcut as its own kernel");
  bench->add_flag("--no-fold-bn", no_fold, "keep batch norm as its own primitive");
  bench->add_flag("--no-fuse", no_fuse, "no activation post-ops");
  bench->add_flag("--no-zero-copy", no_zero_copy, "copy route inputs instead of writing in place");
  bool no_winograd = false;
  bench->add_flag("--no-winograd", no_winograd, "direct convolutions only (no Winograd 3x3, inference and --train)");
  bool no_small_groups = false;
  bench->add_flag("--no-small-groups", no_small_groups,
                  "grouped convolutions of 2-8 channels per group on oneDNN's kernels, not cspnet's own loop");
  bool fp32_activations = false;
  bench->add_flag("--fp32-activations", fp32_activations,
                  "--precision bf16/int8: every layer writes fp32 (the next convolution converts it again)");

  cli::ZooCommands zoo_commands;
  zoo_commands.add_to(app);
  cli::TrainCommands train_commands;
  train_commands.add_to(app);
  cli::AnalyzeCommand analyze_command;
  analyze_command.add_to(app);
  cli::DetectorCommands detector_commands;
  detector_commands.add_to(app);
  cli::PartialCommand partial_command;
  partial_command.add_to(app);
  cli::GradientsCommand gradients_command;
  gradients_command.add_to(app);
  cli::DemoCommand demo_command;
  demo_command.add_to(app);
  cli::ExportCommand export_command;
  export_command.add_to(app);
  cli::ImportCommand import_command;
  import_command.add_to(app);
  cli::QuantizeCommand quantize_command;
  quantize_command.add_to(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0)
      if (const std::string message = unknown_command_message(app, argc, argv); !message.empty()) {
        std::cerr << "cspnet: usage error: " << message << "\n";
        return 2;
      }
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (app.count("--seed") > 0) {
    if (const std::optional<int> code = apply_global_seed(app, argc, argv)) return *code;
  }
  set_progress_quiet(quiet);
  // scripts/check-docs.sh: the documented commands that take minutes to hours
  // are checked for verbs, flags and values without running them.
  if (const char* check = std::getenv("CSPNET_CHECK_ARGS"); check != nullptr && std::string(check) == "1") {
    std::cout << "cspnet: arguments of '" << selected_leaf(app)->get_name() << "' OK (CSPNET_CHECK_ARGS=1: not run)\n";
    return 0;
  }
  try {
    // MPI (data-parallel training under mpirun) for the process's lifetime.
    DistributedSession distributed(argc, argv);
    if (threads != 0) set_num_threads(threads);
    if (threads > hardware_threads())
      std::cerr << "warning: --threads " << threads << " is more than the " << hardware_threads()
                << " hardware threads; oversubscribed threads only slow oneDNN and OpenMP down\n";
    if (*info) return run_info(info_opts, json);
    if (*predict) {
      predict_opts.batch = 1;  // one image at a time, one executor for all
      Network net = load_network(predict_opts);
      return cli::run_predict(net, predict_cfg);
    }
    if (*init) return run_init(init_opts, init_out, seed);
    if (zoo_commands.selected()) return zoo_commands.run();
    if (train_commands.selected()) return train_commands.run();
    if (analyze_command.selected()) return analyze_command.run();
    if (detector_commands.selected()) return detector_commands.run();
    if (partial_command.selected()) return partial_command.run();
    if (gradients_command.selected()) return gradients_command.run();
    if (demo_command.selected()) return demo_command.run();
    if (export_command.selected()) return export_command.run();
    if (quantize_command.selected()) return quantize_command.run();
    if (import_command.selected()) return import_command.run();
    if (*bench) {
      Network net = load_network(bench_opts);
      bench_cfg.cfg_path = bench_opts.cfg;
      bench_cfg.compare_opencv = compare == "opencv";
      bench_cfg.exec.fold_batchnorm = !no_fold;
      bench_cfg.exec.fuse_activation = !no_fuse;
      bench_cfg.exec.zero_copy_concat = !no_zero_copy;
      bench_cfg.exec.blocked_layout = !no_blocked;
      bench_cfg.exec.fuse_residual = !no_residual;
      bench_cfg.exec.winograd = !no_winograd;
      bench_cfg.exec.small_group_kernel = !no_small_groups;
      bench_cfg.exec.int8_activations = bench_cfg.exec.bf16_activations = !fp32_activations;
      bench_cfg.precision = precision;
      bench_cfg.quantization = quantization;
      return cli::run_bench(net, bench_cfg);
    }
  } catch (const UsageError& e) {
    std::cerr << "cspnet: usage error: " << e.what() << "\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "cspnet: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cspnet: error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
