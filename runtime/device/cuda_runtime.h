// The CUDA runtime as cohort uses it: devices, pointers, streams, events, pinned host memory.
//
// Every function works in every build. Built without CUDA, or on a host without a driver or a
// GPU, DeviceCount() is 0 and anything that needs a device returns an error that says so
// (never a crash), so CPU work is unaffected. CUDA error codes become Status here, once, with
// CUDA's own text. Streams and events are passed as opaque `void*` (cudaStream_t / cudaEvent_t)
// so that headers above this one need no CUDA headers.
//
// Thread safety: the functions are thread-safe as the CUDA runtime is; a Stream, Event or
// PinnedBuffer object belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <string>

#include "runtime/base/deadline.h"
#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort::cuda {

// True when this library was built with CUDA (nvcc was found at build time).
bool Built();
// Visible devices; 0 without CUDA, a driver or a GPU. Never fails.
int DeviceCount();
// Why no device is usable ("built without CUDA", "no CUDA driver", "no CUDA-capable device"),
// for messages; empty when DeviceCount() > 0.
std::string NoDeviceReason();
// Ok when `device` is a CUDA device this process can use; otherwise a clear error naming the
// rank: "no CUDA device visible to rank 3 (...)" or "cuda:4 does not exist on rank 3 (2 visible)".
Status CheckDevice(Device device, int rank);
// Where `ptr` lives: Device::Cuda(n) for device and managed memory, Device::Cpu() for host
// memory (pageable or pinned). Without CUDA every pointer is host memory.
Device PointerDevice(const void* ptr);
// Makes `ordinal` the calling thread's current device.
Status SetDevice(int ordinal);
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" for logs and benchmark results.
std::string DeviceDescription(int ordinal);

// Copies `bytes` from src to dst in `stream` order (any direction; unified addressing).
Status MemcpyAsync(void* dst, const void* src, size_t bytes, void* stream);
// Copies `rows` rows of `row_bytes` from src (rows `src_pitch` apart) to dst (`dst_pitch` apart).
Status Memcpy2DAsync(void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                     size_t row_bytes, size_t rows, void* stream);
Status StreamSynchronize(void* stream);

// An owned CUDA stream created on the current device, non-blocking with respect to the legacy
// default stream unless `blocking`.
class Stream {
 public:
  static Result<Stream> Create(int device, bool blocking);
  Stream() = default;
  Stream(Stream&& other) noexcept : handle_(other.handle_), device_(other.device_) {
    other.handle_ = nullptr;
  }
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  void* get() const { return handle_; }
  int device() const { return device_; }

 private:
  void* handle_ = nullptr;
  int device_ = -1;
};

// An owned CUDA event (timing disabled unless asked for).
class Event {
 public:
  static Result<Event> Create(int device, bool timing = false);
  Event() = default;
  Event(Event&& other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  void* get() const { return handle_; }
  Status Record(void* stream);
  // Makes `stream` wait (on the device) for the work this event recorded.
  Status BlockStream(void* stream) const;
  // True once the recorded work finished; an error if that work failed.
  Result<bool> Query() const;
  // Waits until the recorded work finished, polling so that the wait ends at `deadline` with
  // DeadlineExceeded (a hung kernel must not hang the caller forever).
  Status Wait(Deadline deadline) const;
  // Milliseconds between two recorded events (both created with timing).
  Result<float> ElapsedMs(const Event& start) const;

 private:
  void* handle_ = nullptr;
};

// Page-locked host memory (cudaHostAlloc), so device copies run at full speed and async.
class PinnedBuffer {
 public:
  static Result<PinnedBuffer> Allocate(size_t bytes);
  PinnedBuffer() = default;
  PinnedBuffer(PinnedBuffer&& other) noexcept : data_(other.data_), bytes_(other.bytes_) {
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Device memory (cudaMalloc) on the current device, for tests and benchmarks.
class DeviceBuffer {
 public:
  static Result<DeviceBuffer> Allocate(int device, size_t bytes);
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(other.data_), bytes_(other.bytes_), device_(other.device_) {
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  int device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  int device_ = -1;
};

}  // namespace cohort::cuda
