/* The script of fake_scripted_nccl.c, shared with the C++ test that drives it: which result
 * each NCCL call returns, how many ncclCommGetAsyncError polls stay ncclInProgress, an
 * asynchronous error to report, and counters of what was called. */
#ifndef COHORT_TESTS_FAKE_SCRIPTED_NCCL_H_
#define COHORT_TESTS_FAKE_SCRIPTED_NCCL_H_

#include <nccl.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct FakeNcclScript {
  ncclResult_t init_result;  /* ncclCommInitRankConfig's return */
  int init_polls;            /* polls reporting ncclInProgress after init; -1: forever */
  ncclResult_t call_result;  /* every collective, send, recv and outer ncclGroupEnd returns this */
  int call_polls;            /* polls reporting ncclInProgress after such a call; -1: forever */
  int finalize_polls;        /* the same after ncclCommFinalize */
  ncclResult_t async_error;  /* reported by ncclCommGetAsyncError while set */
  const char* last_error;    /* ncclGetLastError's text */
  /* What was called. */
  int inits, aborts, destroys, finalizes, polls, group_starts, group_ends;
  int collectives, sends, recvs, group_depth, config_blocking;
  ncclDataType_t last_type;
  ncclRedOp_t last_op;
  size_t last_count;
  int last_peer;
  unsigned peer_mask_sent, peer_mask_received;
};

/* Both found with dlsym in the loaded fake. */
typedef struct FakeNcclScript* (*FakeNcclScriptFn)(void);
typedef void (*FakeNcclResetFn)(void);

#ifdef __cplusplus
}
#endif

#endif
