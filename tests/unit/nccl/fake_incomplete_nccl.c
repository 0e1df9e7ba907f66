/* A stand-in for a new-enough but incomplete libnccl: ncclGetVersion (2.28.9) and
 * ncclGetErrorString, nothing else, so loading must name the missing symbols. */
int ncclGetVersion(int* version) {
  *version = 22809;
  return 0;
}

const char* ncclGetErrorString(int result) {
  (void)result;
  return "fake";
}
