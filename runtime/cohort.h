// cohort: the one header an application includes.
//   #include <cohort/cohort.h>
//   cohort::Communicator& comm = cohort::init();
//   comm.allreduce({data, n, cohort::DataType::kF32}, cohort::ReduceOp::kSum);
#pragma once

#include "runtime/base/dtype.h"
#include "runtime/base/errors.h"
#include "runtime/comm/communicator.h"
#include "runtime/comm/work.h"
