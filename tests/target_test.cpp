// Target selection against hand-indexed tensors, and every misuse's error.

#include <gtest/gtest.h>
#include <guidedbp/target.h>
#include <torch/torch.h>

#include <string>

#include "test_models.h"

namespace {

// 2 examples x 3 classes, values 0..5.
torch::Tensor scores() {
  return torch::arange(6, torch::kFloat).view({2, 3});
}

// 2 examples x 3 x 4, values 0..23.
torch::Tensor scores3d() {
  return torch::arange(24, torch::kFloat).view({2, 3, 4});
}

// Expects selecting `target` from `output` to throw ErrorType with `fragment`.
template <typename ErrorType>
void expect_select_error(
    const torch::Tensor& output,
    const guidedbp::Target& target,
    const std::string& fragment) {
  guidedbp_test::expect_error<ErrorType>(
      [&] { (void)target.select(output); }, fragment);
}

} // namespace

TEST(TargetTest, NoneOnOneScorePerExample) {
  torch::Tensor out = torch::tensor({1.0, 2.0});
  EXPECT_TRUE(torch::equal(guidedbp::Target().select(out), out));
  EXPECT_TRUE(torch::equal(guidedbp::Target().select(out.view({2, 1})), out));
}

TEST(TargetTest, IndexSelectsTheSameClassForEveryExample) {
  EXPECT_TRUE(torch::equal(
      guidedbp::Target(2).select(scores()), torch::tensor({2.f, 5.f})));
  // Negative indices count from the end, as Python indexing does.
  EXPECT_TRUE(torch::equal(
      guidedbp::Target(-3).select(scores()), torch::tensor({0.f, 3.f})));
}

TEST(TargetTest, TupleIndexesTheDimsAfterTheBatch) {
  auto t = guidedbp::Target::tuple({1, 2});
  EXPECT_TRUE(torch::equal(t.select(scores3d()), torch::tensor({6.f, 18.f})));
  EXPECT_EQ(t.to_string(), "(1, 2)");
}

TEST(TargetTest, PerExampleSelectsOneClassEach) {
  auto t = guidedbp::Target::per_example({2, 0});
  EXPECT_TRUE(torch::equal(t.select(scores()), torch::tensor({2.f, 3.f})));
  EXPECT_EQ(t.to_string(), "[2, 0]");
}

TEST(TargetTest, PerExampleTuples) {
  auto t = guidedbp::Target::per_example_tuples({{0, 1}, {2, -1}});
  EXPECT_TRUE(torch::equal(t.select(scores3d()), torch::tensor({1.f, 23.f})));
  EXPECT_EQ(t.to_string(), "[(0, 1), (2, -1)]");
}

TEST(TargetTest, IntegerTensors) {
  EXPECT_TRUE(torch::equal(
      guidedbp::Target(torch::tensor(1)).select(scores()),
      torch::tensor({1.f, 4.f})));
  guidedbp::Target per_example(torch::tensor({2, 1}));
  EXPECT_EQ(per_example.kind(), guidedbp::Target::Kind::kPerExample);
  EXPECT_TRUE(
      torch::equal(per_example.select(scores()), torch::tensor({2.f, 4.f})));
}

TEST(TargetTest, RejectsIndexPastLastClass) {
  expect_select_error<c10::IndexError>(
      scores(),
      3,
      "index 3 is out of range for dimension 1 of the model's output of shape [2, 3]");
  expect_select_error<c10::IndexError>(scores(), -4, "(valid: -3 to 2)");
  expect_select_error<c10::IndexError>(
      scores3d(), guidedbp::Target::tuple({1, 4}), "dimension 2");
  expect_select_error<c10::IndexError>(
      scores(), guidedbp::Target::per_example({0, 5}), "index 5");
  expect_select_error<c10::IndexError>(
      scores(), guidedbp::Target::per_example({0, -1}), "index -1");
}

TEST(TargetTest, RejectsPerExampleCountNotEqualToBatch) {
  expect_select_error<c10::ValueError>(
      scores(),
      guidedbp::Target::per_example({0, 1, 2}),
      "has 3 per-example entries, but the batch has 2 examples");
  expect_select_error<c10::ValueError>(
      scores3d(),
      guidedbp::Target::per_example_tuples({{0, 1}}),
      "has 1 per-example entries, but the batch has 2");
}

TEST(TargetTest, RejectsMissingTargetForSeveralOutputs) {
  expect_select_error<c10::ValueError>(
      scores(),
      guidedbp::Target(),
      "no target given, but the model's output of shape [2, 3]");
  expect_select_error<c10::ValueError>(
      scores3d(), 1, "leaves several values per example");
}

TEST(TargetTest, RejectsTupleLongerThanTheOutputAllows) {
  expect_select_error<c10::ValueError>(
      scores(),
      guidedbp::Target::tuple({0, 1}),
      "has 2 indices, but the model's output of shape [2, 3] allows at most 1");
}

TEST(TargetTest, RejectsPerExampleListOnThreeDimensionalOutput) {
  expect_select_error<c10::ValueError>(
      scores3d(), guidedbp::Target::per_example({0, 1}), "needs a 2-D output");
}

TEST(TargetTest, RejectsNonIntegerTensor) {
  EXPECT_THROW(guidedbp::Target(torch::tensor({1.5})), c10::TypeError);
  EXPECT_THROW(
      guidedbp::Target(torch::ones({2, 2}, torch::kLong)), c10::ValueError);
}

TEST(TargetTest, RejectsOutputWithoutBatch) {
  expect_select_error<c10::ValueError>(
      torch::tensor(1.0), guidedbp::Target(), "non-empty batch dimension");
}
