#include "base/metrics.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <variant>

namespace braid {

// One time series: a family name plus one set of labels. The Counter or Gauge
// lives inside the Series, which is heap-allocated and never moved, so the
// pointer handed out stays valid for the registry's lifetime.
struct Metrics::Series {
  enum class Type { kCounter, kGauge };

  template <typename T>
  Series(std::string_view name, std::string_view help, const Labels& labels, bool registered,
         std::in_place_type_t<T> type)
      : name(name), help(help), labels(labels), registered(registered), metric(type) {}

  Type type() const {
    return std::holds_alternative<Counter>(metric) ? Type::kCounter : Type::kGauge;
  }

  const std::string name;
  const std::string help;
  const Labels labels;
  // False for the stand-ins returned after a programming error: they work,
  // but Render() skips them.
  const bool registered;
  std::variant<Counter, Gauge> metric;
};

namespace {

bool IsMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus),
// each name at most once.
bool AreLabelNames(const Labels& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& name = labels[i].first;
    if (name.empty() || name.find(':') != std::string::npos || !IsMetricName(name) ||
        name.starts_with("__")) {
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].first == name) return false;
    }
  }
  return true;
}

// Text format 0.0.4: in HELP, backslash and newline are escaped; in label
// values also the double quote.
void AppendEscaped(std::string_view s, bool escape_quote, std::string* out) {
  for (const char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '"':
        out->append(escape_quote ? "\\\"" : "\"");
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics& Metrics::Global() {
  static Metrics* const metrics = new Metrics();  // never destroyed: counted into at exit
  return *metrics;
}

// Registration scans linearly: it happens once per series, and callers keep
// the returned pointer rather than looking it up on hot paths.
template <typename T>
T* Metrics::GetOrCreate(std::string_view name, std::string_view help, const Labels& labels) {
  const bool valid_names = IsMetricName(name) && AreLabelNames(labels);
  assert(valid_names && "invalid metric or label name");
  MutexLock lock(mu_);
  bool type_conflict = false;
  if (valid_names) {
    for (const auto& s : series_) {
      if (!s->registered || s->name != name) continue;
      if (!std::holds_alternative<T>(s->metric)) {
        type_conflict = true;
        break;
      }
      if (s->labels == labels) return &std::get<T>(s->metric);
    }
  }
  assert(!type_conflict && "metric name already registered with another type");
  const bool registered = valid_names && !type_conflict;
  series_.push_back(
      std::make_unique<Series>(name, help, labels, registered, std::in_place_type<T>));
  return &std::get<T>(series_.back()->metric);
}

Counter* Metrics::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  return GetOrCreate<Counter>(name, help, labels);
}

Gauge* Metrics::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  return GetOrCreate<Gauge>(name, help, labels);
}

std::string Metrics::Render() const {
  std::vector<const Series*> sorted;
  {
    MutexLock lock(mu_);
    sorted.reserve(series_.size());
    for (const auto& s : series_) {
      if (s->registered) sorted.push_back(s.get());
    }
  }
  // Stable: within a family, series keep their registration order.
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Series* a, const Series* b) { return a->name < b->name; });

  std::string out;
  const Series* family = nullptr;
  for (const Series* s : sorted) {
    if (family == nullptr || family->name != s->name) {
      family = s;
      out.append("# HELP ").append(s->name).append(" ");
      AppendEscaped(s->help, /*escape_quote=*/false, &out);
      out.append("\n# TYPE ").append(s->name);
      out.append(s->type() == Series::Type::kCounter ? " counter\n" : " gauge\n");
    }
    out.append(s->name);
    if (!s->labels.empty()) {
      out.push_back('{');
      for (size_t i = 0; i < s->labels.size(); ++i) {
        if (i > 0) out.push_back(',');
        out.append(s->labels[i].first).append("=\"");
        AppendEscaped(s->labels[i].second, /*escape_quote=*/true, &out);
        out.push_back('"');
      }
      out.push_back('}');
    }
    out.push_back(' ');
    if (const auto* counter = std::get_if<Counter>(&s->metric)) {
      out.append(std::to_string(counter->value()));
    } else {
      out.append(std::to_string(std::get<Gauge>(s->metric).value()));
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace braid
