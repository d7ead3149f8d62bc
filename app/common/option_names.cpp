#include "app/common/option_names.h"

namespace scalebits::cli {

const char* option_of(Setting s) {
    switch (s) {
    case Setting::Tile: return "--tile";
    case Setting::Group: return "--group";
    case Setting::Widths: return "--bits";
    case Setting::Context: return "--ctx";
    case Setting::Quantizer: return "--quantizer";
    case Setting::Rounds: return "--rounds";
    case Setting::Steps: return "--steps";
    case Setting::Temperature: return "--temperature";
    case Setting::TopK: return "--top-k";
    case Setting::TopP: return "--top-p";
    case Setting::Device: return "--device";
    case Setting::Format: return "--format";
    }
    return "?";
}

}  // namespace scalebits::cli
