#pragma once
// The command-line option behind each setting core names in an OptionError (core speaks of the
// setting; each command-line program puts the option in front of the message).
#include "core/util/option_error.h"

namespace scalebits::cli {

const char* option_of(Setting setting);

}  // namespace scalebits::cli
