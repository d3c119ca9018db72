#include "braid/record.h"
#include "braid/store.h"

namespace braid {

std::string_view WriteOpName(WriteOp op) {
  switch (op) {
    case WriteOp::kCreated:
      return "created";
    case WriteOp::kUpdated:
      return "updated";
    case WriteOp::kDeleted:
      return "deleted";
    case WriteOp::kUnchanged:
      return "unchanged";
  }
  return "unknown";
}

std::string_view ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
      return "create";
    case ChangeOp::kUpdate:
      return "update";
    case ChangeOp::kDelete:
      return "delete";
  }
  return "unknown";
}

}  // namespace braid
