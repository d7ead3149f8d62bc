#pragma once
// Every timeout in the test suite is a hang guard, never a performance bound: a test that waits for
// a signal, a child process or a condition gives up after kHangGuardMs and fails, so a deadlock
// ends the run instead of stalling CI. They are minutes because a sanitized build on a loaded
// 2-core machine runs one to two orders of magnitude slower than a quiet optimized one; how fast
// something is belongs in a CLI benchmark (--json), and tests report measured times with qInfo
// only. Qt Test's per-function watchdog (QTEST_FUNCTION_TIMEOUT) and CTest's per-test timeout sit
// above this one (tests/CMakeLists.txt, scripts/asan.sh).
namespace scalebits::testing {

inline constexpr int kHangGuardMs = 10 * 60 * 1000;

}  // namespace scalebits::testing
