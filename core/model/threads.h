#pragma once
// CPU threading for LibTorch work. With an OpenBLAS built on pthreads (Debian's
// libopenblas0-pthread) the matrix products already run on every core through OpenBLAS's own
// threads; a LibTorch OpenMP pool on top spins between parallel regions and fights them for the
// cores (measured on 2 cores: SmolLM2 eval at ctx 512 ran at 157 tokens/s with 2 OpenMP threads and
// 361 with 1). So the default is one LibTorch thread; `requested` > 0 overrides it.
namespace scalebits::model {

// Returns the number of LibTorch intra-op threads now in use.
int configure_cpu_threads(int requested);

}  // namespace scalebits::model
