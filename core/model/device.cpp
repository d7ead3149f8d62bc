#include "core/model/device.h"

#include <torch/cuda.h>

#include "core/util/option_error.h"

namespace scalebits::model {

torch::Device parse_device(const std::string& name) {
    if (name == "cpu") return torch::kCPU;
    if (name == "cuda") {
        if (!torch::cuda::is_available())
            throw OptionError(Setting::Device, "this build of LibTorch has no CUDA, or no GPU (cuda) is visible");
        return torch::kCUDA;
    }
    throw OptionError(Setting::Device, "unknown device '" + name + "' (expected cpu or cuda)");
}

}  // namespace scalebits::model
