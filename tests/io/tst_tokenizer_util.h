#pragma once
// Helpers shared by the tokenizer test suites: fixture loading, temporary files, SmolLM2 vocabulary.
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/tokenizer/factory.h"

namespace tokenizer_test {

inline std::filesystem::path fixture_path() {
    return std::filesystem::path(SCALEBITS_SOURCE_DIR) / "tests/data/tokenizer/smollm2_fixture.json";
}

inline nlohmann::json load_fixture() {
    std::ifstream in(fixture_path(), std::ios::binary);
    return nlohmann::json::parse(in);
}

inline std::filesystem::path smollm2_gguf() {
    return std::filesystem::path(SCALEBITS_MODEL_CACHE) / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

// The SmolLM2 vocabulary from the real model file; nullopt when the model is not downloaded.
inline std::optional<scalebits::tokenizer::GgufVocab> smollm2_vocab() {
    if (!std::filesystem::exists(smollm2_gguf())) return std::nullopt;
    const auto file = scalebits::io::read_gguf(smollm2_gguf());
    return scalebits::io::gguf_vocab(file);
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline QString ids_text(const std::vector<std::int32_t>& ids) {
    QStringList parts;
    for (auto id : ids) parts << QString::number(id);
    return parts.join(QLatin1Char(' '));
}

}  // namespace tokenizer_test
