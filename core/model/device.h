#pragma once
// Which LibTorch device a job runs on, by name ("cpu" or "cuda"), checked before any work starts.
#include <torch/types.h>

#include <string>

namespace scalebits::model {

// Throws OptionError (Setting::Device) for an unknown name, or for cuda when this LibTorch has no
// CUDA or no GPU is visible.
torch::Device parse_device(const std::string& name);

}  // namespace scalebits::model
