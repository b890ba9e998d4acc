// The quantization table as text: what `cspnet quantize` writes and an int8
// executor reads. Format (docs/quantization.md):
//   cspnet-quantization 1
//   layers 107
//   parameters_crc32 1a2b3c4d
//   method percentile 99.99
//   images 100
//   conv LAYER THRESHOLD signed|unsigned     (one per quantized convolution)
// '#' starts a comment; blank lines are skipped.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/quantization.hpp"

namespace cspnet {

namespace {

constexpr int kTableVersion = 1;
// A threshold beyond this is not an activation range but a broken table
// (the scale 127/T would underflow float's normal range long before).
constexpr float kMaxThreshold = 1e30f;
// At most this many layers (the network's own limit is far lower in practice).
constexpr int64_t kMaxLayers = 1 << 20;

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

class LineParser {
 public:
  LineParser(const std::string& path, int line, const std::string& text) : path_(path), line_(line), text_(text) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ":" + std::to_string(line_) + ": " + what + " (line '" + cfg_excerpt(text_) + "')");
  }
  int64_t integer(const std::string& word, const char* what, int64_t low, int64_t high) const {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (ec != std::errc() || end != word.data() + word.size())
      fail(std::string("expected ") + what + " as an integer, got '" + word + "'");
    if (value < low || value > high)
      fail(std::string(what) + " " + word + " is outside " + std::to_string(low) + ".." + std::to_string(high));
    return value;
  }
  float threshold(const std::string& word) const {
    char* end = nullptr;
    const float value = std::strtof(word.c_str(), &end);
    if (word.empty() || end != word.c_str() + word.size())
      fail("expected the threshold as a number, got '" + word + "'");
    if (!std::isfinite(value) || !(value > 0) || value > kMaxThreshold)
      fail("threshold " + word + " is not a finite number in (0, 1e30]");
    return value;
  }
  uint32_t crc(const std::string& word) const {
    uint32_t value = 0;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value, 16);
    if (word.size() != 8 || ec != std::errc() || end != word.data() + word.size())
      fail("expected parameters_crc32 as 8 hexadecimal digits, got '" + word + "'");
    return value;
  }

 private:
  const std::string& path_;
  int line_;
  const std::string& text_;
};

}  // namespace

const QuantizedInput* QuantizationTable::find(int layer) const {
  for (const QuantizedInput& q : inputs)
    if (q.layer == layer) return &q;
  return nullptr;
}

std::string quantization_table_text(const QuantizationTable& table) {
  std::ostringstream out;
  char line[160];
  out << "# cspnet int8 quantization table: written by `cspnet quantize`, read by --quantization\n";
  out << "cspnet-quantization " << kTableVersion << '\n';
  out << "layers " << table.layers << '\n';
  std::snprintf(line, sizeof line, "parameters_crc32 %08x\n", table.parameters_crc32);
  out << line;
  out << "method " << table.method << '\n';
  out << "images " << table.images << '\n';
  out << "# conv LAYER THRESHOLD signed|unsigned: the input clipped at |x| <= THRESHOLD\n";
  for (const QuantizedInput& q : table.inputs) {
    // %.9g: a float survives the round trip exactly.
    std::snprintf(line, sizeof line, "conv %d %.9g %s\n", q.layer, double(q.threshold),
                  q.is_unsigned ? "unsigned" : "signed");
    out << line;
  }
  return out.str();
}

void write_quantization_table(const std::string& path, const QuantizationTable& table) {
  write_file_atomically(path, quantization_table_text(table));
}

QuantizationTable parse_quantization_table(const std::string& text, const std::string& path) {
  QuantizationTable table;
  std::map<std::string, int> seen;  // header key -> line
  std::istringstream lines(text);
  std::string raw;
  int number = 0;
  while (std::getline(lines, raw)) {
    ++number;
    const std::string content = raw.substr(0, raw.find('#'));
    const std::vector<std::string> w = words_of(content);
    if (w.empty()) continue;
    const LineParser p(path, number, raw);
    const std::string& key = w[0];
    if (seen.empty() && key != "cspnet-quantization")
      p.fail("expected the first line 'cspnet-quantization " + std::to_string(kTableVersion) + "'");
    if (key == "conv") {
      if (w.size() != 4) p.fail("expected 'conv LAYER THRESHOLD signed|unsigned'");
      QuantizedInput q;
      q.layer = int(p.integer(w[1], "LAYER", 0, kMaxLayers - 1));
      q.threshold = p.threshold(w[2]);
      if (w[3] != "signed" && w[3] != "unsigned") p.fail("expected 'signed' or 'unsigned', got '" + w[3] + "'");
      q.is_unsigned = w[3] == "unsigned";
      if (!table.inputs.empty() && q.layer <= table.inputs.back().layer)
        p.fail("layer " + w[1] + " does not follow layer " + std::to_string(table.inputs.back().layer) +
               " (entries ascend, one per layer)");
      table.inputs.push_back(q);
      continue;
    }
    if (seen.count(key)) p.fail("'" + key + "' given again (first on line " + std::to_string(seen[key]) + ")");
    seen[key] = number;
    if (key == "cspnet-quantization") {
      if (w.size() != 2) p.fail("expected 'cspnet-quantization VERSION'");
      const int64_t version = p.integer(w[1], "the version", 0, 1 << 30);
      if (version != kTableVersion)
        p.fail("table version " + w[1] + " is not supported (this build reads version " +
               std::to_string(kTableVersion) + ")");
    } else if (key == "layers") {
      if (w.size() != 2) p.fail("expected 'layers COUNT'");
      table.layers = int(p.integer(w[1], "the layer count", 1, kMaxLayers));
    } else if (key == "parameters_crc32") {
      if (w.size() != 2) p.fail("expected 'parameters_crc32 HEX'");
      table.parameters_crc32 = p.crc(w[1]);
    } else if (key == "method") {
      if (w.size() == 2 && w[1] == "minmax") {
        table.method = "minmax";
      } else if (w.size() == 3 && w[1] == "percentile") {
        char* end = nullptr;
        const double pct = std::strtod(w[2].c_str(), &end);
        if (end != w[2].c_str() + w[2].size() || !(pct > 0 && pct <= 100))
          p.fail("expected a percentile in (0, 100], got '" + w[2] + "'");
        table.method = "percentile " + w[2];
      } else {
        p.fail("expected 'method minmax' or 'method percentile P'");
      }
    } else if (key == "images") {
      if (w.size() != 2) p.fail("expected 'images COUNT'");
      table.images = p.integer(w[1], "the image count", 1, int64_t{1} << 40);
    } else {
      p.fail("unknown key '" + key +
             "' (expected cspnet-quantization, layers, parameters_crc32, method, images or conv)");
    }
  }
  for (const char* key : {"cspnet-quantization", "layers", "parameters_crc32", "method", "images"})
    if (!seen.count(key)) throw Error(path + ": no '" + key + "' line: not a complete cspnet quantization table");
  if (table.inputs.empty()) throw Error(path + ": no 'conv' line: the table quantizes nothing");
  if (table.inputs.back().layer >= table.layers)
    throw Error(path + ": conv layer " + std::to_string(table.inputs.back().layer) + " is beyond the table's " +
                std::to_string(table.layers) + " layers");
  return table;
}

QuantizationTable read_quantization_table(const std::string& path) {
  return parse_quantization_table(read_text_file(path, "quantization table"), path);
}

void check_table(const QuantizationTable& table, Network& net, const std::string& origin) {
  if (table.layers != net.size())
    throw Error(origin + ": calibrated for a network of " + std::to_string(table.layers) + " layers; " + net.name() +
                " has " + std::to_string(net.size()));
  for (const QuantizedInput& q : table.inputs)
    if (q.layer < 0 || q.layer >= net.size() || net.layer(q.layer).kind() != LayerKind::convolutional)
      throw Error(origin + ": layer " + std::to_string(q.layer) + " of " + net.name() +
                  " is not a [convolutional] layer");
  const uint32_t crc = parameters_crc32(net);
  if (crc != table.parameters_crc32) {
    char text[96];
    std::snprintf(text, sizeof text, "parameters_crc32 %08x, the loaded weights have %08x", table.parameters_crc32,
                  crc);
    throw Error(origin + ": calibrated with other weights (" + text +
                "): run `cspnet quantize` with these weights");
  }
}

}  // namespace cspnet
