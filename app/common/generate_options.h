#pragma once
// The generation options both command-line programs take (scalebits-cli generate, scalebits-run):
// --prompt, --steps, greedy or sampled (--temperature, --top-k, --top-p, --seed), --no-bos.
#include <set>
#include <string>

#include "app/common/args.h"
#include "core/eval/generate.h"
#include "core/model/checkpoint.h"

namespace scalebits::cli {

inline const std::set<std::string> kGenerateOptions = {"prompt", "steps", "temperature", "top-k", "top-p", "seed"};
inline const std::set<std::string> kGenerateFlags = {"greedy", "no-bos"};

// The options for `checkpoint` (whose tokenizer decides BOS): llama2.c models always start from BOS
// and, like its run.c, stop only at BOS.
eval::GenerateOptions generate_options(const Args& args, const model::Checkpoint& checkpoint);

// The positions a decoder needs for these options: the steps, at most the model's context.
std::int64_t generate_positions(const eval::GenerateOptions& options, const model::Checkpoint& checkpoint);

}  // namespace scalebits::cli
