// cohort._C: the pybind11 extension under the `cohort` Python package.
//
// Thin layer over the process-wide communicator (cohort::init()): buffers arrive as DLPack or
// buffer-protocol objects (buffer_from_python.h), every call releases the GIL while it
// communicates, blocking calls wait interruptibly (handle.h), and C++ errors become the
// exceptions of errors.h. Ops are ints in cohort::ReduceOp order: 0 sum, 1 prod, 2 min, 3 max,
// 4 avg. `recv=None` means in place (recv is send) where NCCL defines in-place as send == recv.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "buffer_from_python.h"
#include "cohort/build_config.h"
#include "errors.h"
#include "handle.h"
#include "parameter_store.h"
#include "runtime/cohort.h"

namespace py = pybind11;

namespace cohort::python {
namespace {

Communicator& Comm() {
  if (!cohort::is_initialized()) ThrowNotInitialized();
  return cohort::init();
}

ReduceOp ToOp(int op) {
  if (op < 0 || op > static_cast<int>(ReduceOp::kAvg)) {
    throw InvalidArgument(
        StatusCode::kInvalidArgument,
        "op " + std::to_string(op) + " is not a reduction: use 0 sum, 1 prod, 2 min, 3 max, 4 avg");
  }
  return static_cast<ReduceOp>(op);
}

// The buffers of one call and what keeps their memory alive.
struct Buffers {
  BufferView send, recv;
  std::vector<py::object> keep;
};

Buffers Pair(py::handle send, py::handle recv) {
  Buffers out;
  if (recv.is_none() || recv.is(send)) {
    ImportedBuffer inout = ImportBuffer(send, Access::kWrite, "in-place send/recv buffer");
    out.send = out.recv = inout.view;
    out.keep.push_back(std::move(inout.keep_alive));
    return out;
  }
  ImportedBuffer s = ImportBuffer(send, Access::kRead, "send buffer");
  ImportedBuffer r = ImportBuffer(recv, Access::kWrite, "recv buffer");
  out.send = s.view;
  out.recv = r.view;
  out.keep.push_back(std::move(s.keep_alive));
  out.keep.push_back(std::move(r.keep_alive));
  return out;
}

Buffers Single(py::handle buffer, Access access) {
  Buffers out;
  ImportedBuffer b =
      ImportBuffer(buffer, access, access == Access::kRead ? "send buffer" : "recv buffer");
  out.send = out.recv = b.view;
  out.keep.push_back(std::move(b.keep_alive));
  return out;
}

using Launch = std::function<WorkPtr(Communicator&, const Buffers&)>;

// One collective call: what to start and on which buffers.
struct Call {
  Launch launch;
  Buffers buffers;
};

WorkPtr Start(const Call& call) {
  Communicator& comm = Comm();
  py::gil_scoped_release release;
  return call.launch(comm, call.buffers);
}

// Defines `name` (blocking; the buffers die after the wait) and `name`_async (returns a Handle
// that owns the buffers) from one function that prepares the call.
template <typename... A, typename... Extra>
void Def(py::module_& m, const std::string& name, Call (*prepare)(A...), const char* doc,
         const Extra&... extra) {
  m.def(
      name.c_str(),
      [prepare](A... a) {
        Comm();  // "not initialized" before any complaint about the arguments
        Call call = prepare(std::forward<A>(a)...);
        WorkPtr work = Start(call);
        WaitInterruptibly(*work);
      },
      doc, extra...);
  m.def((name + "_async").c_str(),
        [prepare](A... a) {
          Comm();  // "not initialized" before any complaint about the arguments
          Call call = prepare(std::forward<A>(a)...);
          WorkPtr work = Start(call);
          return std::make_unique<Handle>(std::move(work), std::move(call.buffers.keep));
        },
        (std::string(doc) + " Returns a Handle at once.").c_str(), extra...);
}

void DefCollectives(py::module_& m) {
  using py::arg;
  Def(
      m, "allreduce",
      +[](py::object send, py::object recv, int op) {
        ReduceOp r = ToOp(op);
        return Call{
            [r](Communicator& c, const Buffers& b) { return c.allreduce_async(b.send, b.recv, r); },
            Pair(send, recv)};
      },
      "Allreduce send into recv (recv=None: in place).", arg("send"), arg("recv") = py::none(),
      arg("op") = 0);
  Def(
      m, "reduce_scatter",
      +[](py::object send, py::object recv, int op) {
        ReduceOp r = ToOp(op);
        return Call{[r](Communicator& c, const Buffers& b) {
                      return c.reduce_scatter_async(b.send, b.recv, r);
                    },
                    Pair(send, recv)};
      },
      "Reduce send (size x n elements) and scatter: recv gets this rank's n.", arg("send"),
      arg("recv"), arg("op") = 0);
  Def(
      m, "allgather",
      +[](py::object send, py::object recv) {
        return Call{
            [](Communicator& c, const Buffers& b) { return c.allgather_async(b.send, b.recv); },
            Pair(send, recv)};
      },
      "Gather every rank's send (n elements) into recv (size x n), in rank order.", arg("send"),
      arg("recv"));
  Def(
      m, "broadcast",
      +[](py::object send, py::object recv, int root) {
        return Call{[root](Communicator& c, const Buffers& b) {
                      return c.broadcast_async(b.send, b.recv, root);
                    },
                    Pair(send, recv)};
      },
      "Copy root's send into every rank's recv (recv=None: in place).", arg("send"),
      arg("recv") = py::none(), arg("root") = 0);
  Def(
      m, "reduce",
      +[](py::object send, py::object recv, int op, int root) {
        ReduceOp r = ToOp(op);
        return Call{[r, root](Communicator& c, const Buffers& b) {
                      return c.reduce_async(b.send, b.recv, r, root);
                    },
                    Pair(send, recv)};
      },
      "Reduce send into root's recv (recv=None: in place).", arg("send"), arg("recv") = py::none(),
      arg("op") = 0, arg("root") = 0);
  Def(
      m, "alltoall",
      +[](py::object send, py::object recv) {
        return Call{
            [](Communicator& c, const Buffers& b) { return c.alltoall_async(b.send, b.recv); },
            Pair(send, recv)};
      },
      "Block i of send goes to rank i; recv's block j comes from rank j.", arg("send"),
      arg("recv") = py::none());
  Def(
      m, "barrier",
      +[]() {
        return Call{[](Communicator& c, const Buffers&) { return c.barrier_async(); }, Buffers{}};
      },
      "Wait until every rank has entered the barrier.");
  Def(
      m, "send",
      +[](py::object buffer, int peer) {
        return Call{
            [peer](Communicator& c, const Buffers& b) { return c.send_async(b.send, peer); },
            Single(buffer, Access::kRead)};
      },
      "Send buffer to rank peer (matched by its recv).", arg("buffer"), arg("peer"));
  Def(
      m, "recv",
      +[](py::object buffer, int peer) {
        return Call{
            [peer](Communicator& c, const Buffers& b) { return c.recv_async(b.recv, peer); },
            Single(buffer, Access::kWrite)};
      },
      "Receive into buffer from rank peer.", arg("buffer"), arg("peer"));
}

}  // namespace
}  // namespace cohort::python

PYBIND11_MODULE(_C, m) {
  namespace cp = cohort::python;
  m.doc() = "cohort's C++ core: collectives over the process-wide communicator";
  m.attr("__version__") = COHORT_VERSION;
  // Whether this build can move CUDA buffers at all (a device is still needed at run time).
  m.attr("built_with_cuda") = static_cast<bool>(COHORT_HAVE_CUDA);
  cp::RegisterExceptions(m);

  m.def(
      "init",
      [] {
        py::gil_scoped_release release;
        cohort::init();
      },
      "Join the job (from cohortrun / mpirun / srun / torchrun variables). Idempotent.");
  m.def(
      "shutdown",
      [] {
        py::gil_scoped_release release;
        cohort::shutdown();
      },
      "Leave the job; a later init() joins again.");
  m.def(
      "shrink",
      [] {
        py::gil_scoped_release release;
        cohort::shrink();
      },
      "After ranks were lost (cohortrun --elastic): replace the job's communicator with one of "
      "the survivors, ranked in their old order. Every survivor calls it; see cohort.elastic.");
  m.def("is_initialized", &cohort::is_initialized);
  m.def("rank", [] { return cp::Comm().rank(); });
  m.def("size", [] { return cp::Comm().size(); });
  m.def("local_rank", [] { return cp::Comm().local_rank(); });
  m.def("local_size", [] { return cp::Comm().local_size(); });
  m.def("node_rank", [] { return cp::Comm().node_rank(); });
  m.def("num_nodes", [] { return cp::Comm().num_nodes(); });
  m.def(
      "transport_to", [](int peer) { return cp::Comm().transport_to(peer); }, py::arg("peer"));
  m.def("last_algorithm", [] { return cp::Comm().last_algorithm(); });
  m.def(
      "abort",
      [](const std::string& reason) {
        py::gil_scoped_release release;
        if (cohort::is_initialized()) cohort::init().abort(reason);
      },
      "End every pending and later operation with an error.", py::arg("reason") = "aborted");

  for (int op = 0; op <= 4; ++op) {
    static const char* const kNames[] = {"OP_SUM", "OP_PROD", "OP_MIN", "OP_MAX", "OP_AVG"};
    m.attr(kNames[op]) = op;
  }

  py::class_<cp::Handle>(m, "Handle",
                         "An async collective in flight; owns its buffers until it ends.")
      .def("wait", &cp::Handle::wait, "Block until done; raise the operation's error.")
      .def("wait_for", &cp::Handle::wait_for, py::arg("timeout_s"),
           "Wait at most timeout_s seconds; False if still running.")
      .def("test", &cp::Handle::test, "True once the operation has ended.")
      .def_property_readonly("description", &cp::Handle::description)
      .def("__repr__", [](cp::Handle& h) {
        return "<cohort Handle " + h.description() + (h.test() ? " done>" : " running>");
      });
  cp::DefCollectives(m);
  cp::DefParameterStore(m);

  m.def(
      "_buffer_info",
      [](py::object obj, bool writable) {
        cp::ImportedBuffer b =
            cp::ImportBuffer(obj, writable ? cp::Access::kWrite : cp::Access::kRead, "buffer");
        return py::make_tuple(reinterpret_cast<uintptr_t>(b.view.data), b.view.count,
                              std::string(cohort::DataTypeName(b.view.dtype)),
                              b.view.device.ToString());
      },
      "(address, count, dtype, device) as cohort sees obj (for tests).", py::arg("obj"),
      py::arg("writable") = false);

  // Leave the job while the interpreter is alive, not in static destructors after it.
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    py::gil_scoped_release release;
    cohort::shutdown();
  }));
}
