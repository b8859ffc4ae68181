#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

// The one exception type kiln throws for bad input and unsupported programs. The message is
// meant for the user: it names the file, entry, value or op at fault.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Builds a message from streamable parts: throw error("entry ", name, " is truncated").
template <typename... Parts>
Error error(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return Error(out.str());
}

}  // namespace kiln
