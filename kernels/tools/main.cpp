// scalebits-kernels: verify the packed kernels against the CPU reference, or benchmark them.
//   scalebits-kernels verify [--device cpu|cuda] [--threads T]
//   scalebits-kernels bench --device cpu|cuda --shapes 4096x4096,... --bits 2,3,4,8,mixed
//                           --batch 1,4,16 [--group 128] [--threads T] [--iters I] [--json]
// Exit codes: 0 ok, 1 verify mismatch, 2 bad arguments or runtime error.
#include "cases.h"
#include "tool.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace scalebits::kernels::tool;

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

Options parse(int argc, char** argv) {
    if (argc < 2) throw std::invalid_argument("missing mode (verify or bench)");
    Options o;
    o.mode = argv[1];
    if (o.mode != "verify" && o.mode != "bench") throw std::invalid_argument("unknown mode '" + o.mode + "'");
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
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

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    try {
        opt = parse(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scalebits-kernels: %s\nusage: scalebits-kernels verify|bench [--device cpu|cuda] "
                             "[--shapes NxK,...] [--bits 2,3,4,8,mixed] [--batch 1,4,16] [--group G] [--threads T] "
                             "[--iters I] [--json]\n", e.what());
        return 2;
    }
    try {
        if (opt.mode == "verify") return run_verify(opt) == 0 ? 0 : 1;
        return run_bench(opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scalebits-kernels: %s\n", e.what());
        return 2;
    }
}
