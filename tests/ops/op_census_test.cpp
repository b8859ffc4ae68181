// The ops that 21 popular architectures export to (torch 2.11): every one is in the table, and
// the Python-level symbolic-int arithmetic they record too.
#include <gtest/gtest.h>

#include "ops/op_table.h"

namespace kiln::ops {
namespace {

constexpr const char* kCensusOps[] = {
    "aten.linear.default",
    "aten.add.Tensor",
    "aten.conv2d.default",
    "aten.mul.Tensor",
    "aten.sym_size.int",
    "aten.view.default",
    "aten.transpose.int",
    "aten.reshape.default",
    "aten.unsqueeze.default",
    "aten.cat.default",
    "aten.expand.default",
    "aten.scaled_dot_product_attention.default",
    "aten.slice.Tensor",
    "aten.batch_norm.default",
    "aten.adaptive_avg_pool2d.default",
    "aten.flatten.using_ints",
    "aten.dropout.default",
    "aten.embedding.default",
    "aten.arange.default",
    "aten.mean.dim",
    "aten.relu_.default",
    "aten.gelu.default",
    "aten.sub.Tensor",
    "aten.ne.Scalar",
    "aten._assert_tensor_metadata.default",
    "aten.to.dtype",
    "aten.layer_norm.default",
    "aten.index.Tensor",
    "aten.matmul.default",
    "aten.cumsum.default",
    "aten.to.dtype_layout",
    "aten.pow.Tensor_Scalar",
    "aten.rsqrt.default",
    "aten.add_.Tensor",
    "aten.diff.default",
    "aten.new_ones.default",
    "aten.le.Tensor",
    "aten.__and__.Tensor",
    "aten.eq.Tensor",
    "aten.cos.default",
    "aten.sin.default",
    "aten.neg.default",
    "aten.max_pool2d.default",
    "aten.permute.default",
    "aten.contiguous.default",
    "aten.select.int",
    "aten.ge.Scalar",
    "aten.to.device",
    "aten.silu.default",
    "aten.relu.default",
    "aten.dropout_.default",
    "aten.sigmoid.default",
    "aten.chunk.default",
    "aten.alias.default",
    "aten.gather.default",
    "aten.tanh.default",
    "aten.type_as.default",
    "aten.hardtanh_.default",
    "aten.hardswish_.default",
    "aten.hardsigmoid.default",
    "aten.silu_.default",
    "aten.avg_pool2d.default",
    "aten.unflatten.int",
    "aten.squeeze.dim",
    "aten.pad.default",
    "aten.softmax.int",
    "aten.roll.default",
    "aten.new_zeros.default",
    "aten.lift_fresh_copy.default",
    "aten.fill_.Tensor",
    "aten.masked_fill.Scalar",
    "aten.eq.Scalar",
    "aten.gt.Tensor",
    "aten.gt.Scalar",
    "aten.abs.default",
    "aten.lt.Scalar",
    "aten.div.Tensor",
    "aten.log.default",
    "aten.full_like.default",
    "aten.min.other",
    "aten.where.self",
    "aten.where.ScalarOther",
    "aten.sym_size.int",
    "_operator.add",
    "_operator.mul",
    "_operator.sub",
    "_operator.floordiv",
};

TEST(OpCensus, EveryCensusOpIsInTheTable) {
  for (const char* target : kCensusOps) {
    const OpDef* op = find_op(target);
    ASSERT_NE(op, nullptr) << target;
    EXPECT_NE(op->shape, nullptr) << target;
    EXPECT_NE(op->reference, nullptr) << target;
  }
}

}  // namespace
}  // namespace kiln::ops
