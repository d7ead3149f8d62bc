#include "core/util/exception_text.h"

#include <c10/util/Exception.h>

#include <new>
#include <regex>

namespace scalebits {

ExceptionText describe_exception(const std::exception& e) {
    ExceptionText t;
    std::string text = e.what();
    if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) text = c10->what_without_backtrace();
    const bool cuda_oom = dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
                          text.find("CUDA out of memory") != std::string::npos;
    const bool cpu_oom = dynamic_cast<const std::bad_alloc*>(&e) != nullptr ||
                         text.find("can't allocate memory") != std::string::npos;
    if (cuda_oom || cpu_oom) {
        t.out_of_memory = true;
        std::smatch m;
        static const std::regex bytes(R"(allocate (\d+) bytes)");
        const std::string size = std::regex_search(text, m, bytes)
                                     ? " (an allocation of " + std::to_string(std::stoll(m[1]) >> 20) + " MiB failed)"
                                     : std::string();
        t.message = std::string(cuda_oom ? "out of GPU memory" : "out of memory") + size +
                    "; use fewer calibration samples, a shorter sequence length or a smaller batch";
        return t;
    }
    // First line only: anything after it is a backtrace.
    t.message = text.substr(0, text.find('\n'));
    return t;
}

}  // namespace scalebits
