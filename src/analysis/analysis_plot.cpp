// `cspnet analyze --plot`: the totals of several networks as grouped bars,
// each measure relative to the first network (100%).
#include <string>
#include <vector>

#include "cspnet/analysis.hpp"
#include "plot/chart.hpp"

namespace cspnet {
namespace {

struct Measure {
  const char* name;
  double (*value)(const NetworkFigures&);
};

const Measure kMeasures[] = {
    {"parameters", [](const NetworkFigures& f) { return double(f.total.parameters); }},
    {"BFLOPs", [](const NetworkFigures& f) { return f.total.bflops; }},
    {"CIO", [](const NetworkFigures& f) { return double(f.total.cio); }},
    {"planned memory", [](const NetworkFigures& f) { return double(f.inference_peak_bytes); }},
    {"time", [](const NetworkFigures& f) { return f.total.time_ms; }},
};

// One colour per network, distinguishable in print.
constexpr plot::Rgb kColours[] = {{76, 114, 176}, {221, 132, 82}, {85, 168, 104},
                                  {196, 78, 82},  {129, 114, 179}, {147, 120, 96}};

}  // namespace

RelativeTotals relative_totals(const std::vector<NetworkFigures>& networks) {
  RelativeTotals r;
  if (networks.empty()) return r;
  std::vector<const Measure*> measures;
  for (const Measure& m : kMeasures)
    if (m.value(networks.front()) > 0) measures.push_back(&m);  // time only when measured
  for (const Measure* m : measures) r.measures.push_back(m->name);
  for (const NetworkFigures& f : networks) {
    r.networks.push_back(f.name);
    std::vector<double> row;
    for (const Measure* m : measures) row.push_back(100 * m->value(f) / m->value(networks.front()));
    r.percent.push_back(std::move(row));
  }
  return r;
}

void write_analysis_plot(const std::string& path, const std::vector<NetworkFigures>& networks) {
  const RelativeTotals r = relative_totals(networks);
  plot::BarChart chart;
  chart.title = r.networks.empty() ? "no networks" : "relative to " + r.networks.front() + " (100%)";
  chart.y_label = "% of " + (r.networks.empty() ? std::string() : r.networks.front());
  chart.value_format = "%.1f";
  chart.width = std::max(700, 120 + int(r.measures.size()) * (40 + 50 * int(r.networks.size())));
  chart.height = 460 + 22 * int(r.networks.size());
  chart.groups = r.measures;
  for (size_t n = 0; n < r.networks.size(); ++n)
    chart.series.push_back({r.networks[n], kColours[n % std::size(kColours)], r.percent[n]});
  plot::write_bar_chart(path, chart);
}

}  // namespace cspnet
