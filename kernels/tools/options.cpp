// Command-line options of the kernel tool, shared by `scalebits-kernels` and
// `scalebits-cli bench-kernels`.
#include "cases.h"
#include "tool.h"

#include <sstream>
#include <stdexcept>

namespace scalebits::kernels::tool {

namespace {

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    if (out.empty()) throw std::invalid_argument("empty list '" + s + "'");
    return out;
}

std::size_t to_size(const std::string& s) {
    std::size_t pos = 0;
    const unsigned long long v = std::stoull(s, &pos);
    if (pos != s.size() || v == 0) throw std::invalid_argument("not a positive integer: '" + s + "'");
    return static_cast<std::size_t>(v);
}

}  // namespace

Options parse_options(const std::string& mode, const std::vector<std::string>& args) {
    Options o;
    o.mode = mode;
    if (o.mode != "verify" && o.mode != "bench") throw std::invalid_argument("unknown mode '" + o.mode + "'");
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
            return args[++i];
        };
        if (a == "--device") {
            o.device = value();
            if (o.device != "cpu" && o.device != "cuda") throw std::invalid_argument("--device must be cpu or cuda");
            o.cpu_only = o.device == "cpu";
        } else if (a == "--shapes") {
            o.shapes.clear();
            for (const auto& s : split(value())) {
                const auto x = s.find('x');
                if (x == std::string::npos) throw std::invalid_argument("shape '" + s + "' is not NxK");
                o.shapes.emplace_back(to_size(s.substr(0, x)), to_size(s.substr(x + 1)));
            }
        } else if (a == "--bits") {
            o.bits.clear();
            for (const auto& s : split(value())) {
                if (s == "mixed") o.bits.push_back(kMixed3);
                else if (s == "mixed2-8") o.bits.push_back(kMixedAll);
                else {
                    const std::size_t b = to_size(s);
                    if (b < 2 || b > 8) throw std::invalid_argument("--bits entries must be 2..8 or mixed");
                    o.bits.push_back(static_cast<int>(b));
                }
            }
        } else if (a == "--batch") {
            o.batches.clear();
            for (const auto& s : split(value())) o.batches.push_back(static_cast<int>(to_size(s)));
        } else if (a == "--threads") {
            o.threads = static_cast<int>(to_size(value()));
        } else if (a == "--iters") {
            o.iters = static_cast<int>(to_size(value()));
        } else if (a == "--group") {
            o.group = to_size(value());
        } else if (a == "--tile") {
            o.tile = to_size(value());
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--no-error-check") {
            o.check_error = false;
        } else if (a == "--verify") {  // accepted for symmetry with `scalebits-cli bench-kernels --verify`
            o.mode = "verify";
        } else {
            throw std::invalid_argument("unknown option '" + a + "'");
        }
    }
    return o;
}

}  // namespace scalebits::kernels::tool
