#include "cspnet/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace cspnet {

int terminal_columns(int fd) {
  if (!isatty(fd)) return 0;
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 80;
  return size.ws_col;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

namespace {
std::atomic<bool> quiet_progress{false};
}

void set_progress_quiet(bool quiet) { quiet_progress = quiet; }
bool progress_quiet() { return quiet_progress; }

ProgressLine::ProgressLine(bool redraw, double log_seconds, std::ostream& plain)
    : redraw_(redraw), log_seconds_(log_seconds), plain_(plain) {}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::update(const std::string& line, bool force) {
  if (progress_quiet()) return;
  const double now = std::chrono::duration<double>(Clock::now() - start_).count();
  if (redraw_) {
    if (!force && now - last_ < 0.25) return;
    // One column short of the width: a line that fills it wraps on some terminals.
    const int columns = terminal_columns(STDERR_FILENO);
    const size_t fit = columns > 1 ? size_t(columns - 1) : line.size();
    std::string shown = line.substr(0, fit);
    std::fprintf(stderr, "\r%s\x1b[K", shown.c_str());
    std::fflush(stderr);
    dirty_ = true;
  } else {
    if (!force && now - last_ < log_seconds_) return;
    plain_ << line << '\n' << std::flush;
  }
  last_ = now;
}

void ProgressLine::print(const std::string& line) {
  clear();
  plain_ << line << '\n' << std::flush;
}

void ProgressLine::clear() {
  if (!dirty_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  dirty_ = false;
}

}  // namespace cspnet
