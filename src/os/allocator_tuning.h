// Memory a merge frees is kept for its next tensor. Each tensor's selection and mask passes
// allocate megabytes of scratch (histograms, threshold windows, stashes); by default glibc maps
// allocations from 128 KiB up with mmap and unmaps them on free, and trims freed heap tops, so
// every tensor touches fresh pages again. Fresh pages are costly (a fault and a zeroed page each;
// on a VM with balloon free page reporting a trap to the host): breadcrumbs spent 2 of its 6
// seconds on the medium bench faulting such pages. Keeping freed memory bounds resident memory by
// the largest scratch alive at once, not by its sum over tensors.
#pragma once

namespace alloy {

// Process-wide, idempotent: allocations up to 32 MiB come from the heap, and freed heap memory is
// not returned to the system before the process ends (up to 1 GiB of it).
void keep_freed_memory_for_reuse();

}  // namespace alloy
