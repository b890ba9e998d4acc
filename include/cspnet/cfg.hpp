#pragma once
// Darknet .cfg text: sections of key=value lines, plus a typed reader that
// remembers which keys a layer consumed so unused keys can be reported.
#include <cstdint>
#include <string>
#include <vector>

namespace cspnet {

struct CfgEntry {
  std::string key;
  std::string value;
  int line = 0;
  // Where a value not read from the cfg file came from (e.g. "--set"), named
  // in messages instead of file:line; empty for the file's own lines.
  std::string origin;
};

struct CfgSection {
  std::string name;  // without brackets, lower-case as written
  int line = 0;
  std::vector<CfgEntry> entries;
  std::string comment;  // written as '# ...' lines before the section; never parsed back
};

struct CfgFile {
  std::string path;  // used in every message
  std::vector<CfgSection> sections;
};

// Parses darknet cfg text: '#' and ';' start comments, whitespace inside a
// line is ignored (darknet strips it), every non-section line needs '='.
CfgFile parse_cfg_text(const std::string& text, const std::string& path);
CfgFile read_cfg_file(const std::string& path);

// A cfg value, key, name or line as quoted in a message: whole up to
// kCfgExcerptChars, else its first kCfgExcerptChars characters and "..."
// (a 200 MB line must not be echoed whole).
constexpr size_t kCfgExcerptChars = 80;
std::string cfg_excerpt(const std::string& text);

// "a,b," -> {"a", "b", ""}; "" -> {}. The one splitter of comma lists.
std::vector<std::string> split_commas(const std::string& text);

// Darknet cfg text for a parsed or generated cfg: one '[section]' per
// section, its comment as '#' lines before it, 'key=value' per entry.
// parse_cfg_text(format_cfg(cfg)) gives back the same sections and entries.
std::string format_cfg(const CfgFile& cfg);
// Writes format_cfg(cfg) through a temporary file that is renamed into place,
// so a failed write never leaves a partial cfg behind.
void write_cfg_file(const CfgFile& cfg, const std::string& path);

// Typed, usage-tracking access to one section's keys. Every error names
// file:line, the section, the key and what was expected.
class Options {
 public:
  Options(const CfgSection& section, const std::string& path);

  bool has(const std::string& key) const;
  int get_int(const std::string& key, int fallback);
  int require_int(const std::string& key);
  float get_float(const std::string& key, float fallback);
  // Wider types for training keys (learning-rate schedule, run length) that
  // the trainer keeps in double/int64.
  double get_double(const std::string& key, double fallback);
  int64_t get_int64(const std::string& key, int64_t fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  std::vector<int> get_ints(const std::string& key);          // empty when absent
  std::vector<float> get_floats(const std::string& key);      // empty when absent
  std::vector<int64_t> get_int64s(const std::string& key);    // empty when absent
  std::vector<double> get_doubles(const std::string& key);    // empty when absent

  // Marks a key as consumed without reading it (keys kept for later use).
  void touch(const std::string& key);
  // "file:line: [section] key 'k'" (or "--set k" for an entry with that
  // origin): the prefix for a message about a key.
  std::string where(const std::string& key) const;
  // "file:line: [section]": the prefix for a message about the section.
  std::string where() const;
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;
  std::vector<std::string> unused_key_messages() const;
  const CfgSection& section() const { return section_; }
  const std::string& path() const { return path_; }

 private:
  const CfgEntry* find(const std::string& key) const;
  const CfgEntry* peek(const std::string& key) const;  // find() without marking the key used
  std::string where(const CfgEntry& entry) const;
  template <class T, class Parse>
  T get_one(const std::string& key, T fallback, Parse parse, const char* expected);
  template <class T, class Parse>
  std::vector<T> get_list(const std::string& key, Parse parse, const char* expected);
  const CfgSection& section_;
  std::string path_;
  mutable std::vector<bool> used_;  // reading a key marks it, even through const access
  mutable std::vector<std::string> asked_;  // every key looked for, found or not (typo suggestions)
};

}  // namespace cspnet
