#include "app/common/peak_rss.h"

#include <sys/resource.h>

#include <fstream>
#include <string>

namespace scalebits::cli {

// VmHWM of /proc/self/status: the high-water mark of this program's own memory. getrusage's
// ru_maxrss survives execve, so a program started by a large parent (a test, the explorer) would
// report the parent's size when it is the larger; it is the fallback where /proc is missing.
double peak_rss_mb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmHWM:   12345 kB"
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in kB on Linux
}

}  // namespace scalebits::cli
