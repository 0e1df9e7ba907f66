#include "runtime/comm/mpi_rendezvous.h"

#include <string>

#include "runtime/base/companion.h"
#include "runtime/net/socket.h"
#include "runtime/store/auth.h"
#include "runtime/store/tcp_store.h"

namespace cohort {
namespace {

// "host:port\nsecret", NUL-padded: fixed size so every rank posts the same broadcast.
constexpr int kPayloadBytes = 512;

}  // namespace

Result<MpiRendezvous> RendezvousThroughMpi(const Config& config, int rank,
                                           const MpiBroadcast& broadcast) {
  MpiRendezvous out;
  char payload[kPayloadBytes] = {};
  if (rank == 0) {
    std::string secret = config.secret;
    if (secret.empty()) {
      COHORT_ASSIGN_OR_RETURN(secret, GenerateSecret());
    }
    TcpStoreServer::Options options;
    options.secret = secret;  // port 0: any free port
    COHORT_ASSIGN_OR_RETURN(std::unique_ptr<TcpStoreServer> server, TcpStoreServer::Start(options));
    COHORT_ASSIGN_OR_RETURN(std::string host, ChooseLocalAddress(config.socket_ifname));
    std::string text = host + ":" + std::to_string(server->port()) + "\n" + secret;
    if (text.size() >= sizeof(payload)) {
      return InvalidArgumentError("COHORT_JOB_SECRET is too long for the MPI rendezvous (" +
                                  std::to_string(secret.size()) + " characters; at most 400)");
    }
    text.copy(payload, text.size());
    out.server = std::shared_ptr<TcpStoreServer>(std::move(server));
  }
  Status sent = broadcast(payload, kPayloadBytes);
  if (!sent.ok()) return sent.WithContext("rendezvous through MPI: ");
  payload[kPayloadBytes - 1] = '\0';
  std::string text(payload);
  size_t newline = text.find('\n');
  if (newline == std::string::npos || newline == 0 || newline + 1 == text.size()) {
    return InternalError("rendezvous through MPI: rank 0 sent no store address and secret");
  }
  out.store_addr = text.substr(0, newline);
  out.secret = text.substr(newline + 1);
  return out;
}

Result<MpiBroadcast> LoadWorldBroadcast(const Identity& identity) {
  Result<void*> symbol = LoadCompanionSymbol(kMpiHelperLibrary, kMpiWorldBroadcastSymbol);
  if (!symbol.ok()) {
    return InvalidArgumentError(
        "rank " + std::to_string(identity.rank) + " of " + std::to_string(identity.size) +
        " was started by an MPI launcher (identity from " + identity.scheme + ") without a "
        "rendezvous store address, and this cohort cannot bootstrap through MPI (" +
        symbol.status().message() + "). Build cohort where MPI is installed "
        "(libopenmpi-dev), or set MASTER_ADDR, MASTER_PORT and COHORT_JOB_SECRET for every rank");
  }
  using Fn = int (*)(char*, int, char*, int);
  Fn fn = reinterpret_cast<Fn>(*symbol);
  return MpiBroadcast([fn](char* buffer, int bytes) -> Status {
    char error[512] = {};
    if (fn(buffer, bytes, error, static_cast<int>(sizeof(error))) != 0) {
      error[sizeof(error) - 1] = '\0';
      return UnavailableError(error);
    }
    return Status::Ok();
  });
}

}  // namespace cohort
