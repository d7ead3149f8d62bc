#pragma once
// Where the project keeps its default inputs (relative to the source tree this build came from):
// the default model scripts/fetch-model.sh downloads, the calibration and evaluation texts of
// ../shared/data, and the folder analyses of the default model are saved to.
#include <filesystem>

namespace scalebits {

std::filesystem::path default_model_path();         // .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
std::filesystem::path default_calibration_text();   // ../shared/data/c4/c4-sample.utf8
std::filesystem::path default_evaluation_text();    // ../shared/data/wikitext-2-raw/wiki.test.raw
std::filesystem::path default_analysis_folder();    // .cache/analyses

}  // namespace scalebits
