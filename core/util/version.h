#pragma once
namespace scalebits {
const char* version_string();
}
