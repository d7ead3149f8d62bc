#pragma once
// The C library's allocator, tuned for this program's pattern: tensors of tens to hundreds of MB
// allocated and freed over and over (every layer of a streamed pass, every candidate of a search).
// glibc's mmap threshold slides up after the first free of a mapped block, so later blocks of the same
// size come from the heap, whose top is trimmed after each free: the next one page-faults and zero-fills
// again. Here blocks up to 32 MiB come from an untrimmed heap (reused) and larger ones are mapped and
// unmapped. Measured: 0.3B synthetic analysis 95 s untuned; with every block from the heap 67 s but,
// at 8B shapes, the freed giant blocks fragment the heap (GPTQ export of two 4096/14336 layers: peak
// 11.2 GB); with this split 5.6 GB, at 9% more CPU time than all-heap on the 0.3B analysis.
// Called first thing in main().
namespace scalebits::util {

void keep_freed_memory_for_reuse();

}  // namespace scalebits::util
