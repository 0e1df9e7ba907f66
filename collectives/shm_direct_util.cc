// Helpers of the direct shared-memory collectives; see shm_direct_util.h.
#include "collectives/shm_direct_util.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "collectives/algorithm_util.h"
#include "collectives/args_check.h"

namespace cohort::detail {

namespace {
constexpr size_t kLineBytes = 64;
size_t LineElements(size_t element_bytes) { return std::max<size_t>(1, kLineBytes / element_bytes); }
}  // namespace

size_t SlotElements(size_t bytes, size_t element_bytes) {
  const size_t line = LineElements(element_bytes);
  return std::max(line, bytes / element_bytes / line * line);
}

Range AlignedSlice(size_t count, int parts, int index, size_t element_bytes) {
  const size_t line = LineElements(element_bytes);
  const size_t lines = (count + line - 1) / line;
  const Range in_lines = BlockRange(lines, static_cast<size_t>(parts), static_cast<size_t>(index));
  const size_t begin = std::min(count, in_lines.offset * line);
  const size_t end = std::min(count, in_lines.end() * line);
  return Range{begin, end - begin};
}

Status GetSourceArray(Workspace& ws, int n, const void*** out) {
  std::byte* area = nullptr;
  COHORT_RETURN_IF_ERROR(GetScratch(ws, kPointerSlot, static_cast<size_t>(n) * sizeof(void*), &area));
  *out = reinterpret_cast<const void**>(area);
  return Status::Ok();
}

Result<SharedArena*> BeginShmCall(PeerIo& io, const CollectiveArgs& args, CollectiveKind kind,
                                  const char* algorithm) {
  COHORT_RETURN_IF_ERROR(ValidateArgs(io, args, kind, algorithm));
  if (io.size() == 1) {
    COHORT_RETURN_IF_ERROR(RunAlone(args));
    return static_cast<SharedArena*>(nullptr);
  }
  if (args.count == 0 && kind != CollectiveKind::kBarrier) return static_cast<SharedArena*>(nullptr);
  SharedArena* arena = io.arena();
  if (arena == nullptr) {
    return UnimplementedError(std::string(algorithm) +
                              " needs every rank on one host with shared memory (no arena here: "
                              "ranks on several hosts, COHORT_TRANSPORT=tcp, or "
                              "COHORT_SHM_SLOT_BYTES=0)");
  }
  return arena;
}

}  // namespace cohort::detail
