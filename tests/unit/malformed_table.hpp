// Rows for docs/malformed-inputs.md: when CSPNET_MALFORMED_TABLE_DIR is set,
// a table-driven bad-input test appends one markdown row per case (name, the
// input in words, the error the reader actually gave) to <dir>/<reader>.md.
// scripts/malformed-input-tables.sh assembles the files; with the variable
// unset nothing is written, so ordinary test runs are unaffected.
#pragma once

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

namespace cspnet::test {

// "LabelClassTooLarge" -> "label class too large": the case name is written
// to be read, so its words describe the input.
inline std::string case_name_in_words(const std::string& name) {
  std::string words;
  for (size_t i = 0; i < name.size(); ++i) {
    auto at = [&](size_t k) { return static_cast<unsigned char>(name[k]); };
    // A new word at a capital that follows a lower-case letter or digit, or
    // ends an acronym ("JSONFile" -> "json file").
    if (i > 0 && std::isupper(at(i)) &&
        (std::islower(at(i - 1)) || std::isdigit(at(i - 1)) || (i + 1 < name.size() && std::islower(at(i + 1)))))
      words += ' ';
    words += char(std::tolower(at(i)));
  }
  return words;
}

// Markdown-safe cell: one line, no bare '|', long texts cut.
inline std::string table_cell(std::string text, size_t max_chars = 400) {
  if (text.size() > max_chars) text = text.substr(0, max_chars) + "...";
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') out += ' ';
    else if (c == '|') out += "\\|";
    else if (c == '`') out += '\'';
    else out += c;
  }
  return out;
}

// Appends the row; `temp_dir`, when given, is replaced by "DIR" in the
// message so the generated document does not change from run to run.
inline void record_malformed_row(const std::string& reader, const std::string& name, const std::string& message,
                                 const std::string& temp_dir = "") {
  const char* dir = std::getenv("CSPNET_MALFORMED_TABLE_DIR");
  if (!dir || !*dir) return;
  std::string text = message;
  if (!temp_dir.empty())
    for (size_t at = text.find(temp_dir); at != std::string::npos; at = text.find(temp_dir, at + 3))
      text.replace(at, temp_dir.size(), "DIR");
  std::ofstream(std::string(dir) + "/" + reader + ".md", std::ios::app)
      << "| " << name << " | " << case_name_in_words(name) << " | `" << table_cell(text) << "` |\n";
}

}  // namespace cspnet::test
