#pragma once

namespace kiln {

// kiln's version, recorded in every model it compiles.
inline constexpr const char* kVersion = "0.1.0";

}  // namespace kiln
