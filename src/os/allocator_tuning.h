// Memory a merge frees is kept for its next tensor, instead of glibc unmapping large blocks and
// trimming heap tops on free, so that every tensor does not fault in fresh (zeroed) pages again.
// Resident memory stays bounded by the largest scratch alive at once.
#pragma once

namespace alloy {

// Each tensor's selection and mask passes allocate megabytes of scratch (histograms, threshold
// windows, stashes); glibc maps allocations from 128 KiB up with mmap by default. A fresh page costs
// a fault and a zeroed page (on a VM with balloon free page reporting, a trap to the host).
// Process-wide, idempotent: allocations up to 32 MiB come from the heap, and freed heap memory is
// not returned to the system before the process ends (up to 1 GiB of it).
void keep_freed_memory_for_reuse();

}  // namespace alloy
