// Logging: spdlog's default logger, writing to stderr. Call InitLogging once
// at process start; code then logs with spdlog::info(...), spdlog::debug(...).

#ifndef BRAID_BASE_LOG_H_
#define BRAID_BASE_LOG_H_

#include <spdlog/spdlog.h>

namespace braid {

// Logs messages at `level` and above.
void InitLogging(spdlog::level::level_enum level);

}  // namespace braid

#endif  // BRAID_BASE_LOG_H_
