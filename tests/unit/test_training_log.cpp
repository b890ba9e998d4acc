// The training log: CSV rows (blank fields for values not measured), reading
// them back, and the PNG plot of the loss and accuracy curves.
#include "cspnet/training_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cspnet/error.hpp"
#include "malformed_table.hpp"
#include "test_helpers.hpp"

// Declarations only: the implementation is compiled into the library (src/io/image.cpp).
#include <stb/stb_image.h>

namespace {

using namespace cspnet;
using cspnet::tests::expect_error_mentioning;
namespace fs = std::filesystem;

class TrainingLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cspnet-training-log-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TrainingLogRow step_row(int64_t step, double loss, double accuracy) {
  TrainingLogRow r;
  r.epoch = double(step) / 10;
  r.step = step;
  r.images = step * 64;
  r.lr = 0.01;
  r.train_loss = loss;
  r.train_accuracy = accuracy;
  r.images_per_second = 1234.5;
  r.seconds = double(step) * 0.5;
  return r;
}

// A kill mid-write leaves the last row without its newline; --resume read it
// and failed ("5 fields, expected 10"). The torn row is dropped.
TEST_F(TrainingLogTest, TornLastRowIsDropped) {
  std::ofstream(path("log.csv")) << kTrainingLogHeaderV1 << "\n1,10,640,0.01,0.5,,,,,3\n1,11,704,0.0";
  auto rows = read_training_log(path("log.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].step, 10);
  std::ofstream(path("torn.csv")) << kTrainingLogHeaderV1 << "\n1,10,640,0.01,0.5,,,,,3\n1,11,704,0.01,0.4,,,,,3";
  EXPECT_EQ(read_training_log(path("torn.csv")).size(), 1u);  // parses, but unterminated: still torn
}

// A synthetic run: train loss falling, test results once per epoch.
std::vector<TrainingLogRow> synthetic_run(int steps) {
  std::vector<TrainingLogRow> rows;
  for (int s = 1; s <= steps; ++s) {
    TrainingLogRow r = step_row(s, 2.3 * std::exp(-s / 40.0) + 0.2, 0.95 - 0.85 * std::exp(-s / 30.0));
    if (s % 10 == 0) {
      r.test_loss = 2.3 * std::exp(-s / 50.0) + 0.3;
      r.test_accuracy = 0.93 - 0.8 * std::exp(-s / 35.0);
    }
    rows.push_back(r);
  }
  return rows;
}

struct Decoded {
  int width = 0, height = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels{nullptr, stbi_image_free};
  int count(uint8_t r, uint8_t g, uint8_t b) const {
    int n = 0;
    for (int i = 0; i < width * height; ++i) {
      const unsigned char* p = pixels.get() + 3 * i;
      n += p[0] == r && p[1] == g && p[2] == b;
    }
    return n;
  }
};

Decoded decode_png(const std::string& path) {
  Decoded d;
  int channels = 0;
  d.pixels.reset(stbi_load(path.c_str(), &d.width, &d.height, &channels, 3));
  return d;
}

TEST_F(TrainingLogTest, CsvHasTheHeaderAndOneFlushedRowPerWrite) {
  TrainingLog log(path("log.csv"));
  log.write(step_row(1, 2.5, 0.125));
  // Flushed: readable while the log is still open.
  auto lines = read_lines(path("log.csv"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "epoch,step,images,lr,train_loss,train_accuracy,test_loss,test_accuracy,images_per_second,seconds,"
            "test_map50,test_map");
  EXPECT_EQ(lines[1], "0.1,1,64,0.01,2.5,0.125,,,1234.5,0.5,,");
  TrainingLogRow eval;
  eval.epoch = 1;
  eval.step = 10;
  eval.images = 640;
  eval.lr = 0.005;
  eval.test_loss = 0.75;
  eval.test_accuracy = 0.875;
  eval.seconds = 12;
  log.write(eval);
  lines = read_lines(path("log.csv"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], "1,10,640,0.005,,,0.75,0.875,,12,,");
}

TEST_F(TrainingLogTest, RowsReadBackWithBlankFieldsEmpty) {
  auto rows = synthetic_run(25);
  {
    TrainingLog log(path("log.csv"));
    for (const auto& r : rows) log.write(r);
  }
  auto back = read_training_log(path("log.csv"));
  ASSERT_EQ(back.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(back[i].step, rows[i].step);
    EXPECT_EQ(back[i].images, rows[i].images);
    EXPECT_NEAR(back[i].epoch, rows[i].epoch, 1e-12);
    ASSERT_TRUE(back[i].train_loss.has_value());
    EXPECT_NEAR(*back[i].train_loss, *rows[i].train_loss, 1e-9);
    EXPECT_EQ(back[i].test_loss.has_value(), rows[i].test_loss.has_value()) << "row " << i;
    EXPECT_EQ(back[i].test_accuracy.has_value(), rows[i].test_accuracy.has_value()) << "row " << i;
  }
  EXPECT_NEAR(*back[19].test_accuracy, *rows[19].test_accuracy, 1e-9);
}

TEST_F(TrainingLogTest, AppendKeepsEarlierRowsAndWritesNoSecondHeader) {
  {
    TrainingLog log(path("log.csv"));
    log.write(step_row(1, 2.0, 0.5));
  }
  {
    TrainingLog log(path("log.csv"), /*append=*/true);
    log.write(step_row(2, 1.5, 0.6));
  }
  auto lines = read_lines(path("log.csv"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(read_training_log(path("log.csv")).back().step, 2);
}

TEST_F(TrainingLogTest, AppendToAFileThatIsNotALogIsAnErrorNamingIt) {
  std::ofstream(path("other.csv")) << "a,b,c\n1,2,3\n";
  expect_error_mentioning([&] { TrainingLog log(path("other.csv"), true); }, {path("other.csv")});
  EXPECT_EQ(read_lines(path("other.csv")).size(), 2u);  // untouched
}

TEST_F(TrainingLogTest, MalformedRowIsAnErrorWithItsLine) {
  std::ofstream(path("log.csv")) << kTrainingLogHeaderV1 << "\n1,10,640,0.01,0.5,,,,,3\n1,11,x,0.01,,,,,,3\n";
  expect_error_mentioning([&] { read_training_log(path("log.csv")); }, {"log.csv:3", "images"});
}

// A good 12-field row with column `column` replaced by `value`.
std::string row_with(size_t column, const std::string& value) {
  std::vector<std::string> f = {"1", "10", "640", "0.01", "0.5", "0.9", "0.6", "0.8", "1234.5", "3", "0.4", "0.3"};
  f.at(column) = value;
  std::string row;
  for (size_t i = 0; i < f.size(); ++i) row += (i ? "," : "") + f[i];
  return row + "\n";
}

// Malformed logs, each with the text it must give: the log.csv table of
// docs/malformed-inputs.md. Rows marked "damaged" were accepted before
// (stod reads nan, inf and negatives; a resumed run then plotted them).
TEST_F(TrainingLogTest, MalformedTable) {
  const std::string header = std::string(kTrainingLogHeader) + "\n";
  const std::string good = row_with(0, "1");
  struct Case {
    const char* name;
    std::string text;
    std::vector<std::string> expect;
  };
  const std::string expected_header = "log.csv:1: expected the header '" + std::string(kTrainingLogHeader) + "'";
  // clang-format off
  const std::vector<Case> cases = {
      {"EmptyFile", "", {expected_header}},
      {"OtherCsv", "a,b,c\n1,2,3\n", {expected_header}},
      {"RowsWithoutHeader", good + good, {expected_header}},
      {"HeaderWithExtraColumn", std::string(kTrainingLogHeader) + ",extra\n" + good, {expected_header}},
      {"HeaderInCapitals", "EPOCH,STEP\n", {expected_header}},
      {"HeaderWithCarriageReturn", std::string(kTrainingLogHeader) + "\r\n" + good, {expected_header}},
      {"TooFewFields", header + "1,10,640\n", {"log.csv:2: 3 fields, expected 12"}},
      {"TooManyFields", header + "1,10,640,0.01,0.5,0.9,0.6,0.8,1234.5,3,0.4,0.3,7\n", {"log.csv:2: 13 fields, expected 12"}},
      {"SemicolonSeparated", header + "1;10;640;0.01;0.5;0.9;0.6;0.8;1234.5;3;0.4;0.3\n", {"log.csv:2: 1 fields, expected 12"}},
      {"DecimalComma", header + row_with(3, "0,01"), {"log.csv:2: 13 fields, expected 12"}},
      {"TwelveFieldsUnderVersion1Header", std::string(kTrainingLogHeaderV1) + "\n" + good, {"log.csv:2: 12 fields, expected 10"}},
      {"BadRowAfterBlankLines", header + good + "\n\n" + row_with(2, "x"), {"log.csv:5: column 'images': expected a number, got 'x'"}},
      {"EpochBlank", header + row_with(0, ""), {"log.csv:2: column 'epoch' is blank, expected a number"}},
      {"EpochText", header + row_with(0, "one"), {"log.csv:2: column 'epoch': expected a number, got 'one'"}},
      {"EpochNan", header + row_with(0, "nan"), {"log.csv:2: column 'epoch': expected a finite number >= 0, got 'nan'"}},  // damaged
      {"EpochNegative", header + row_with(0, "-1"), {"log.csv:2: column 'epoch': expected a finite number >= 0, got '-1'"}},  // damaged
      {"StepFractional", header + row_with(1, "10.5"), {"log.csv:2: column 'step': expected an integer, got '10.5'"}},
      {"StepNegative", header + row_with(1, "-10"), {"log.csv:2: column 'step': expected an integer >= 0, got '-10'"}},  // damaged
      {"StepHuge", header + row_with(1, "1e300"), {"log.csv:2: column 'step': expected an integer, got '1e300'"}},
      {"StepInfinite", header + row_with(1, "inf"), {"log.csv:2: column 'step': expected an integer, got 'inf'"}},
      {"StepNan", header + row_with(1, "nan"), {"log.csv:2: column 'step': expected an integer, got 'nan'"}},
      {"ImagesBlank", header + row_with(2, ""), {"log.csv:2: column 'images' is blank, expected a number"}},
      {"ImagesNegative", header + row_with(2, "-640"), {"log.csv:2: column 'images': expected an integer >= 0, got '-640'"}},  // damaged
      {"LrInfinite", header + row_with(3, "inf"), {"log.csv:2: column 'lr': expected a finite number >= 0, got 'inf'"}},  // damaged
      {"LrNegative", header + row_with(3, "-0.01"), {"log.csv:2: column 'lr': expected a finite number >= 0, got '-0.01'"}},  // damaged
      {"LrTrailingJunk", header + row_with(3, "0.01x"), {"log.csv:2: column 'lr': expected a number, got '0.01x'"}},
      {"LrBeyondDouble", header + row_with(3, "1e999"), {"log.csv:2: column 'lr': expected a number, got '1e999'"}},
      {"TrainLossText", header + row_with(4, "abc"), {"log.csv:2: column 'train_loss': expected a number, got 'abc'"}},
      {"TestAccuracyPercent", header + row_with(7, "80%"), {"log.csv:2: column 'test_accuracy': expected a number, got '80%'"}},
      {"ImagesPerSecondText", header + row_with(8, "fast"), {"log.csv:2: column 'images_per_second': expected a number, got 'fast'"}},
      {"SecondsBlank", header + row_with(9, ""), {"log.csv:2: column 'seconds' is blank, expected a number"}},
      {"SecondsNegative", header + row_with(9, "-3"), {"log.csv:2: column 'seconds': expected a finite number >= 0, got '-3'"}},  // damaged
      {"TestMap50Text", header + row_with(10, "x"), {"log.csv:2: column 'test_map50': expected a number, got 'x'"}},
  };
  // clang-format on
  EXPECT_GE(cases.size(), 30u);  // docs/reliability.md promises at least 30 per reader
  for (const auto& c : cases) {
    std::ofstream(path("log.csv"), std::ios::binary | std::ios::trunc) << c.text;
    std::string message = "(no error)";
    try {
      read_training_log(path("log.csv"));
    } catch (const Error& e) {
      message = e.what();
    }
    test::record_malformed_row("log-csv", c.name, message, dir_.string());
    for (const auto& part : c.expect) EXPECT_NE(message.find(part), std::string::npos) << c.name << ": " << message;
  }
  // Not a file: missing, or a directory.
  for (const auto& [name, file, part] :
       std::vector<std::tuple<const char*, std::string, std::string>>{
           {"MissingFile", "absent.csv", "absent.csv: cannot open training log"},
           {"Directory", "", ": is a directory, not a regular file"}}) {
    std::string message = "(no error)";
    try {
      read_training_log(file.empty() ? dir_.string() : path(file));
    } catch (const Error& e) {
      message = e.what();
    }
    test::record_malformed_row("log-csv", name, message, dir_.string());
    EXPECT_NE(message.find(part), std::string::npos) << name << ": " << message;
  }
}

TEST_F(TrainingLogTest, UnwritableLogPathIsAnErrorNamingIt) {
  std::string bad = path("missing-dir/log.csv");
  expect_error_mentioning([&] { TrainingLog log(bad); }, {bad});
}

TEST_F(TrainingLogTest, PlotDecodesToTheRequestedSizeWithBothSeriesColours) {
  auto rows = synthetic_run(100);
  write_curves(path("curves.png"), rows, "", 1000, 400);
  Decoded d = decode_png(path("curves.png"));
  ASSERT_TRUE(d.pixels) << stbi_failure_reason();
  EXPECT_EQ(d.width, 1000);
  EXPECT_EQ(d.height, 400);
  int train = d.count(31, 119, 180), test = d.count(230, 85, 13), ink = d.count(0, 0, 0);
  EXPECT_GT(train, 400) << "train curves (blue) missing";
  EXPECT_GT(test, 200) << "test curves (orange) missing";
  EXPECT_GT(ink, 1000) << "axes and labels missing";
  EXPECT_GT(d.count(255, 255, 255), 1000 * 400 / 2) << "mostly background";
  // Both panels carry curves: blue pixels in the left and the right half.
  int left = 0, right = 0;
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x) {
      const unsigned char* p = d.pixels.get() + 3 * (y * d.width + x);
      if (p[0] == 31 && p[1] == 119 && p[2] == 180) (x < d.width / 2 ? left : right)++;
    }
  EXPECT_GT(left, 150);
  EXPECT_GT(right, 150);
}

TEST_F(TrainingLogTest, PlotWithOnlyTestResultsHasNoTrainColour) {
  auto rows = synthetic_run(50);
  for (auto& r : rows) r.train_loss = r.train_accuracy = std::nullopt;
  write_curves(path("curves.png"), rows);
  Decoded d = decode_png(path("curves.png"));
  ASSERT_TRUE(d.pixels);
  EXPECT_GT(d.count(230, 85, 13), 100);
  // Only the legend swatches are blue.
  EXPECT_LE(d.count(31, 119, 180), 2 * 24 * 4);
}

TEST_F(TrainingLogTest, EmptyOnePointAndNonFiniteSeriesStillPlot) {
  write_curves(path("empty.png"), {});
  Decoded empty = decode_png(path("empty.png"));
  ASSERT_TRUE(empty.pixels);
  EXPECT_EQ(empty.width, 1500);
  EXPECT_EQ(empty.height, 450);

  std::vector<TrainingLogRow> one{step_row(1, 2.0, 0.3)};
  one[0].test_loss = 2.1;
  one[0].test_accuracy = 0.25;
  write_curves(path("one.png"), one);
  Decoded single = decode_png(path("one.png"));
  ASSERT_TRUE(single.pixels);
  EXPECT_GT(single.count(31, 119, 180), 2 * 24 * 4) << "a single point gets a marker";

  auto rows = synthetic_run(20);
  rows[5].train_loss = std::nan("");
  rows[6].train_loss = INFINITY;
  write_curves(path("nonfinite.png"), rows);
  EXPECT_TRUE(decode_png(path("nonfinite.png")).pixels);
}

TEST_F(TrainingLogTest, PlotToAnUnwritablePathIsAnErrorAndLeavesNoFile) {
  // A folder standing where the file should go: the rename fails after the temporary was written.
  fs::create_directories(path("taken.png"));
  fs::create_directories(path("taken.png/inside"));
  auto rows = synthetic_run(10);
  expect_error_mentioning([&] { write_curves(path("taken.png"), rows); }, {path("taken.png")});
  std::string missing = path("no-such-dir/curves.png");
  expect_error_mentioning([&] { write_curves(missing, rows); }, {missing});
  // Nothing but the folder that was already there.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    ++entries;
    EXPECT_EQ(entry.path().filename(), "taken.png");
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(TrainingLogTest, PlotReplacesAnEarlierPlot) {
  write_curves(path("curves.png"), synthetic_run(10));
  write_curves(path("curves.png"), synthetic_run(80), "", 800, 300);
  Decoded d = decode_png(path("curves.png"));
  ASSERT_TRUE(d.pixels);
  EXPECT_EQ(d.width, 800);
  EXPECT_EQ(d.height, 300);
}

}  // namespace

TEST_F(TrainingLogTest, PlotHasALearningRatePanelOnTheRight) {
  auto rows = synthetic_run(100);
  write_curves(path("curves.png"), rows, "", 1500, 450);
  Decoded d = decode_png(path("curves.png"));
  ASSERT_TRUE(d.pixels);
  // The lr curve (green) lies in the right third only, apart from nothing else.
  int right_third = 0, elsewhere = 0;
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x) {
      const unsigned char* p = d.pixels.get() + 3 * (y * d.width + x);
      if (p[0] == 44 && p[1] == 160 && p[2] == 44) (x >= d.width * 2 / 3 ? right_third : elsewhere)++;
    }
  EXPECT_GT(right_third, 300) << "learning-rate curve missing";
  EXPECT_EQ(elsewhere, 0);
}

TEST_F(TrainingLogTest, TitleIsDrawnAboveThePanels) {
  auto rows = synthetic_run(30);
  write_curves(path("plain.png"), rows);
  write_curves(path("titled.png"), rows, "cspdarknet-small  (runs/demo)");
  Decoded plain = decode_png(path("plain.png")), titled = decode_png(path("titled.png"));
  ASSERT_TRUE(plain.pixels && titled.pixels);
  // Ink in the top band right at the centre (between the middle panel's
  // title and its legend), only with a title.
  auto dark_in_title_band = [](const Decoded& d) {
    int n = 0;
    for (int y = 0; y < 34; ++y)
      for (int x = d.width / 2 - 60; x < d.width / 2 + 60; ++x) {
        const unsigned char* p = d.pixels.get() + 3 * (y * d.width + x);
        n += p[0] < 100 && p[1] < 100 && p[2] < 100;
      }
    return n;
  };
  EXPECT_EQ(dark_in_title_band(plain), 0);
  EXPECT_GT(dark_in_title_band(titled), 100);
}

TEST_F(TrainingLogTest, SvgPathWritesAnSvgDocumentWithTheSeries) {
  auto rows = synthetic_run(40);
  write_curves(path("curves.svg"), rows, "svg run");
  std::ifstream in(path("curves.svg"));
  std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // Series strokes in their colours (cairo writes rgb percentages).
  EXPECT_NE(svg.find("rgb(12.156863%,46.666667%,70.588235%)"), std::string::npos) << "train colour missing";
  EXPECT_NE(svg.find("rgb(17.254902%,62.745098%,17.254902%)"), std::string::npos) << "lr colour missing";
}

TEST_F(TrainingLogTest, DetectionMapColumnsRoundTripAndLogsWithoutThemStillRead) {
  {
    TrainingLog log(path("log.csv"));
    TrainingLogRow row = step_row(5, 1.5, 0.0);
    row.train_accuracy.reset();
    row.test_map50 = 0.8125;
    row.test_map = 0.5;
    log.write(row);
  }
  auto rows = read_training_log(path("log.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].test_map50, 0.8125);
  EXPECT_EQ(rows[0].test_map, 0.5);
  EXPECT_FALSE(rows[0].train_accuracy.has_value());
  std::ofstream(path("old.csv")) << kTrainingLogHeaderV1 << "\n1,10,640,0.01,0.5,,,,,3\n";
  rows = read_training_log(path("old.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].test_map50.has_value());
  write_curves(path("map.png"), read_training_log(path("log.csv")));
  EXPECT_TRUE(std::filesystem::exists(path("map.png")));
}
