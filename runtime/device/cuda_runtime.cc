// CUDA runtime wrapper (see cuda_runtime.h). Built with CUDA, it calls the statically linked
// runtime, which loads the driver (libcuda.so.1) on first use; without it, every call reports
// why no device is usable.
#include "runtime/device/cuda_runtime.h"

#include <thread>
#include <utility>

#include "cohort/build_config.h"

#if COHORT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace cohort::cuda {

#if COHORT_HAVE_CUDA

namespace {

// One conversion of CUDA's error codes: the call, CUDA's name and text for the code.
Status CudaStatus(cudaError_t code, const std::string& what) {
  if (code == cudaSuccess) return Status::Ok();
  std::string message = what + " failed: " + cudaGetErrorName(code) + " (" +
                        cudaGetErrorString(code) + ")";
  switch (code) {
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevice:
    case cudaErrorInvalidDevicePointer:
      return InvalidArgumentError(std::move(message));
    case cudaErrorMemoryAllocation:
      return UnavailableError(std::move(message) + "; free device or pinned memory, or use smaller buffers");
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return UnavailableError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

// cudaGetDeviceCount's verdict, asked once per call (cheap after the first) and never cached
// in a static, so a test can rely on the same answer the runtime gives.
cudaError_t CountDevices(int* count) {
  *count = 0;
  cudaError_t code = cudaGetDeviceCount(count);
  if (code != cudaSuccess) {
    *count = 0;
    cudaGetLastError();  // clear the sticky "no device" error for later calls
  }
  return code;
}

}  // namespace

bool Built() { return true; }

int DeviceCount() {
  int count = 0;
  CountDevices(&count);
  return count;
}

std::string NoDeviceReason() {
  int count = 0;
  cudaError_t code = CountDevices(&count);
  if (count > 0) return {};
  if (code == cudaSuccess) return "no CUDA-capable device is visible";
  if (code == cudaErrorInsufficientDriver) {
    // CUDA says "driver version is insufficient" also when there is no driver at all.
    return "no usable CUDA driver: libcuda.so.1 is missing or older than this CUDA runtime needs";
  }
  return std::string(cudaGetErrorString(code)) + " (" + cudaGetErrorName(code) + ")";
}

Device PointerDevice(const void* ptr) {
  cudaPointerAttributes attributes{};
  if (ptr == nullptr || DeviceCount() == 0) return Device::Cpu();
  if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
    cudaGetLastError();
    return Device::Cpu();
  }
  if (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged) {
    return Device::Cuda(attributes.device);
  }
  return Device::Cpu();
}

Status SetDevice(int ordinal) {
  return CudaStatus(cudaSetDevice(ordinal), "cudaSetDevice(" + std::to_string(ordinal) + ")");
}

std::string DeviceDescription(int ordinal) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, ordinal) != cudaSuccess) {
    cudaGetLastError();
    return "cuda:" + std::to_string(ordinal) + " (unknown)";
  }
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ", " + std::to_string(prop.multiProcessorCount) + " SMs, " +
         std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
}

Status MemcpyAsync(void* dst, const void* src, size_t bytes, void* stream) {
  if (bytes == 0) return Status::Ok();
  return CudaStatus(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault,
                                    static_cast<cudaStream_t>(stream)),
                    "cudaMemcpyAsync of " + std::to_string(bytes) + " bytes");
}

Status Memcpy2DAsync(void* dst, size_t dst_pitch, const void* src, size_t src_pitch,
                     size_t row_bytes, size_t rows, void* stream) {
  if (row_bytes == 0 || rows == 0) return Status::Ok();
  if (rows == 1) return MemcpyAsync(dst, src, row_bytes, stream);
  return CudaStatus(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, row_bytes, rows,
                                      cudaMemcpyDefault, static_cast<cudaStream_t>(stream)),
                    "cudaMemcpy2DAsync of " + std::to_string(rows) + " x " +
                        std::to_string(row_bytes) + " bytes");
}

Status StreamSynchronize(void* stream) {
  return CudaStatus(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)),
                    "cudaStreamSynchronize");
}

// ---- Stream ----

Result<Stream> Stream::Create(int device, bool blocking) {
  COHORT_RETURN_IF_ERROR(SetDevice(device));
  cudaStream_t handle = nullptr;
  COHORT_RETURN_IF_ERROR(CudaStatus(
      cudaStreamCreateWithFlags(&handle, blocking ? cudaStreamDefault : cudaStreamNonBlocking),
      "cudaStreamCreateWithFlags"));
  Stream stream;
  stream.handle_ = handle;
  stream.device_ = device;
  return stream;
}

Stream::~Stream() {
  if (handle_ != nullptr) cudaStreamDestroy(static_cast<cudaStream_t>(handle_));
}

// ---- Event ----

Result<Event> Event::Create(int device, bool timing) {
  COHORT_RETURN_IF_ERROR(SetDevice(device));
  cudaEvent_t handle = nullptr;
  COHORT_RETURN_IF_ERROR(CudaStatus(
      cudaEventCreateWithFlags(&handle, timing ? cudaEventDefault : cudaEventDisableTiming),
      "cudaEventCreateWithFlags"));
  Event event;
  event.handle_ = handle;
  return event;
}

Event::~Event() {
  if (handle_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(handle_));
}

Status Event::Record(void* stream) {
  return CudaStatus(cudaEventRecord(static_cast<cudaEvent_t>(handle_),
                                    static_cast<cudaStream_t>(stream)),
                    "cudaEventRecord");
}

Status Event::BlockStream(void* stream) const {
  return CudaStatus(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream),
                                        static_cast<cudaEvent_t>(handle_), 0),
                    "cudaStreamWaitEvent");
}

Result<bool> Event::Query() const {
  cudaError_t code = cudaEventQuery(static_cast<cudaEvent_t>(handle_));
  if (code == cudaSuccess) return true;
  if (code == cudaErrorNotReady) return false;
  return CudaStatus(code, "cudaEventQuery");
}

Status Event::Wait(Deadline deadline) const {
  // Spin briefly (short collectives finish within microseconds), then poll with sleeps so a
  // long wait costs no CPU and still ends at the deadline.
  for (int spins = 0;; ++spins) {
    COHORT_ASSIGN_OR_RETURN(bool done, Query());
    if (done) return Status::Ok();
    if (deadline.expired()) {
      return DeadlineExceededError("CUDA work did not finish before the deadline (COHORT_TIMEOUT)");
    }
    if (spins < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
}

Result<float> Event::ElapsedMs(const Event& start) const {
  float ms = 0;
  COHORT_RETURN_IF_ERROR(CudaStatus(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.handle_),
                           static_cast<cudaEvent_t>(handle_)),
      "cudaEventElapsedTime"));
  return ms;
}

// ---- PinnedBuffer / DeviceBuffer ----

Result<PinnedBuffer> PinnedBuffer::Allocate(size_t bytes) {
  void* data = nullptr;
  COHORT_RETURN_IF_ERROR(CudaStatus(cudaHostAlloc(&data, bytes, cudaHostAllocPortable),
                                    "cudaHostAlloc of " + std::to_string(bytes) + " bytes"));
  PinnedBuffer buffer;
  buffer.data_ = data;
  buffer.bytes_ = bytes;
  return buffer;
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

Result<DeviceBuffer> DeviceBuffer::Allocate(int device, size_t bytes) {
  COHORT_RETURN_IF_ERROR(SetDevice(device));
  void* data = nullptr;
  COHORT_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&data, bytes == 0 ? 1 : bytes),
                                    "cudaMalloc of " + std::to_string(bytes) + " bytes"));
  DeviceBuffer buffer;
  buffer.data_ = data;
  buffer.bytes_ = bytes;
  buffer.device_ = device;
  return buffer;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

#else  // built without CUDA: nothing is a device, everything that needs one says why.

namespace {
Status NotBuilt() {
  return UnimplementedError(
      "cohort was built without CUDA; rebuild on a host with nvcc (COHORT_WITH_CUDA=ON)");
}
}  // namespace

bool Built() { return false; }
int DeviceCount() { return 0; }
std::string NoDeviceReason() { return "cohort was built without CUDA"; }
Device PointerDevice(const void*) { return Device::Cpu(); }
Status SetDevice(int) { return NotBuilt(); }
std::string DeviceDescription(int ordinal) { return "cuda:" + std::to_string(ordinal) + " (no CUDA)"; }
Status MemcpyAsync(void*, const void*, size_t, void*) { return NotBuilt(); }
Status Memcpy2DAsync(void*, size_t, const void*, size_t, size_t, size_t, void*) {
  return NotBuilt();
}
Status StreamSynchronize(void*) { return NotBuilt(); }
Result<Stream> Stream::Create(int, bool) { return NotBuilt(); }
Stream::~Stream() = default;
Result<Event> Event::Create(int, bool) { return NotBuilt(); }
Event::~Event() = default;
Status Event::Record(void*) { return NotBuilt(); }
Status Event::BlockStream(void*) const { return NotBuilt(); }
Result<bool> Event::Query() const { return NotBuilt(); }
Status Event::Wait(Deadline) const { return NotBuilt(); }
Result<float> Event::ElapsedMs(const Event&) const { return NotBuilt(); }
Result<PinnedBuffer> PinnedBuffer::Allocate(size_t) { return NotBuilt(); }
PinnedBuffer::~PinnedBuffer() = default;
Result<DeviceBuffer> DeviceBuffer::Allocate(int, size_t) { return NotBuilt(); }
DeviceBuffer::~DeviceBuffer() = default;

#endif

// Move assignment swaps, so the moved-from object releases what this one held (both builds).
Stream& Stream::operator=(Stream&& other) noexcept {
  std::swap(handle_, other.handle_);
  std::swap(device_, other.device_);
  return *this;
}

Event& Event::operator=(Event&& other) noexcept {
  std::swap(handle_, other.handle_);
  return *this;
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(bytes_, other.bytes_);
  return *this;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(bytes_, other.bytes_);
  std::swap(device_, other.device_);
  return *this;
}

Status CheckDevice(Device device, int rank) {
  if (device.is_cpu()) return Status::Ok();
  const std::string who = "rank " + std::to_string(rank);
  if (!Built()) {  // not a property of this host: no GPU would help, so say what would
    return UnimplementedError(device.ToString() + " buffer on " + who +
                              ", but cohort was built without CUDA; pass CPU buffers, or "
                              "rebuild on a host with nvcc (COHORT_WITH_CUDA=ON)");
  }
  int count = DeviceCount();
  if (count == 0) {
    return InvalidArgumentError("no CUDA device visible to " + who + " (" + NoDeviceReason() +
                            "); pass CPU buffers, or run on a host with a GPU");
  }
  if (device.index < 0 || device.index >= count) {
    return InvalidArgumentError(device.ToString() + " does not exist on " + who + " (" +
                                std::to_string(count) + " visible: cuda:0..cuda:" +
                                std::to_string(count - 1) + "; check CUDA_VISIBLE_DEVICES)");
  }
  return Status::Ok();
}

}  // namespace cohort::cuda
