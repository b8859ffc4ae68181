#pragma once

// The calling thread's last error (kiln_last_error) and how runtime code sets it. Checks fill
// an ErrorSink (model_interface.h); the C entry points turn a failed sink into a status and
// the thread's message.

#include "kiln/kiln.h"
#include "model_interface.h"

namespace kiln::rt {

// Stores the sink's message as the thread's last error and returns its status
// (`fallback` when a failing check forgot to set one).
KilnStatus report(const ErrorSink& sink, KilnStatus fallback);

// Formats the thread's last error directly (printf-style) and returns `status`.
KilnStatus report(KilnStatus status, const char* format, ...) __attribute__((format(printf, 2, 3)));

// The thread's last error; "" when none was set.
const char* last_error();

}  // namespace kiln::rt
