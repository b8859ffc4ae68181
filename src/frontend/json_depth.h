#pragma once

#include <cstddef>
#include <string_view>

#include "util/error.h"

namespace kiln::frontend {

// Far deeper than any export nests (torch's files stay under 20 levels, subgraphs included).
inline constexpr size_t kMaxJsonDepth = 512;

// nlohmann's parser is iterative, but printing a document (error messages, node metadata) and
// reading subgraphs recurse once per level, so a few kilobytes of '[' would exhaust the stack.
// Throws kiln::Error naming `source` when arrays and objects nest deeper than kMaxJsonDepth.
// Malformed text is left to the parser.
inline void check_json_depth(std::string_view text, std::string_view source) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw error(source, ": JSON nests deeper than ", kMaxJsonDepth, " levels (at byte ", i,
                    ")");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace kiln::frontend
