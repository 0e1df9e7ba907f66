// libcohort_ucx.so's entry point: UCX link set-up for one communicator (ucx_plugin.h).
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "runtime/base/logging.h"
#include "runtime/transport/ucx/ucx_link.h"
#include "runtime/transport/ucx_plugin.h"

namespace cohort {
namespace {

std::string Host(const UcxSetup& s, int r) {
  return static_cast<size_t>(r) < s.host_of_rank.size() ? s.host_of_rank[r] : std::string("?");
}
std::string Name(const UcxSetup& s, int r) {
  return "rank " + std::to_string(r) + " (host " + Host(s, r) + ")";
}

Result<std::vector<std::unique_ptr<Link>>> Connect(const UcxSetup& s) {
  if (static_cast<uint64_t>(s.size) > ucx_tag::kMaxRanks) {
    return InvalidArgumentError("the ucx transport supports at most " +
                                std::to_string(ucx_tag::kMaxRanks) + " ranks, this communicator has " +
                                std::to_string(s.size) + "; use COHORT_TRANSPORT=tcp");
  }
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<UcxWorker> worker,
                          UcxWorker::Create(s.socket_ifname, s.secret, s.size));
  for (int r : s.peers) worker->ExpectSender(r, nullptr);
  COHORT_ASSIGN_OR_RETURN(std::string address, worker->Address());
  // Published: the nonce peers derive this worker's key from, then the address.
  const ucx_tag::Nonce& nonce = worker->nonce();
  std::string published(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  published += address;
  COHORT_RETURN_IF_ERROR(s.store->Set("ucx-addr/" + std::to_string(s.rank), ToBytes(published)));

  std::vector<std::unique_ptr<Link>> links(static_cast<size_t>(s.size));
  std::vector<UcxLink*> pending;
  for (int r : s.peers) {
    const auto left = std::chrono::milliseconds(std::max(s.deadline.remaining_ms(), 1));
    Result<Bytes> peer_address = s.store->Get("ucx-addr/" + std::to_string(r), left);
    if (!peer_address.ok()) {
      return peer_address.status().WithContext("waiting for the ucx address of " + Name(s, r) + ": ");
    }
    const std::string peer_published = ToString(*peer_address);
    if (peer_published.size() <= ucx_tag::kNonceBytes) {
      return InternalError("the ucx address " + Name(s, r) + " published is " +
                           std::to_string(peer_published.size()) + " bytes, too short to hold a "
                           "nonce and an address: is that rank running another cohort version?");
    }
    ucx_tag::Nonce peer_nonce;
    std::memcpy(peer_nonce.data(), peer_published.data(), peer_nonce.size());
    auto link = std::make_unique<UcxLink>(s.rank, r, Host(s, r), worker,
                                          ucx_tag::DeriveKey(s.secret, peer_nonce));
    COHORT_RETURN_IF_ERROR(link->Connect(peer_published.substr(ucx_tag::kNonceBytes)));
    COHORT_RETURN_IF_ERROR(link->StartHello(s.size));
    pending.push_back(link.get());
    links[r] = std::move(link);
  }
  // Every peer answers its hello: the endpoints really reach each other.
  while (!pending.empty()) {
    for (size_t i = 0; i < pending.size();) {
      Result<bool> done = pending[i]->HelloDone();
      if (!done.ok()) return done.status().WithContext("ucx link set-up: ");
      if (*done) {
        COHORT_LOG(kInfo) << "rank " << s.rank << " -> " << pending[i]->peer_name() << ": ucx";
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    if (!pending.empty() && s.deadline.expired()) {
      std::string names;
      for (UcxLink* link : pending) names += (names.empty() ? "" : ", ") + link->peer_name();
      return DeadlineExceededError(
          "ucx link set-up: no answer within the connect timeout (COHORT_CONNECT_TIMEOUT) from " +
          names + "; check that UCX_TLS and UCX_NET_DEVICES (or COHORT_SOCKET_IFNAME) name a "
          "transport and device that reach those hosts");
    }
    if (!pending.empty()) sched_yield();  // the peers may share this CPU
  }
  return links;
}

}  // namespace
}  // namespace cohort

extern "C" __attribute__((visibility("default"))) void cohort_ucx_connect_v2(
    const cohort::UcxSetup* setup, cohort::UcxConnectOutput* out) {
  cohort::Result<std::vector<std::unique_ptr<cohort::Link>>> links = cohort::Connect(*setup);
  if (links.ok()) {
    out->links = std::move(*links);
  } else {
    out->status = links.status();
  }
}
