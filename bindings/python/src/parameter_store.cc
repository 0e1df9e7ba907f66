// cohort._C.ParameterStore and cohort._C.ShardedOptimizer: thin layers over the C++ classes
// (runtime/ps/parameter_store.h, runtime/zero/sharded_optimizer.h). Tensors arrive as DLPack or
// buffer-protocol objects without copies; blocking calls release the GIL and wait
// interruptibly; async calls return a Handle that owns the tensors until the operation ends.
// Optimizers are dicts: {"type": "sgd"|"adam"|"adamw"|"aggregate", "lr": ..., "momentum": ...,
// "dampening", "nesterov", "weight_decay", "beta1", "beta2", "eps", "amsgrad", "maximize"}.
#include "parameter_store.h"

#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "buffer_from_python.h"
#include "errors.h"
#include "handle.h"
#include "runtime/cohort.h"
#include "runtime/ps/parameter_store.h"
#include "runtime/zero/sharded_optimizer.h"

namespace py = pybind11;

namespace cohort::python {
namespace {

OptimizerSpec ToOptimizer(const py::dict& d) {
  OptimizerSpec spec;
  for (auto item : d) {
    const std::string key = py::str(item.first);
    py::handle v = item.second;
    if (key == "type") spec.type = ValueOrThrow(ParseOptimizerType(py::str(v).cast<std::string>()));
    else if (key == "lr") spec.lr = v.cast<double>();
    else if (key == "momentum") spec.momentum = v.cast<double>();
    else if (key == "dampening") spec.dampening = v.cast<double>();
    else if (key == "weight_decay") spec.weight_decay = v.cast<double>();
    else if (key == "beta1") spec.beta1 = v.cast<double>();
    else if (key == "beta2") spec.beta2 = v.cast<double>();
    else if (key == "eps") spec.eps = v.cast<double>();
    else if (key == "nesterov") spec.nesterov = v.cast<bool>();
    else if (key == "amsgrad") spec.amsgrad = v.cast<bool>();
    else if (key == "maximize") spec.maximize = v.cast<bool>();
    else throw InvalidArgument(StatusCode::kInvalidArgument, "unknown optimizer setting '" + key + "'");
  }
  ThrowIfError(ValidateOptimizerSpec(spec, "optimizer"));
  return spec;
}

py::dict FromOptimizer(const OptimizerSpec& s) {
  py::dict d;
  d["type"] = std::string(OptimizerTypeName(s.type));
  d["lr"] = s.lr;
  d["momentum"] = s.momentum;
  d["dampening"] = s.dampening;
  d["nesterov"] = s.nesterov;
  d["weight_decay"] = s.weight_decay;
  d["beta1"] = s.beta1;
  d["beta2"] = s.beta2;
  d["eps"] = s.eps;
  d["amsgrad"] = s.amsgrad;
  d["maximize"] = s.maximize;
  return d;
}

// Imports every tensor of `list` (no copies); their owners go to `keep`.
std::vector<BufferView> ImportAll(const py::list& list, Access access, const char* role,
                                  std::vector<py::object>* keep) {
  std::vector<BufferView> views;
  for (py::handle t : list) {
    ImportedBuffer b = ImportBuffer(t, access, role);
    views.push_back(b.view);
    keep->push_back(std::move(b.keep_alive));
  }
  return views;
}

class PyParameterStore {
 public:
  PyParameterStore(const std::string& name, bool asynchronous, int staleness, int num_servers,
                   bool average_gradients, const py::dict& optimizer, size_t min_split_bytes) {
    ParameterStoreOptions options;
    options.name = name;
    options.asynchronous = asynchronous;
    options.staleness = staleness;
    options.num_servers = num_servers;
    options.average_gradients = average_gradients;
    options.optimizer = ToOptimizer(optimizer);
    options.min_split_bytes = min_split_bytes;
    py::gil_scoped_release release;
    ps_ = ParameterStore::FromEnvironment(options);
  }

  ParameterStore& ps() {
    if (!ps_) throw Error(StatusCode::kInvalidArgument, "the ParameterStore is closed");
    return *ps_;
  }

  void Close() {
    py::gil_scoped_release release;
    ps_.reset();
  }

  void Init(const std::string& key, py::handle value, const std::vector<int64_t>& shape,
            const py::object& optimizer) {
    ImportedBuffer v = ImportBuffer(value, Access::kRead, "initial value");
    std::optional<OptimizerSpec> spec;
    if (!optimizer.is_none()) spec = ToOptimizer(optimizer.cast<py::dict>());
    ParameterStore& store = ps();
    py::gil_scoped_release release;
    store.init(key, v.view, shape, spec);
  }

  // One Work over `keys` with gradients and/or outputs, as a Handle owning the tensors.
  std::unique_ptr<Handle> Start(const std::string& op, const std::vector<std::string>& keys,
                                const py::list& grads, const py::list& outs, int64_t step) {
    std::vector<py::object> keep;
    const std::vector<BufferView> g = ImportAll(grads, Access::kRead, "gradient", &keep);
    const std::vector<BufferView> o = ImportAll(outs, Access::kWrite, "output", &keep);
    ParameterStore& store = ps();
    WorkPtr work;
    {
      py::gil_scoped_release release;
      if (op == "push") {
        work = keys.size() == 1 && step > 0 ? store.push_async(keys[0], g[0], step) : store.push_async(keys, g);
      } else if (op == "pull") {
        work = store.pull_async(keys, o);
      } else {
        work = store.push_pull_async(keys, g, o);
      }
    }
    return std::make_unique<Handle>(std::move(work), std::move(keep));
  }

 private:
  std::unique_ptr<ParameterStore> ps_;
};

class PySharded {
 public:
  PySharded(const py::list& params, const py::list& grads, const py::dict& optimizer, int stage,
            size_t bucket_bytes) {
    if (!cohort::is_initialized()) ThrowNotInitialized();
    const std::vector<BufferView> p = ImportAll(params, Access::kWrite, "parameter", &keep_);
    const std::vector<BufferView> g = ImportAll(grads, Access::kRead, "gradient", &keep_);
    const OptimizerSpec spec = ToOptimizer(optimizer);
    Communicator& comm = cohort::init();
    py::gil_scoped_release release;
    opt_ = std::make_unique<ShardedOptimizer>(comm, p, g, spec, ShardedOptimizerOptions{stage, bucket_bytes});
  }
  ShardedOptimizer& opt() { return *opt_; }
  void Step() {
    py::gil_scoped_release release;
    opt_->step();
  }

 private:
  std::vector<py::object> keep_;  // the tensors stay alive as long as the optimizer
  std::unique_ptr<ShardedOptimizer> opt_;
};

}  // namespace

void DefParameterStore(py::module_& m) {
  using py::arg;
  py::class_<PyParameterStore>(m, "ParameterStore", "cohort's sharded parameter store (C++ core)")
      .def(py::init<const std::string&, bool, int, int, bool, const py::dict&, size_t>(), arg("name"),
           arg("asynchronous"), arg("staleness"), arg("num_servers"), arg("average_gradients"),
           arg("optimizer"), arg("min_split_bytes"))
      .def("close", &PyParameterStore::Close)
      .def("init", &PyParameterStore::Init, arg("key"), arg("value"), arg("shape"), arg("optimizer"))
      .def("start", &PyParameterStore::Start, arg("op"), arg("keys"), arg("grads"), arg("outs"),
           arg("step") = 0, "Start push/pull/push_pull over keys; returns a Handle.")
      .def("set_learning_rate", [](PyParameterStore& s, double lr, const std::string& key) {
        ParameterStore& store = s.ps();
        py::gil_scoped_release release;
        store.set_learning_rate(lr, key);
      }, arg("lr"), arg("key") = "")
      .def("set_optimizer", [](PyParameterStore& s, const py::dict& spec, const std::string& key) {
        const OptimizerSpec o = ToOptimizer(spec);
        ParameterStore& store = s.ps();
        py::gil_scoped_release release;
        store.set_optimizer(o, key);
      }, arg("optimizer"), arg("key") = "")
      .def("save", [](PyParameterStore& s, const std::string& dir) {
        ParameterStore& store = s.ps();
        py::gil_scoped_release release;
        store.save(dir);
      }, arg("dir"))
      .def("load", [](PyParameterStore& s, const std::string& dir) {
        ParameterStore& store = s.ps();
        py::gil_scoped_release release;
        store.load(dir);
      }, arg("dir"))
      .def("step", [](PyParameterStore& s, const std::string& key) { return s.ps().step(key); }, arg("key"))
      .def("keys", [](PyParameterStore& s) { return s.ps().keys(); })
      .def("shape", [](PyParameterStore& s, const std::string& key) { return s.ps().key_spec(key).shape; }, arg("key"))
      .def("optimizer", [](PyParameterStore& s, const std::string& key) { return FromOptimizer(s.ps().optimizer(key)); }, arg("key"))
      .def("server_bytes", [](PyParameterStore& s) { return s.ps().server_bytes(); })
      .def("num_servers", [](PyParameterStore& s) { return s.ps().num_servers(); })
      .def("dedicated_servers", [](PyParameterStore& s) { return s.ps().dedicated_servers(); })
      .def("worker_rank", [](PyParameterStore& s) { return s.ps().worker_rank(); });

  py::class_<PySharded>(m, "ShardedOptimizer", "ZeRO stage 1/2 optimizer over the default communicator")
      .def(py::init<const py::list&, const py::list&, const py::dict&, int, size_t>(), arg("params"),
           arg("grads"), arg("optimizer"), arg("stage"), arg("bucket_bytes"))
      .def("step", &PySharded::Step)
      .def("set_learning_rate", [](PySharded& s, double lr) { s.opt().set_learning_rate(lr); }, arg("lr"))
      .def("steps", [](PySharded& s) { return s.opt().steps(); })
      .def("state_bytes", [](PySharded& s) { return s.opt().state_bytes(); })
      .def("gradient_bytes", [](PySharded& s) { return s.opt().gradient_bytes(); })
      .def("partition_elements", [](PySharded& s) { return s.opt().partition_elements(); })
      .def("total_elements", [](PySharded& s) { return s.opt().total_elements(); });
}

}  // namespace cohort::python
