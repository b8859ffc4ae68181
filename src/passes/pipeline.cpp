#include "ir/verifier.h"
#include "passes/passes.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

constexpr PassInfo kPipeline[] = {
    {"inline_higher_order", inline_higher_order},
    {"functionalize", functionalize},
    {"drop_noops", drop_noops},
    {"decompose", decompose},
    {"fold_conv_batchnorm", fold_conv_batchnorm},
    {"resolve_views", resolve_views},
    {"fold_constants", fold_constants},
    {"eliminate_dead_code", eliminate_dead_code},
};

}  // namespace

std::span<const PassInfo> backend_pipeline() {
  return kPipeline;
}

const PassInfo* find_pass(std::string_view name) {
  for (const PassInfo& p : kPipeline) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

void prepare_for_backend(ir::ExportedProgram& program, const PassObserver& after_each) {
  for (const PassInfo& pass : kPipeline) {
    pass.run(program);
    try {
      ir::verify(program);
    } catch (const Error& e) {
      throw error("after pass ", pass.name, ": ", e.what());
    }
    if (after_each) after_each(pass, program);
  }
}

}  // namespace kiln::passes
