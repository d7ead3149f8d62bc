#pragma once
// The C library's allocator, tuned for this program's pattern: tensors of tens to hundreds of MB
// allocated and freed over and over (every layer of a streamed pass, every candidate of a search).
// glibc serves each large block with a fresh mmap and unmaps it on free, so the next one page-faults
// and zero-fills every page again: measured on the 0.3B synthetic analysis, 95 s of which about a third
// was page faults. Served from the heap and not trimmed, freed blocks are reused instead (67 s); peak
// memory is unchanged (the RSS high-water mark rose 10%). Called first thing in main().
namespace scalebits::util {

void keep_freed_memory_for_reuse();

}  // namespace scalebits::util
