#include "core/util/default_paths.h"

namespace scalebits {

namespace {
const std::filesystem::path kSource = SCALEBITS_SOURCE_DIR;
}

std::filesystem::path default_model_path() { return kSource / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"; }
std::filesystem::path default_calibration_text() { return kSource.parent_path() / "shared" / "data" / "c4" / "c4-sample.utf8"; }
std::filesystem::path default_evaluation_text() {
    return kSource.parent_path() / "shared" / "data" / "wikitext-2-raw" / "wiki.test.raw";
}
std::filesystem::path default_analysis_folder() { return kSource / ".cache" / "analyses"; }

}  // namespace scalebits
