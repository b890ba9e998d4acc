// `cspnet detector show-augmented`: augmented samples written as PNGs of the
// network size, boxes drawn; label errors name the label file and line.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cspnet/image.hpp"
#include "cspnet/tensor.hpp"

namespace {

namespace fs = std::filesystem;

class DetectorShowAugmented : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/cspnet-showaug-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    fs::create_directories(dir_ / "images");
    fs::create_directories(dir_ / "labels");
    // A 120 x 90 black image with a white 40 x 30 rectangle at (20, 15).
    cspnet::Tensor image(cspnet::Shape{1, 3, 90, 120}, 0.f);
    for (int k = 0; k < 3; ++k)
      for (int y = 15; y < 45; ++y)
        for (int x = 20; x < 60; ++x) image.at(0, k, y, x) = 1.f;
    cspnet::save_png((dir_ / "images" / "a.png").string(), image);
    write("labels/a.txt", "0 0.333333 0.333333 0.333333 0.333333\n");
    write("obj.cfg", "[net]\nwidth=64\nheight=48\nchannels=3\nmosaic=1\nhue=.1\n\n[yolo]\njitter=.3\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  // Exit code and stderr of `cspnet detector show-augmented <args>`.
  int run(const std::string& args, std::string* err = nullptr) {
    const fs::path err_path = dir_ / "stderr.txt";
    const std::string command = std::string("'") + CSPNET_CLI_PATH + "' detector show-augmented " + args +
                                " >/dev/null 2>'" + err_path.string() + "' </dev/null";
    const int status = std::system(command.c_str());
    if (err) {
      std::ifstream in(err_path);
      std::stringstream text;
      text << in.rdbuf();
      *err = text.str();
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

  // The shell-quoted paths of the cfg and the image, then `extra`
  // (appended piecewise: GCC 12 warns falsely, -Wrestrict, on "'" + string).
  std::string args(const std::string& extra = "") const {
    std::string text;
    for (const fs::path& path : {dir_ / "obj.cfg", dir_ / "images" / "a.png"}) {
      text.push_back('\'');
      text.append(path.string());
      text.append("' ");
    }
    text.append(extra);
    return text;
  }
  std::string out() const {
    std::string text = "--out '";
    text.append((dir_ / "out").string());
    text.push_back('\'');
    return text;
  }

  fs::path dir_;
};

TEST_F(DetectorShowAugmented, WritesSamplesAtTheNetworkSizeWithBoxesDrawn) {
  ASSERT_EQ(run(args(out() + " --count 6 --seed 3")), 0);
  for (int n = 0; n < 6; ++n) {
    const fs::path png = dir_ / "out" / ("aug_" + std::to_string(n) + ".png");
    const cspnet::Tensor sample = cspnet::load_image_rgb(png.string());
    EXPECT_EQ(sample.shape(), (cspnet::Shape{1, 3, 48, 64}));
  }
  EXPECT_FALSE(fs::exists(dir_ / "out" / "aug_6.png"));
}

TEST_F(DetectorShowAugmented, BadLabelLineNamesFileAndLine) {
  write("labels/a.txt", "0 0.3 0.3 0.3 0.3\n0 0.5 0.5 nope 0.1\n");
  std::string err;
  EXPECT_NE(run(args(out()), &err), 0);
  EXPECT_NE(err.find("labels/a.txt:2: expected 'class x y w h'"), std::string::npos) << err;
}

TEST_F(DetectorShowAugmented, CutmixInTheCfgIsRefusedWithItsLine) {
  write("obj.cfg", "[net]\nwidth=64\nheight=48\ncutmix=1\n\n[yolo]\n");
  std::string err;
  EXPECT_NE(run(args(out()), &err), 0);
  EXPECT_NE(err.find("obj.cfg:4: [net] key 'cutmix'"), std::string::npos) << err;
}

}  // namespace
