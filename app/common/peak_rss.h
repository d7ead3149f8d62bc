#pragma once

namespace scalebits::cli {

// This process's peak resident memory so far, in MiB (VmHWM; the JSON field keeps the name peak_rss_mb).
double peak_rss_mb();

}  // namespace scalebits::cli
