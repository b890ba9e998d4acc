// Writing generated scenes as a darknet + COCO folder.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace cspnet {
namespace {

namespace fs = std::filesystem;

// The folder is renamed into place as a whole, so single files need no
// atomic write (and no fsync each: thousands of small files).
void write_plain(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  out.close();
  if (!out) throw Error(path.string() + ": cannot write");
}

void write_png(const fs::path& path, const Tensor& image) {
  const int h = static_cast<int>(image.shape().h), w = static_cast<int>(image.shape().w);
  std::vector<unsigned char> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<unsigned char>(std::lround(std::clamp(image.at(0, c, y, x), 0.0f, 1.0f) * 255));
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &encoded, w, h, 3, rgb.data(), w * 3))
    throw Error(path.string() + ": PNG encoding failed");
  write_plain(path, encoded);
}

std::string label_text(const std::vector<ObjectBox>& boxes) {
  std::string text;
  char line[128];
  for (const ObjectBox& b : boxes) {
    std::snprintf(line, sizeof line, "%d %.7f %.7f %.7f %.7f\n", b.cls, b.x, b.y, b.w, b.h);
    text += line;
  }
  return text;
}

// Removes the temporary folder unless it was renamed into place.
struct TempFolder {
  fs::path path;
  bool kept = false;
  ~TempFolder() {
    std::error_code ignored;
    if (!kept) fs::remove_all(path, ignored);
  }
};

void write_split(const fs::path& root, const std::string& split, int64_t count, const SceneGenerator& generator,
                 int64_t& done, int64_t total, const std::function<void(const std::string&)>& progress) {
  fs::create_directories(root / "images" / split);
  fs::create_directories(root / "labels" / split);
  CocoData coco;
  coco.class_names = generator.class_names();
  std::string list;
  for (int64_t i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06lld", static_cast<long long>(i));
    Scene scene = generator.scene(i);
    write_png(root / "images" / split / (std::string(name) + ".png"), scene.image);
    write_plain(root / "labels" / split / (std::string(name) + ".txt"), label_text(scene.boxes));
    list += "images/" + split + "/" + name + ".png\n";
    const int s = generator.options().size;
    coco.images.push_back(CocoImageInfo{i, std::string(name) + ".png", s, s});
    coco.boxes.push_back(std::move(scene.boxes));
    if (++done % 1000 == 0 && progress) progress(std::to_string(done) + " / " + std::to_string(total) + " scenes");
  }
  write_plain(root / (split + ".txt"), list);
  write_plain(root / "annotations" / ("instances_" + split + ".json"), coco_instances_json(coco));
}

}  // namespace

void write_scene_folder(const std::string& dir, int64_t train_count, int64_t val_count, const SceneOptions& options,
                        const std::string& fashion_mnist_dir,
                        const std::function<void(const std::string&)>& progress) {
  if (train_count < 0 || val_count < 0 || train_count + val_count == 0)
    throw Error("scenes: the train and val counts must be >= 0 and not both 0");
  if (fs::exists(dir)) throw Error(dir + ": already exists (scenes are written to a new folder)");
  TempFolder temp{fs::path(dir + ".tmp." + std::to_string(::getpid()))};
  fs::remove_all(temp.path);
  fs::create_directories(temp.path / "annotations");
  int64_t done = 0;
  const int64_t total = train_count + val_count;
  std::vector<std::string> names;
  for (const bool train : {true, false}) {
    const int64_t count = train ? train_count : val_count;
    if (count == 0) continue;
    SceneOptions split_options = options;
    split_options.seed = options.seed * 2 + (train ? 0 : 1);  // the splits differ
    const SceneGenerator generator(load_fashion_mnist(fashion_mnist_dir, train), split_options);
    names = generator.class_names();
    write_split(temp.path, train ? "train" : "val", count, generator, done, total, progress);
  }
  std::string names_text;
  for (const std::string& n : names) names_text += n + "\n";
  write_plain(temp.path / "obj.names", names_text);
  write_plain(temp.path / "obj.data", "classes = " + std::to_string(names.size()) +
                                          "\ntrain = train.txt\nvalid = val.txt\nnames = obj.names\n"
                                          "backup = backup/\neval = coco\n");
  if (train_count == 0) write_plain(temp.path / "train.txt", "");
  if (val_count == 0) write_plain(temp.path / "val.txt", "");
  fs::create_directories(temp.path / "backup");
  std::error_code error;
  fs::rename(temp.path, dir, error);
  if (error) throw Error(dir + ": cannot rename " + temp.path.string() + " into place: " + error.message());
  temp.kept = true;
}

}  // namespace cspnet
