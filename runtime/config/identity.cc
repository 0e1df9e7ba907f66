// DetectIdentity: reads rank and size from whichever launcher's variables are present (see
// identity.h for the order). Every scheme present is read; the first complete one wins and every
// other complete one must agree with it, so a stale variable left by an outer launcher is caught
// instead of silently giving two processes the same rank.
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/config/identity.h"

namespace cohort {
namespace {

struct Scheme {
  const char* name;
  const char* rank_var;
  const char* size_var;
  const char* local_rank_var;  // nullptr: the scheme has none
  const char* local_size_var;
  const char* node_rank_var;
  // PMIx exports only the rank; a job size must come from PMI_SIZE (or another scheme).
  bool rank_alone_ok;
  // Slurm allocations (salloc, sbatch) export SLURM_NTASKS without a task rank.
  bool size_alone_ok;
};

// In precedence order. Open MPI's OMPI_COMM_WORLD_NODE_RANK is a rank within the node, not a
// node index, so it is not used as node_rank.
constexpr Scheme kSchemes[] = {
    {"cohort", "COHORT_RANK", "COHORT_WORLD_SIZE", "COHORT_LOCAL_RANK", "COHORT_LOCAL_SIZE",
     "COHORT_NODE_RANK", false, false},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE", nullptr, false, false},
    {"pmix", "PMIX_RANK", "PMI_SIZE", nullptr, nullptr, nullptr, true, true},
    {"pmi", "PMI_RANK", "PMI_SIZE", nullptr, nullptr, nullptr, false, true},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr, "SLURM_NODEID", false,
     true},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", false,
     false},
};

// A scheme as read from the environment: complete when both rank and size are present.
struct Found {
  const Scheme* scheme;
  Identity identity;
  std::string evidence;  // "COHORT_RANK=1, COHORT_WORLD_SIZE=4"
};

const std::string* Get(const EnvMap& env, const char* name) {
  if (name == nullptr) return nullptr;
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return nullptr;
  return &it->second;
}

// Parses a decimal integer in [min, max]; errors name the variable, its value and the range.
Result<int> ParseInt(const std::string& var, const std::string& text, long min, long max,
                     const std::string& meaning) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(begin, &end, 10);
  bool numeric = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) ||
                                   text[0] == '-') && *end == '\0' && errno == 0;
  if (!numeric) {
    return InvalidArgumentError(var + "='" + text + "' is not a number; expected " + meaning);
  }
  if (value < min || value > max) {
    return InvalidArgumentError(var + "=" + text + " is out of range; expected " + meaning +
                                " (" + std::to_string(min) + ".." + std::to_string(max) + ")");
  }
  return static_cast<int>(value);
}

Result<std::optional<Found>> ReadScheme(const EnvMap& env, const Scheme& s) {
  const std::string* rank = Get(env, s.rank_var);
  const std::string* size = Get(env, s.size_var);
  if (rank == nullptr && size == nullptr) return std::optional<Found>();
  if (rank != nullptr && size == nullptr) {
    if (s.rank_alone_ok) return std::optional<Found>();
    return InvalidArgumentError(std::string(s.rank_var) + "=" + *rank + " is set but " +
                                s.size_var + " is missing; " + s.name +
                                " launches set both (unset " + s.rank_var +
                                " or set the world size)");
  }
  if (rank == nullptr) {
    if (s.size_alone_ok) return std::optional<Found>();
    return InvalidArgumentError(std::string(s.size_var) + "=" + *size + " is set but " +
                                s.rank_var + " is missing; " + s.name +
                                " launches set both (unset " + s.size_var +
                                " or set the rank)");
  }
  Found found{&s, Identity{}, std::string(s.rank_var) + "=" + *rank + ", " + s.size_var + "=" +
                                  *size};
  Identity& id = found.identity;
  id.scheme = s.name;
  COHORT_ASSIGN_OR_RETURN(id.size, ParseInt(s.size_var, *size, 1, INT_MAX, "a world size >= 1"));
  COHORT_ASSIGN_OR_RETURN(id.rank, ParseInt(s.rank_var, *rank, 0, id.size - 1,
                                            "a rank below " + std::string(s.size_var)));
  if (const std::string* v = Get(env, s.local_size_var)) {
    COHORT_ASSIGN_OR_RETURN(id.local_size, ParseInt(s.local_size_var, *v, 1, id.size,
                                                    "a local size between 1 and the world size"));
  }
  if (const std::string* v = Get(env, s.local_rank_var)) {
    int limit = id.local_size ? *id.local_size - 1 : id.size - 1;
    COHORT_ASSIGN_OR_RETURN(id.local_rank, ParseInt(s.local_rank_var, *v, 0, limit,
                                                    "a local rank below the local size"));
  }
  if (const std::string* v = Get(env, s.node_rank_var)) {
    COHORT_ASSIGN_OR_RETURN(id.node_rank, ParseInt(s.node_rank_var, *v, 0, id.size - 1,
                                                   "a node index below the world size"));
  }
  return std::optional<Found>(std::move(found));
}

// Checks "host:port" (host non-empty, port 1..65535); `source` names the variables for errors.
Status CheckHostPort(const std::string& text, const std::string& source) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgumentError(source + "='" + text + "' is not host:port");
  }
  return ParseInt(source, text.substr(colon + 1), 1, 65535, "a TCP port").status();
}

Status FillStoreAddress(const EnvMap& env, Identity* id) {
  if (const std::string* addr = Get(env, "COHORT_STORE_ADDR")) {
    COHORT_RETURN_IF_ERROR(CheckHostPort(*addr, "COHORT_STORE_ADDR"));
    id->store_addr = *addr;
    return Status::Ok();
  }
  const std::string* host = Get(env, "MASTER_ADDR");
  const std::string* port = Get(env, "MASTER_PORT");
  if (host == nullptr && port == nullptr) return Status::Ok();
  if (host == nullptr || port == nullptr) {
    return InvalidArgumentError(std::string(host ? "MASTER_ADDR" : "MASTER_PORT") +
                                " is set but " + (host ? "MASTER_PORT" : "MASTER_ADDR") +
                                " is missing; set both (or COHORT_STORE_ADDR=host:port)");
  }
  COHORT_ASSIGN_OR_RETURN(int port_number, ParseInt("MASTER_PORT", *port, 1, 65535, "a TCP port"));
  // Under torchrun's static rendezvous its agent already serves a store on MASTER_PORT (and says
  // so with TORCHELASTIC_USE_AGENT_STORE=True, torch's spelling), so rank 0 takes the next port.
  if (const std::string* agent = Get(env, "TORCHELASTIC_USE_AGENT_STORE"); agent && *agent == "True") {
    if (port_number == 65535) {
      return InvalidArgumentError("MASTER_PORT=65535 is torchrun's agent store and cohort's "
                                  "store would take the next port, which does not exist; choose "
                                  "a lower MASTER_PORT (torchrun --master-port)");
    }
    ++port_number;
  }
  // An IPv6 literal needs brackets to be split back into host and port.
  bool v6 = host->find(':') != std::string::npos && host->front() != '[';
  id->store_addr = (v6 ? "[" + *host + "]" : *host) + ":" + std::to_string(port_number);
  id->rank0_hosts_store = true;
  return Status::Ok();
}

std::string LookedFor() {
  std::string out;
  for (const Scheme& s : kSchemes) {
    if (!out.empty()) out += "; ";
    out += std::string(s.name) + ": " + s.rank_var + "+" + s.size_var;
  }
  return out;
}

}  // namespace

Result<Identity> DetectIdentity(const EnvMap& env, bool allow_single) {
  std::vector<Found> found;
  for (const Scheme& scheme : kSchemes) {
    COHORT_ASSIGN_OR_RETURN(std::optional<Found> one, ReadScheme(env, scheme));
    if (one) found.push_back(std::move(*one));
  }
  Identity id;
  if (found.empty()) {
    if (const std::string* pmix = Get(env, "PMIX_RANK")) {
      return InvalidArgumentError("PMIX_RANK=" + *pmix + " is set but no job size is: PMIx does "
                                  "not export it; set PMI_SIZE or COHORT_WORLD_SIZE, or launch "
                                  "with mpirun, srun or cohortrun");
    }
    if (!allow_single) {
      return InvalidArgumentError("no launcher identity found in the environment (looked for " +
                                  LookedFor() + "); start the job with cohortrun, mpirun, srun "
                                  "or torchrun");
    }
    id.scheme = "single";
    id.local_rank = 0;
    id.local_size = 1;
    id.node_rank = 0;
  } else {
    const Found& winner = found.front();
    for (size_t i = 1; i < found.size(); ++i) {
      const Found& other = found[i];
      if (other.identity.rank != winner.identity.rank ||
          other.identity.size != winner.identity.size) {
        return InvalidArgumentError(
            "conflicting process identity: " + winner.identity.scheme + " says rank " +
            std::to_string(winner.identity.rank) + " of " + std::to_string(winner.identity.size) +
            " (" + winner.evidence + ") but " + other.identity.scheme + " says rank " +
            std::to_string(other.identity.rank) + " of " + std::to_string(other.identity.size) +
            " (" + other.evidence + "); unset the variables of the launcher not in use");
      }
    }
    id = winner.identity;
  }
  // PMIx exports only a rank; when present it must still agree with the chosen rank.
  if (const std::string* pmix = Get(env, "PMIX_RANK"); pmix != nullptr && id.scheme != "pmix") {
    Result<int> rank = ParseInt("PMIX_RANK", *pmix, 0, INT_MAX, "a rank");
    if (!rank.ok()) return rank.status();
    if (*rank != id.rank) {
      return InvalidArgumentError("conflicting process identity: " + id.scheme + " says rank " +
                                  std::to_string(id.rank) + " but PMIX_RANK=" + *pmix +
                                  "; unset the variables of the launcher not in use");
    }
  }
  COHORT_RETURN_IF_ERROR(FillStoreAddress(env, &id));
  return id;
}

}  // namespace cohort
