/* A stand-in for an NCCL older than cohort supports: only ncclGetVersion, reporting 2.10.3
 * (NCCL_VERSION(2,10,3) = 21003). Built for unit_nccl only; returns ncclSuccess (0). */
int ncclGetVersion(int* version) {
  *version = 21003;
  return 0;
}
