#include <charconv>

#include "cli/commands.h"

namespace kiln::cli {

int parse_count(const std::string& command, const std::string& option, const std::string& text,
                bool allow_zero) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < (allow_zero ? 0 : 1)) {
    throw UsageError{command + ": " + option + " takes " +
                     (allow_zero ? "a count >= 0" : "a positive count") + ", not '" + text + "'"};
  }
  return value;
}

}  // namespace kiln::cli
