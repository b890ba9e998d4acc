#pragma once
// A 5 x 7 pixel font for labels: digits, capitals and a little punctuation.
#include <array>
#include <cstdint>

namespace cspnet::bitmap_font {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;
constexpr int kAdvance = kGlyphWidth + 1;  // one blank column between glyphs

// Row r (0 = top) of character `c`: bit 4 is the leftmost pixel. Lower-case
// letters map to capitals; characters without a glyph draw as '?'.
std::array<uint8_t, kGlyphHeight> glyph(char c);

}  // namespace cspnet::bitmap_font
