// Failpoints: named places where a test can make this process die with
// SIGKILL, deterministically, to check crash recovery (kill -9 mid-transfer
// at a chosen chunk, replayable by seed).
//
// Enabled only by the environment variable BRAID_FAILPOINTS, a comma-
// separated list of name=N: the process kills itself the N-th time it
// reaches Failpoint(name). Without the variable every call is a cheap no-op.
// Names in use: pull-apply (client, before applying a pull chunk),
// push-sent (client, after a push chunk was acknowledged), pull-send
// (server, before answering a pull), push-apply (server, before applying a
// push chunk), migrate (any process, inside a schema upgrade's transaction), blob-append
// (a blob writer, before writing a piece), blob-rename (a blob writer, before
// moving a verified blob into place), container-state (a container pass,
// after a batch's records committed, before the batch's state rows).

#ifndef BRAID_BASE_FAILPOINT_H_
#define BRAID_BASE_FAILPOINT_H_

#include <string_view>

#include "braid/status.h"

namespace braid {

// OK, or never returns (SIGKILL) when the failpoint fires.
Status Failpoint(std::string_view name);

}  // namespace braid

#endif  // BRAID_BASE_FAILPOINT_H_
