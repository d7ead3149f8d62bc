// Analysis files: the JSON description in the safetensors metadata (model config, options, one
// record per matrix, the number of layers) against the tables and permutations it describes.
#include "core/analysis/analysis_file.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = scalebits::fuzz::scratch("analysis.sba");
    scalebits::fuzz::write(path, data, size);
    scalebits::fuzz::expect_typed_errors([&] {
        const auto a = scalebits::analysis::load_analysis(path);
        // What every caller does next: sizes for the budget and the tables per matrix.
        (void)a.total_tiles();
        (void)a.total_weights();
        for (const auto& m : a.matrices) (void)a.matrix(m.name);
    });
    return 0;
}
