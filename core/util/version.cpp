#include "core/util/version.h"
namespace scalebits {
const char* version_string() { return "0.1.0"; }
}
