#pragma once
// One clear line for an exception that escaped core: LibTorch's errors carry a C++ backtrace in
// what(), which users should not see; its allocation failures (CPU or CUDA) become "out of memory"
// with the size that failed and what to do about it.
#include <exception>
#include <string>

namespace scalebits {

struct ExceptionText {
    std::string message;
    bool out_of_memory = false;
};

ExceptionText describe_exception(const std::exception& e);

}  // namespace scalebits
