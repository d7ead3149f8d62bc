#pragma once
// Typed errors thrown inside core. The CLI maps InputError to exit code 2 and everything else to 1;
// the GUI shows the message in a dialog. Messages always name the file and the problem.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace scalebits {

// Something the caller can fix: a broken or unsupported file, a bad option.
class InputError : public std::runtime_error {
public:
    InputError(const std::filesystem::path& file, const std::string& problem)
        : std::runtime_error(file.empty() ? problem : file.string() + ": " + problem),
          file_(file), problem_(problem) {}
    explicit InputError(const std::string& problem) : InputError({}, problem) {}
    const std::filesystem::path& file() const { return file_; }
    const std::string& problem() const { return problem_; }

private:
    std::filesystem::path file_;
    std::string problem_;
};

// A file that parses but violates the format (bad header, overlapping offsets, ...).
class FormatError : public InputError {
public:
    using InputError::InputError;
};

// The user asked to stop; nothing is published.
class CancelledError : public std::runtime_error {
public:
    CancelledError() : std::runtime_error("cancelled") {}
};

}  // namespace scalebits
