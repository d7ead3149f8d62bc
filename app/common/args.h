#pragma once
// Command-line options of one subcommand: `--name value`, `--name=value` and boolean `--flag`.
// Every option must be declared; an unknown or malformed one is a usage error (exit code 2).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace scalebits::cli {

class Args {
public:
    // `valued` take a value, `flags` do not. argv excludes the program and subcommand names.
    Args(const std::vector<std::string>& argv, const std::set<std::string>& valued, const std::set<std::string>& flags);

    bool flag(const std::string& name) const { return flags_.count(name) != 0; }
    std::optional<std::string> get(const std::string& name) const;
    std::string require(const std::string& name) const;
    std::string get_or(const std::string& name, const std::string& fallback) const;
    std::int64_t get_int(const std::string& name, std::int64_t fallback) const;
    double get_double(const std::string& name, double fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::string> values_;
    std::set<std::string> flags_;
    std::vector<std::string> positional_;
};

}  // namespace scalebits::cli
