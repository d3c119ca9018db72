#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace braid {

void InitLogging(spdlog::level::level_enum level) {
  auto logger = spdlog::get("braid");
  if (logger == nullptr) {
    logger = spdlog::stderr_logger_mt("braid");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  logger->set_level(level);
}

}  // namespace braid
