// errors.cpp — the shim's error channel: one (status, message) pair per thread, and the rules that
// give a caught C++ exception its category. Kept apart from shim.cpp because it needs only c10's
// exception types, not ATen, so it compiles in a second instead of twenty.
#include "errors.h"

#include <c10/util/Exception.h>

#include <cctype>
#include <initializer_list>
#include <new>
#include <string>

namespace ctorch {

namespace {

thread_local mt_status last_status = MT_OK;
thread_local std::string last_error;

bool mentions(const std::string &lower, std::initializer_list<const char *> phrases) {
  for (const char *p : phrases)
    if (lower.find(p) != std::string::npos) return true;
  return false;
}

// Most of libtorch's checks (TORCH_CHECK) throw a plain c10::Error, whatever went wrong: the only
// hint of the kind of failure is the message. The phrases below are the ones libtorch 1.13 and 2.x
// use; the order matters ("CUDA out of memory" is an allocation failure first).
mt_status classify(const std::string &message) {
  std::string m = message;
  for (auto &c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (mentions(m, {"out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory"}))
    return MT_ERR_OUT_OF_MEMORY;
  if (mentions(m, {"cuda", "cudnn", "cublas", "device"})) return MT_ERR_DEVICE;
  if (mentions(m, {"dtype", "scalar type", "result type", "floating point", "not implemented for '",
                   "can't be cast", "boolean tensor"}))
    return MT_ERR_DTYPE;
  if (mentions(m, {"shape", "size", "dimension", "dims", "index", "out of range", "must match", "channels",
                   "divisible", "elements", "broadcast", "stride", "scalar outputs"}))
    return MT_ERR_SHAPE;
  return MT_ERR_INTERNAL;
}

}  // namespace

// Typed exceptions decide the category before the message does.
mt_status record_current_exception() noexcept {
  mt_status status = MT_ERR_INTERNAL;
  std::string message;
  try {
    try {
      throw;
    } catch (const Failure &e) {
      status = e.status;
      message = e.what();
    } catch (const c10::OutOfMemoryError &e) {
      status = MT_ERR_OUT_OF_MEMORY;
      message = e.what_without_backtrace();
    } catch (const c10::IndexError &e) {
      status = MT_ERR_SHAPE;
      message = e.what_without_backtrace();
    } catch (const c10::ValueError &e) {
      status = MT_ERR_SHAPE;
      message = e.what_without_backtrace();
    } catch (const c10::TypeError &e) {
      status = MT_ERR_DTYPE;
      message = e.what_without_backtrace();
    } catch (const c10::Error &e) {
      message = e.what_without_backtrace();
      status = classify(message);
    } catch (const std::bad_alloc &) {
      status = MT_ERR_OUT_OF_MEMORY;
      message = "out of memory (std::bad_alloc)";
    } catch (const std::exception &e) {
      message = e.what();
      status = classify(message);
    } catch (...) {
      message = "unknown C++ exception";
    }
  } catch (...) {
    // Copying the message failed, which in practice means memory is exhausted.
    status = MT_ERR_OUT_OF_MEMORY;
    message.clear();
  }
  last_status = status;
  last_error.swap(message);
  return status;
}

}  // namespace ctorch

extern "C" {
mt_status mt_last_status(void) noexcept { return ctorch::last_status; }
const char *mt_last_error(void) noexcept { return ctorch::last_error.c_str(); }
}
