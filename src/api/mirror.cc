// What the API tells of the mirror steps: GET /api/last-sync (Kerko's).

#include <algorithm>
#include <cmath>

#include "api/api.h"
#include "base/json.h"

namespace braid::api {

http::Response Api::LastSync() {
  auto runs = store_.StepRuns();
  if (!runs.ok()) return ErrorResponse(runs.status());
  int64_t last = 0;
  for (const StepRun& r : *runs) last = std::max(last, r.last_ok_ms);
  if (last == 0) return JsonResponse(200, "{}");
  const double hours = static_cast<double>(store_.clock().NowMillis() - last) / 3'600'000.0;
  std::string out;
  json::Writer(&out)
      .BeginObject()
      .Key("when")
      .String(Iso8601(last))
      .Key("hours_ago")
      .Double(std::round(hours * 1000) / 1000)
      .EndObject();
  return JsonResponse(200, std::move(out));
}

}  // namespace braid::api
