#pragma once
// A bad setting of a job, said in domain words ("the tile width 96 is not a multiple of the group
// 64"), tagged with the setting it concerns: each face points at its own control. The CLI puts the
// option's name in front (app/cli/main.cpp), the explorer shows the message by the widget.
#include <string>

#include "core/util/error.h"

namespace scalebits {

enum class Setting { Tile, Group, Widths, Context, Quantizer, Rounds, Steps, Temperature, TopK, TopP, Device, Format };

class OptionError : public InputError {
public:
    OptionError(Setting setting, const std::string& problem) : InputError(problem), setting_(setting) {}
    OptionError(Setting setting, const std::filesystem::path& file, const std::string& problem)
        : InputError(file, problem), setting_(setting) {}
    Setting setting() const { return setting_; }

private:
    Setting setting_;
};

}  // namespace scalebits
