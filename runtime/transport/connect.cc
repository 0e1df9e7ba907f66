// ConnectLinks: chooses shm or tcp for every peer and sets the links up through the store
// (connect.h). Store keys, all under the communicator's own namespace:
//   shm-ok/<r>      "1"/"0": rank r can use shared memory (free space checked); a pair uses shm
//                   only if both say "1", so both sides always make the same choice
//   tcp-addr/<r>    host:port of rank r's tcp listener (port 0: the kernel picks)
//   shm-seg/<r>     name of rank r's shm segment (its inbound rings)
//   shm-mapped/<r>  rank r has mapped every peer's segment; owners unlink after all peers did
//   ucx-ok/<r>      "1"/"0" (auto only): rank r's host prefers UCX between hosts (an RDMA device
//                   and UCX built in); a pair on different hosts uses ucx only if both say "1"
//   ucx-addr/<r>    rank r's tag-key nonce and ucp worker address (written by libcohort_ucx,
//                   ucx_plugin.h)
// A rank's arena segment (NodeArena) is named after its ring segment plus "-arena", so it needs
// no key of its own; it exists when every rank on the host reaches the others over shm.
#include "runtime/transport/connect.h"

#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "runtime/base/logging.h"
#include "runtime/transport/shm_segment.h"
#include "runtime/transport/shm_stream.h"
#include "runtime/transport/stream_link.h"
#include "runtime/transport/striped_link.h"
#include "runtime/transport/tcp_connect.h"
#include "runtime/transport/tcp_stream.h"
#include "runtime/transport/ucx_plugin.h"

namespace cohort {

namespace {

enum class Kind { kSelf, kShm, kTcp, kUcx };

std::chrono::milliseconds Left(Deadline deadline) {
  return std::chrono::milliseconds(std::max(deadline.remaining_ms(), 1));
}

std::string MiB(uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

class LinkBuilder {
 public:
  explicit LinkBuilder(const LinkSetup& setup)
      : s_(setup), deadline_(Deadline::After(setup.config.connect_timeout)) {}

  Result<Connections> Run();

 private:
  std::string Host(int r) const {
    return static_cast<size_t>(r) < s_.host_of_rank.size() ? s_.host_of_rank[r] : "?";
  }
  std::string Name(int r) const { return "rank " + std::to_string(r) + " (host " + Host(r) + ")"; }
  bool SameNode(int r) const { return s_.node_of_rank[r] == s_.node_of_rank[s_.rank]; }
  Status Validate() const;
  Status ChooseTransports();
  Result<bool> ShmPossibleHere(int local_count);
  Status StartTcp();
  Status CreateShmSegment();
  Status ConnectTcp(std::vector<std::unique_ptr<Link>>* links);
  // The link to rank `r` over its connected sockets: one StreamLink, or a StripedLink over
  // several (COHORT_SOCKET_NSTREAMS).
  Result<std::unique_ptr<Link>> MakeTcpLink(int r, std::vector<UniqueFd> sockets,
                                            const std::vector<std::string>& addresses);
  Status ConnectShm(Connections* out);
  Status ConnectUcx(std::vector<std::unique_ptr<Link>>* links);
  // auto: which of the peers on other hosts to reach over ucx (both hosts prefer it).
  Status ChooseUcxBetweenHosts();
  // Whether this host's ranks get an arena: every one of them reached over shm.
  bool WantArena() const;

  const LinkSetup& s_;
  const Deadline deadline_;
  std::vector<Kind> kind_;
  std::vector<int> shm_peers_;
  std::shared_ptr<ShmSegment> own_segment_;
  std::shared_ptr<ShmSegment> own_arena_segment_;
  std::unique_ptr<TcpAcceptor> acceptor_;
  std::string my_address_;
};

Status LinkBuilder::Validate() const {
  if (s_.size < 1 || s_.rank < 0 || s_.rank >= s_.size) {
    return InvalidArgumentError("ConnectLinks: rank " + std::to_string(s_.rank) +
                                " is outside a world of " + std::to_string(s_.size));
  }
  if (s_.node_of_rank.size() != static_cast<size_t>(s_.size)) {
    return InvalidArgumentError("ConnectLinks: node_of_rank has " +
                                std::to_string(s_.node_of_rank.size()) + " entries for " +
                                std::to_string(s_.size) + " ranks");
  }
  if (s_.size > 1 && s_.store == nullptr) return InvalidArgumentError("ConnectLinks: no store");
  return Status::Ok();
}

Result<bool> LinkBuilder::ShmPossibleHere(int local_count) {
  // Every rank on this host creates one segment with a ring per local peer, and one arena
  // segment; ask for all of them, since they are created at about the same time.
  const uint64_t arena = s_.config.shm_slot_bytes > 0 ? ArenaSegmentBytes(s_.config.shm_slot_bytes) : 0;
  const uint64_t need = static_cast<uint64_t>(local_count) *
                        (ShmSegmentBytes(static_cast<size_t>(local_count - 1), s_.config.shm_ring_bytes) +
                         arena);
  Result<uint64_t> free_bytes = ShmFreeBytes();
  std::string problem;
  if (!free_bytes.ok()) {
    problem = "cannot check /dev/shm: " + free_bytes.status().message();
  } else if (*free_bytes < need) {
    problem = "/dev/shm has " + MiB(*free_bytes) + " free but the " + std::to_string(local_count) +
              " ranks on this host need " + MiB(need) + " (" + MiB(ShmRingBytes(s_.config.shm_ring_bytes)) +
              " per pair and direction, COHORT_SHM_RING_BYTES); raise it (docker run --shm-size=" +
              std::to_string((need >> 20) + 64) + "m, or mount -o remount,size=... /dev/shm) or lower COHORT_SHM_RING_BYTES";
  }
  if (problem.empty()) return true;
  if (s_.config.transport == TransportChoice::kShm) {
    (void)s_.store->Set("shm-ok/" + std::to_string(s_.rank), ToBytes("0"));
    return UnavailableError("COHORT_TRANSPORT=shm but shared memory cannot be used: " + problem);
  }
  COHORT_LOG(kWarn) << "rank " << s_.rank << ": " << problem
                    << "; using tcp between ranks on this host instead of shared memory";
  return false;
}

Status LinkBuilder::ChooseTransports() {
  const int me = s_.rank;
  kind_.assign(static_cast<size_t>(s_.size), Kind::kTcp);
  kind_[me] = Kind::kSelf;
  if (s_.config.transport == TransportChoice::kUcx) {
    for (int r = 0; r < s_.size; ++r) kind_[r] = r == me ? Kind::kSelf : Kind::kUcx;
    return Status::Ok();
  }
  std::vector<int> local;
  for (int r = 0; r < s_.size; ++r) {
    if (r != me && SameNode(r)) local.push_back(r);
  }
  if (s_.config.transport == TransportChoice::kTcp) return Status::Ok();
  if (s_.config.transport == TransportChoice::kShm) {
    for (int r = 0; r < s_.size; ++r) {
      if (r != me && !SameNode(r)) {
        return InvalidArgumentError("COHORT_TRANSPORT=shm but " + Name(r) +
                                    " is on another node than this rank (host " + Host(me) +
                                    "); shared memory only reaches ranks on the same host");
      }
    }
  }
  COHORT_RETURN_IF_ERROR(ChooseUcxBetweenHosts());
  if (local.empty()) return Status::Ok();
  COHORT_ASSIGN_OR_RETURN(bool ok_here, ShmPossibleHere(static_cast<int>(local.size()) + 1));
  COHORT_RETURN_IF_ERROR(s_.store->Set("shm-ok/" + std::to_string(me), ToBytes(ok_here ? "1" : "0")));
  for (int r : local) {
    Result<Bytes> ok_there = s_.store->Get("shm-ok/" + std::to_string(r), Left(deadline_));
    if (!ok_there.ok()) {
      return ok_there.status().WithContext("waiting for " + Name(r) + " to join link set-up: ");
    }
    bool both = ok_here && ToString(*ok_there) == "1";
    if (!both && s_.config.transport == TransportChoice::kShm) {
      return UnavailableError("COHORT_TRANSPORT=shm but " + Name(r) +
                              " cannot use shared memory (see its log)");
    }
    if (both) {
      kind_[r] = Kind::kShm;
      shm_peers_.push_back(r);
    }
  }
  return Status::Ok();
}

Status LinkBuilder::ChooseUcxBetweenHosts() {
  std::vector<int> remote;
  for (int r = 0; r < s_.size; ++r) {
    if (r != s_.rank && !SameNode(r)) remote.push_back(r);
  }
  if (remote.empty()) return Status::Ok();
  // Every rank with a peer on another host publishes before anyone waits, so no order deadlocks.
  const bool here = HostHasRdmaDevice() && UcxTransportAvailable();
  COHORT_RETURN_IF_ERROR(s_.store->Set("ucx-ok/" + std::to_string(s_.rank), ToBytes(here ? "1" : "0")));
  if (!here) return Status::Ok();  // tcp for every remote peer, whatever they say
  for (int r : remote) {
    Result<Bytes> there = s_.store->Get("ucx-ok/" + std::to_string(r), Left(deadline_));
    if (!there.ok()) return there.status().WithContext("waiting for " + Name(r) + " to join link set-up: ");
    if (ToString(*there) == "1") kind_[r] = Kind::kUcx;
  }
  return Status::Ok();
}

Status LinkBuilder::StartTcp() {
  std::vector<bool> expected(static_cast<size_t>(s_.size), false);
  bool any = false;
  for (int r = 0; r < s_.size; ++r) {
    if (kind_[r] != Kind::kTcp) continue;
    any = true;
    expected[r] = r > s_.rank;  // the higher rank of a pair connects
  }
  if (!any) return Status::Ok();
  if (s_.config.secret.empty()) {
    return InvalidArgumentError("tcp links need the job secret (COHORT_JOB_SECRET) to authenticate "
                                "peers, and it is empty");
  }
  COHORT_ASSIGN_OR_RETURN(std::string host, ChooseLocalAddress(s_.config.socket_ifname));
  COHORT_ASSIGN_OR_RETURN(auto listener, Listen(host, 0));
  my_address_ = HostPort{host, listener.second}.ToString();
  acceptor_ = std::make_unique<TcpAcceptor>(std::move(listener.first), s_.rank, s_.size,
                                            std::move(expected), s_.config.socket_nstreams,
                                            s_.config.secret, deadline_);
  return s_.store->Set("tcp-addr/" + std::to_string(s_.rank), ToBytes(my_address_));
}

Status LinkBuilder::CreateShmSegment() {
  if (shm_peers_.empty()) return Status::Ok();
  std::string job = s_.config.job_id;
  if (job.empty()) {
    // Without a job id, names only need to be unique on this host: peers learn them from the store.
    static std::atomic<int> counter{0};
    job = "anon" + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  }
  const std::string name = ShmSegmentName(job, s_.comm_name, s_.rank);
  const size_t bytes = ShmSegmentBytes(shm_peers_.size(), s_.config.shm_ring_bytes);
  Result<std::shared_ptr<ShmSegment>> segment = ShmSegment::Create(name, bytes);
  if (!segment.ok() && !s_.config.job_id.empty() && ::shm_unlink(name.c_str()) == 0) {
    // A previous run of this job id crashed before unlinking its segment.
    COHORT_LOG(kWarn) << "removed a stale shared memory segment " << name;
    segment = ShmSegment::Create(name, bytes);
  }
  if (!segment.ok()) return segment.status().WithContext("shared memory link set-up: ");
  own_segment_ = std::move(*segment);
  InitShmSegment(*own_segment_, s_.rank, ::getpid(), shm_peers_, s_.config.shm_ring_bytes);
  if (WantArena()) {
    const std::string arena_name = name + "-arena";
    const int arena_rank = static_cast<int>(std::count_if(
        shm_peers_.begin(), shm_peers_.end(), [&](int r) { return r < s_.rank; }));
    Result<std::shared_ptr<ShmSegment>> arena =
        CreateArenaSegment(arena_name, arena_rank, s_.config.shm_slot_bytes);
    if (!arena.ok() && !s_.config.job_id.empty() && ::shm_unlink(arena_name.c_str()) == 0) {
      arena = CreateArenaSegment(arena_name, arena_rank, s_.config.shm_slot_bytes);
    }
    if (!arena.ok()) return arena.status().WithContext("shared memory arena set-up: ");
    own_arena_segment_ = std::move(*arena);
  }
  // Published last: a peer that reads the name finds both segments complete.
  return s_.store->Set("shm-seg/" + std::to_string(s_.rank), ToBytes(name));
}

bool LinkBuilder::WantArena() const {
  if (s_.config.shm_slot_bytes == 0 || shm_peers_.empty()) return false;
  for (int r = 0; r < s_.size; ++r) {
    if (r != s_.rank && SameNode(r) && kind_[r] != Kind::kShm) return false;
  }
  return true;
}

Status LinkBuilder::ConnectTcp(std::vector<std::unique_ptr<Link>>* links) {
  if (acceptor_ == nullptr) return Status::Ok();
  for (int r = 0; r < s_.rank; ++r) {
    if (kind_[r] != Kind::kTcp) continue;
    Result<Bytes> address = s_.store->Get("tcp-addr/" + std::to_string(r), Left(deadline_));
    if (!address.ok()) {
      return address.status().WithContext("waiting for the tcp address of " + Name(r) + ": ");
    }
    const int nstreams = s_.config.socket_nstreams;
    std::vector<UniqueFd> sockets;
    for (int i = 0; i < nstreams; ++i) {
      COHORT_ASSIGN_OR_RETURN(UniqueFd fd, ConnectTcpPeer(ToString(*address), s_.rank, s_.size, i,
                                                          nstreams, s_.config.secret, deadline_,
                                                          Name(r)));
      sockets.push_back(std::move(fd));
    }
    COHORT_LOG(kInfo) << "rank " << s_.rank << " -> " << Name(r) << ": tcp to " << ToString(*address)
                      << (nstreams > 1 ? " (" + std::to_string(nstreams) + " streams)" : "");
    const std::vector<std::string> addresses(sockets.size(), ToString(*address));
    COHORT_ASSIGN_OR_RETURN((*links)[r], MakeTcpLink(r, std::move(sockets), addresses));
  }
  std::vector<std::string> names;
  for (int r = 0; r < s_.size; ++r) names.push_back(Name(r));
  std::vector<std::vector<UniqueFd>> sockets(static_cast<size_t>(s_.size));
  std::vector<std::vector<std::string>> addresses(static_cast<size_t>(s_.size));
  COHORT_RETURN_IF_ERROR(acceptor_->WaitAll(names, &sockets, &addresses));
  acceptor_.reset();
  for (int r = s_.rank + 1; r < s_.size; ++r) {
    if (kind_[r] != Kind::kTcp) continue;
    COHORT_LOG(kInfo) << "rank " << s_.rank << " -> " << Name(r) << ": tcp from "
                      << addresses[r].front() << " to " << my_address_
                      << (addresses[r].size() > 1
                              ? " (" + std::to_string(addresses[r].size()) + " streams)"
                              : "");
    COHORT_ASSIGN_OR_RETURN((*links)[r], MakeTcpLink(r, std::move(sockets[r]), addresses[r]));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Link>> LinkBuilder::MakeTcpLink(int r, std::vector<UniqueFd> sockets,
                                                       const std::vector<std::string>& addresses) {
  std::vector<std::unique_ptr<StreamLink>> streams;
  for (size_t i = 0; i < sockets.size(); ++i) {
    COHORT_ASSIGN_OR_RETURN(auto stream, MakeTcpStream(std::move(sockets[i]), addresses[i]));
    streams.push_back(std::make_unique<StreamLink>(r, Host(r), std::move(stream)));
  }
  // One socket: exactly the single StreamLink of a plain tcp pair, no wrapper.
  if (streams.size() == 1) return std::unique_ptr<Link>(std::move(streams.front()));
  return std::unique_ptr<Link>(std::make_unique<StripedLink>(r, std::move(streams)));
}

Status LinkBuilder::ConnectShm(Connections* out) {
  if (shm_peers_.empty()) return Status::Ok();
  std::vector<int> arena_ranks = shm_peers_;
  arena_ranks.push_back(s_.rank);
  std::sort(arena_ranks.begin(), arena_ranks.end());
  std::vector<std::shared_ptr<ShmSegment>> arena_segments(arena_ranks.size());
  auto arena_index = [&](int r) {
    return static_cast<size_t>(std::find(arena_ranks.begin(), arena_ranks.end(), r) - arena_ranks.begin());
  };
  for (int r : shm_peers_) {
    Result<Bytes> name = s_.store->Get("shm-seg/" + std::to_string(r), Left(deadline_));
    if (!name.ok()) return name.status().WithContext("waiting for the shm segment of " + Name(r) + ": ");
    auto context = [&](const Status& st) {
      return st.WithContext("shared memory link to " + Name(r) + ": ");
    };
    Result<std::shared_ptr<ShmSegment>> peer_segment = ShmSegment::Open(ToString(*name));
    if (!peer_segment.ok()) return context(peer_segment.status());
    pid_t peer_pid = 0;
    Result<ShmRing> outbound = FindShmRing(**peer_segment, r, s_.rank, &peer_pid);
    if (!outbound.ok()) return context(outbound.status());
    Result<ShmRing> inbound = FindShmRing(*own_segment_, s_.rank, r);
    if (!inbound.ok()) return context(inbound.status());
    COHORT_LOG(kInfo) << "rank " << s_.rank << " -> " << Name(r) << ": shm (pid " << peer_pid
                      << ", ring " << MiB(outbound->bytes) << ")";
    out->links[r] = std::make_unique<StreamLink>(
        r, Host(r),
        MakeShmStream(r, peer_pid, own_segment_, *inbound, std::move(*peer_segment), *outbound));
    if (own_arena_segment_ != nullptr) {
      Result<std::shared_ptr<ShmSegment>> arena = ShmSegment::Open(ToString(*name) + "-arena");
      if (!arena.ok()) return context(arena.status());
      arena_segments[arena_index(r)] = std::move(*arena);
    }
  }
  out->shm_bytes = own_segment_->size() +
                   (own_arena_segment_ != nullptr ? own_arena_segment_->size() : 0);
  if (own_arena_segment_ != nullptr) {
    arena_segments[arena_index(s_.rank)] = own_arena_segment_;
    std::vector<std::string> names;
    for (int r : arena_ranks) names.push_back("rank " + std::to_string(r));
    Result<std::unique_ptr<NodeArena>> arena =
        NodeArena::Attach(static_cast<int>(arena_index(s_.rank)), std::move(arena_segments),
                          std::move(names), s_.config.shm_slot_bytes);
    if (!arena.ok()) return arena.status().WithContext("shared memory arena set-up: ");
    out->arena = std::move(*arena);
    out->arena_ranks = arena_ranks;
    COHORT_LOG(kInfo) << "rank " << s_.rank << ": shared-memory arena with " << arena_ranks.size()
                      << " local ranks, " << SharedArena::kSlots << " slots of "
                      << s_.config.shm_slot_bytes << " bytes"
                      << (out->arena->oversubscribed() ? " (more ranks than CPUs: no spinning)" : "");
  }
  // Unlink our segment once every peer has mapped it: from then on nothing is left in /dev/shm,
  // even if a rank crashes.
  COHORT_RETURN_IF_ERROR(s_.store->Set("shm-mapped/" + std::to_string(s_.rank), ToBytes("1")));
  std::vector<std::string> keys;
  for (int r : shm_peers_) keys.push_back("shm-mapped/" + std::to_string(r));
  Status mapped = s_.store->Wait(keys, Left(deadline_));
  if (!mapped.ok()) return mapped.WithContext("waiting for local ranks to map shared memory: ");
  if (out->arena != nullptr) COHORT_RETURN_IF_ERROR(out->arena->UnlinkOwnSegment());
  return own_segment_->Unlink();
}

Status LinkBuilder::ConnectUcx(std::vector<std::unique_ptr<Link>>* links) {
  UcxSetup setup;
  for (int r = 0; r < s_.size; ++r) {
    if (kind_[r] == Kind::kUcx) setup.peers.push_back(r);
  }
  if (setup.peers.empty()) return Status::Ok();
  setup.rank = s_.rank;
  setup.size = s_.size;
  setup.host_of_rank = s_.host_of_rank;
  setup.store = s_.store;
  setup.secret = s_.config.secret;
  if (!s_.config.socket_ifname.empty()) {
    // UCX_NET_DEVICES wants the interface's name; COHORT_SOCKET_IFNAME may be prefixes or a
    // subnet, so pass the interface it selects.
    COHORT_ASSIGN_OR_RETURN(std::string address, ChooseLocalAddress(s_.config.socket_ifname));
    for (const auto& [name, ip] : ListInterfaces()) {
      if (ip == address) {
        setup.socket_ifname = name;
        break;
      }
    }
  }
  setup.deadline = deadline_;
  COHORT_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Link>> made, ConnectUcxLinks(setup));
  for (int r : setup.peers) (*links)[r] = std::move(made[r]);
  return Status::Ok();
}

Result<Connections> LinkBuilder::Run() {
  COHORT_RETURN_IF_ERROR(Validate());
  Connections out;
  out.links.resize(static_cast<size_t>(s_.size));
  if (s_.size == 1) return out;
  // Order matters for freedom from deadlock: everything a peer waits for (shm-ok, tcp-addr,
  // shm-seg, a running acceptor) is published before this rank blocks on anything a peer
  // publishes later.
  COHORT_RETURN_IF_ERROR(ChooseTransports());
  COHORT_RETURN_IF_ERROR(StartTcp());
  COHORT_RETURN_IF_ERROR(CreateShmSegment());
  COHORT_RETURN_IF_ERROR(ConnectTcp(&out.links));
  COHORT_RETURN_IF_ERROR(ConnectShm(&out));
  // Last: its set-up waits for every ucx peer's hello, and every rank reaches it only after the
  // phases above, so no rank waits here for something a peer publishes in an earlier phase.
  COHORT_RETURN_IF_ERROR(ConnectUcx(&out.links));
  return out;
}

}  // namespace

Result<Connections> ConnectLinks(const LinkSetup& setup) {
  LinkBuilder builder(setup);
  return builder.Run();
}

int RemoveJobSegments(const std::string& job_id) {
  if (job_id.empty()) return 0;  // never match every job's segments
  const std::string prefix = "cohort-" + SanitizeShmNamePart(job_id) + "-";
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return 0;
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    if (std::strncmp(entry->d_name, prefix.c_str(), prefix.size()) == 0) names.push_back(entry->d_name);
  }
  ::closedir(dir);
  int removed = 0;
  for (const auto& name : names) {
    if (::shm_unlink(("/" + name).c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace cohort
