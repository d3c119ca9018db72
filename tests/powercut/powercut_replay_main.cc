// powercut_replay: rebuilds the files a power cut leaves, from a recording
// (tests/powercut/README.md). A failing power-cut test prints the command
// that rebuilds its cut; open the result with braid to look at it.
//
//   powercut_replay --snapshot DIR --trace FILE --cut K --fates SPEC --seed S --out DIR
//   (or --onto DIR: rewrite an existing directory in place, keeping inodes)
//   powercut_replay --snapshot DIR --trace FILE --check DIR
//   powercut_replay --trace FILE --list

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/powercut/crash_state.h"

namespace {

using braid::powercut::CutSpec;
using braid::powercut::Model;
using braid::powercut::Trace;

int Usage() {
  std::fprintf(stderr,
               "usage: powercut_replay --snapshot DIR --trace FILE --cut K --fates SPEC "
               "[--seed S] (--out NEWDIR | --onto DIR)\n"
               "       powercut_replay --snapshot DIR --trace FILE --check DIR\n"
               "       powercut_replay --trace FILE --list\n"
               "SPEC: FATE or DIR=FATE,...,FATE (fates: all, none, prefix, subset)\n");
  return 2;
}

int Fail(const braid::Status& s) {
  std::fprintf(stderr, "powercut_replay: %s\n", s.ToString().c_str());
  return 1;
}

bool IgnoreNothing(const std::string&) { return false; }

}  // namespace

int main(int argc, char** argv) {
  std::string snapshot, trace_path, fates = "none", out, check;
  bool onto = false;
  uint64_t seed = 0;
  size_t cut = SIZE_MAX;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--list") {
      list = true;
      continue;
    }
    if ((v = value()) == nullptr) return Usage();
    if (a == "--snapshot")
      snapshot = v;
    else if (a == "--trace")
      trace_path = v;
    else if (a == "--cut")
      cut = std::strtoull(v, nullptr, 10);
    else if (a == "--fates")
      fates = v;
    else if (a == "--seed")
      seed = std::strtoull(v, nullptr, 10);
    else if (a == "--out")
      out = v;
    else if (a == "--onto")
      out = v, onto = true;
    else if (a == "--check")
      check = v;
    else
      return Usage();
  }
  if (trace_path.empty()) return Usage();
  auto trace = Trace::Open(trace_path);
  if (!trace.ok()) return Fail(trace.status());
  if (list) {
    for (size_t i = 0; i < (*trace)->size(); ++i) {
      const auto& e = (*trace)->at(i);
      std::printf("%zu pid=%u %s %s%s%s ino=%" PRIu64 " offset=%" PRId64 " len=%" PRIu64 "\n", i,
                  e.header.pid, braid::powercut::OpName(e.header.op), e.path.c_str(),
                  e.path2.empty() ? "" : " -> ", e.path2.c_str(), e.header.ino, e.header.offset,
                  e.header.data_len);
    }
    return 0;
  }
  if (snapshot.empty() || (out.empty() == check.empty())) return Usage();
  auto model = Model::Load(snapshot, trace->get());
  if (!model.ok()) return Fail(model.status());
  if (!check.empty()) {
    if (auto s = (*model)->Advance((*trace)->size()); !s.ok()) return Fail(s);
    if (auto s = (*model)->CheckAgainst(check, IgnoreNothing); !s.ok()) return Fail(s);
    std::printf("%s matches the trace (%zu records)\n", check.c_str(), (*trace)->size());
    return 0;
  }
  if (cut == SIZE_MAX) return Usage();
  auto spec = CutSpec::Parse(fates, seed);
  if (!spec.ok()) return Fail(spec.status());
  if (auto s = (*model)->Advance(cut); !s.ok()) return Fail(s);
  if (auto s = (*model)->Materialize(*spec, out, onto); !s.ok()) return Fail(s);
  std::printf("wrote %s: the cut before record %zu of %zu, fates %s, seed %" PRIu64 "\n",
              out.c_str(), cut, (*trace)->size(), spec->ToString().c_str(), seed);
  return 0;
}
