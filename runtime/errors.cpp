#include "errors.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace kiln::rt {
namespace {

// A plain array, so the thread-local needs no destructor (a library that registers one can
// no longer be unloaded by dlclose).
thread_local char t_last_error[sizeof(ErrorSink::message)] = "";

}  // namespace

bool fail(ErrorSink* sink, int status, const char* format, ...) {
  if (sink == nullptr) return false;
  sink->status = status;
  va_list args;
  va_start(args, format);
  std::vsnprintf(sink->message, sizeof(sink->message), format, args);
  va_end(args);
  return false;
}

KilnStatus report(const ErrorSink& sink, KilnStatus fallback) {
  const KilnStatus status = sink.status != 0 ? static_cast<KilnStatus>(sink.status) : fallback;
  if (sink.message[0] != '\0') {
    std::snprintf(t_last_error, sizeof(t_last_error), "%s", sink.message);
  } else {
    std::snprintf(t_last_error, sizeof(t_last_error), "failed without a message (status %d)",
                  static_cast<int>(status));
  }
  return status;
}

KilnStatus report(KilnStatus status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(t_last_error, sizeof(t_last_error), format, args);
  va_end(args);
  return status;
}

const char* last_error() {
  return t_last_error;
}

}  // namespace kiln::rt
