// A sharded model's model.safetensors.index.json: shard names that leave the folder, are missing,
// absolute or empty; tensors listed under the wrong shard, twice or not at all.
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto dir = scalebits::fuzz::scratch("sharded");
    static const bool once = [&] {
        std::filesystem::create_directories(dir);
        scalebits::io::SafetensorsWriter first, second, outside;
        first.add_f32("a", {2}, {1.0f, 2.0f});
        first.add_f32("b", {3}, {3.0f, 4.0f, 5.0f});
        second.add_f32("c", {5}, {6.0f, 7.0f, 8.0f, 9.0f, 10.0f});
        outside.add_f32("d", {1}, {11.0f});
        first.write(dir / "model-00001-of-00002.safetensors");
        second.write(dir / "model-00002-of-00002.safetensors");
        outside.write(dir.parent_path() / "outside.safetensors");  // what "../outside.safetensors" would reach
        return true;
    }();
    (void)once;
    scalebits::fuzz::write(dir / "model.safetensors.index.json", data, size);
    scalebits::fuzz::expect_typed_errors([&] {
        const auto f = scalebits::io::read_safetensors_model(dir);
        for (const auto& t : f.tensors) (void)t.to_float();
    });
    return 0;
}
