// errors.h — the shim's error channel, shared by its translation units (not part of ctorch.h).
#ifndef CTORCH_ERRORS_H
#define CTORCH_ERRORS_H

#include "ctorch.h"

#include <stdexcept>
#include <string>

namespace ctorch {

// A failure the shim itself detects, with the category it belongs to.
struct Failure : std::runtime_error {
  mt_status status;
  Failure(mt_status s, const std::string &message) : std::runtime_error(message), status(s) {}
};

// Turns the exception in flight into this thread's (status, message) and returns the status.
// Call it only from inside a catch block.
mt_status record_current_exception() noexcept;

}  // namespace ctorch

#endif
