// Lower CPU priority for threads whose work nothing waits on.
//
// On a machine with few cores, a helper thread that runs at the same
// priority as the thread it helps takes turns with it: on 2 cores, the
// thread applying a replication chunk spent ~15% of a pull waiting for a
// core. Helpers that lower their priority (a nice value of 10) only get
// what the foreground threads leave; their work is either optional (a
// background WAL checkpoint) or done by the foreground thread itself when
// the helper falls behind (reading a chunk's records). As RocksDB does for
// its compaction threads.

#ifndef BRAID_BASE_THREAD_PRIORITY_H_
#define BRAID_BASE_THREAD_PRIORITY_H_

namespace braid {

// Lowers the calling thread's CPU priority (Linux: per-thread nice 10).
// Best effort: failures are ignored. A thread cannot raise its priority
// back without privileges, so call this only on threads of one purpose.
void LowerThisThreadPriority();

}  // namespace braid

#endif  // BRAID_BASE_THREAD_PRIORITY_H_
