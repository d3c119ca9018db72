// The identity of the running boot of this machine.
//
// Linux gives every boot a random id (/proc/sys/kernel/random/boot_id). A
// store that wrote without syncing notes the boot id: a later process that
// finds another boot id knows the machine went down in between (a power
// cut, a kernel crash), so unsynced writes may be lost; one that finds the
// same id knows they are not (a killed process loses nothing the kernel
// holds). docs/storage.md, "Durability".
//
// BRAID_BOOT_ID, when set, replaces the machine's: the power-cut tests
// (tests/powercut) restart a store as after a reboot without one.

#ifndef BRAID_BASE_BOOT_ID_H_
#define BRAID_BASE_BOOT_ID_H_

#include <string>

namespace braid {

// The boot id, or "" when the system gives none (then every restart must
// be treated as one after a power cut).
std::string BootId();

}  // namespace braid

#endif  // BRAID_BASE_BOOT_ID_H_
