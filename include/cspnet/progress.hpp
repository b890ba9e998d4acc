#pragma once
// The progress display of long work (training, evaluation, benchmarks): on a
// terminal, one line on stderr redrawn in place and cut to the terminal's
// width; otherwise plain lines on a stream at most every `log_seconds`.
#include <chrono>
#include <ostream>
#include <string>

namespace cspnet {

// Columns of the terminal on file descriptor `fd`; 0 when it is not one.
int terminal_columns(int fd);
// Whether stderr is a terminal (where a redrawn line belongs).
bool stderr_is_terminal();
// Process-wide (the CLI's --quiet): ProgressLine::update shows nothing;
// print() lines (results, epoch summaries) still appear.
void set_progress_quiet(bool quiet);
bool progress_quiet();

class ProgressLine {
 public:
  // redraw: a terminal line on stderr; else plain lines on `plain`.
  ProgressLine(bool redraw, double log_seconds, std::ostream& plain);
  ~ProgressLine();  // clears a redrawn line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Shows `line`: redrawn at most 4 times a second (always with `force`),
  // or as a plain line at most every log_seconds.
  void update(const std::string& line, bool force = false);
  // A line that stays (an epoch summary) on `plain`, below the redrawn line.
  void print(const std::string& line);
  // Removes the redrawn line (before other output).
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool redraw_;
  double log_seconds_;
  std::ostream& plain_;
  Clock::time_point start_ = Clock::now();
  double last_ = -1e9;
  bool dirty_ = false;
};

}  // namespace cspnet
