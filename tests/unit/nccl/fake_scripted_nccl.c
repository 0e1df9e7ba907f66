/* A scriptable stand-in for libnccl.so.2 (every symbol NcclLibrary resolves), so that unit tests
 * drive NcclComm's non-blocking protocol without a GPU (see fake_scripted_nccl.h). The test
 * reaches the script through fake_nccl_script(), found with dlsym.
 * Communicators are malloc'd and freed by abort/destroy, so ASan catches any later use. */
#include "fake_scripted_nccl.h"

#include <stdlib.h>
#include <string.h>

static struct FakeNcclScript script;
static int pending; /* polls left that report ncclInProgress; -1: forever */

struct FakeNcclScript* fake_nccl_script(void) { return &script; }

void fake_nccl_reset(void) {
  memset(&script, 0, sizeof(script));
  script.last_error = "";
  pending = 0;
}

struct ncclComm {
  int rank, size;
};

ncclResult_t ncclGetVersion(int* version) {
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}
const char* ncclGetErrorString(ncclResult_t result) {
  return result == ncclRemoteError ? "fake: remote process exited" : "fake: error";
}
const char* ncclGetLastError(ncclComm_t comm) {
  (void)comm;
  return script.last_error;
}
ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  memset(id, 7, sizeof(*id));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank,
                                    ncclConfig_t* config) {
  (void)id;
  script.inits++;
  script.config_blocking = config->blocking;
  *comm = (ncclComm_t)malloc(sizeof(struct ncclComm));
  (*comm)->rank = rank;
  (*comm)->size = nranks;
  if (script.init_result != ncclInProgress) return script.init_result;
  pending = script.init_polls;
  return ncclInProgress;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* state) {
  if (comm == NULL) return ncclInvalidArgument;
  script.polls++;
  if (script.async_error != ncclSuccess) {
    *state = script.async_error;
  } else if (pending != 0) {
    if (pending > 0) pending--;
    *state = ncclInProgress;
  } else {
    *state = ncclSuccess;
  }
  return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  (void)comm;
  script.finalizes++;
  pending = script.finalize_polls;
  return pending != 0 ? ncclInProgress : ncclSuccess;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  script.destroys++;
  free(comm);
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  script.aborts++;
  free(comm);
  return ncclSuccess;
}

/* Every enqueue: record, then return the scripted result (arming the polls for InProgress). */
static ncclResult_t Called(size_t count, ncclDataType_t type, ncclRedOp_t op, int peer) {
  script.last_count = count;
  script.last_type = type;
  script.last_op = op;
  script.last_peer = peer;
  if (script.call_result == ncclInProgress) pending = script.call_polls;
  return script.call_result;
}

ncclResult_t ncclAllReduce(const void* s, void* r, size_t n, ncclDataType_t t, ncclRedOp_t op,
                           ncclComm_t c, cudaStream_t st) {
  (void)s, (void)r, (void)c, (void)st;
  script.collectives++;
  return Called(n, t, op, -1);
}
ncclResult_t ncclReduceScatter(const void* s, void* r, size_t n, ncclDataType_t t, ncclRedOp_t op,
                               ncclComm_t c, cudaStream_t st) {
  (void)s, (void)r, (void)c, (void)st;
  script.collectives++;
  return Called(n, t, op, -1);
}
ncclResult_t ncclAllGather(const void* s, void* r, size_t n, ncclDataType_t t, ncclComm_t c,
                           cudaStream_t st) {
  (void)s, (void)r, (void)c, (void)st;
  script.collectives++;
  return Called(n, t, ncclSum, -1);
}
ncclResult_t ncclBroadcast(const void* s, void* r, size_t n, ncclDataType_t t, int root,
                           ncclComm_t c, cudaStream_t st) {
  (void)s, (void)r, (void)c, (void)st;
  script.collectives++;
  return Called(n, t, ncclSum, root);
}
ncclResult_t ncclReduce(const void* s, void* r, size_t n, ncclDataType_t t, ncclRedOp_t op,
                        int root, ncclComm_t c, cudaStream_t st) {
  (void)s, (void)r, (void)c, (void)st;
  script.collectives++;
  return Called(n, t, op, root);
}
/* Inside a group NCCL only records the call; the result comes from ncclGroupEnd. */
ncclResult_t ncclSend(const void* s, size_t n, ncclDataType_t t, int peer, ncclComm_t c,
                      cudaStream_t st) {
  (void)s, (void)c, (void)st;
  script.sends++;
  script.peer_mask_sent |= 1u << peer;
  return script.group_depth > 0 ? ncclSuccess : Called(n, t, ncclSum, peer);
}
ncclResult_t ncclRecv(void* r, size_t n, ncclDataType_t t, int peer, ncclComm_t c,
                      cudaStream_t st) {
  (void)r, (void)c, (void)st;
  script.recvs++;
  script.peer_mask_received |= 1u << peer;
  return script.group_depth > 0 ? ncclSuccess : Called(n, t, ncclSum, peer);
}
ncclResult_t ncclGroupStart(void) {
  script.group_starts++;
  script.group_depth++;
  return ncclSuccess;
}
ncclResult_t ncclGroupEnd(void) {
  script.group_ends++;
  if (--script.group_depth > 0) return ncclSuccess;
  return Called(script.last_count, script.last_type, script.last_op, script.last_peer);
}
