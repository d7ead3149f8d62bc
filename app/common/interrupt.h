#pragma once
// Ctrl+C for the CLI. A command that polls a cancel token (every one that reports progress) arms
// the handler: the first SIGINT then cancels through the token (core stops at its next checkpoint,
// writes nothing under the final names, and main exits 130), a second one ends the process at
// once. Commands that never arm it keep the default action, so Ctrl+C still stops them.
#include "core/util/cancel.h"

namespace scalebits::cli {

// The token SIGINT cancels; the first call installs the handler (cli_progress in common.h calls it).
const CancelToken& interrupt_token();

}  // namespace scalebits::cli
