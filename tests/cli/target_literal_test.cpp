// Unit tests of the --target and --neuron literal parsers (torch-free).

#include "cli/target_literal.h"

#include <gtest/gtest.h>

#include "cli/cli_error.h"

using guidedbp::cli::CliError;
using guidedbp::cli::NeuronLiteral;
using guidedbp::cli::parse_neuron_literal;
using guidedbp::cli::parse_target_literal;
using guidedbp::cli::TargetLiteral;
using Kind = guidedbp::cli::TargetLiteral::Kind;

namespace {

std::string message_of(const std::string& text) {
  try {
    parse_target_literal(text);
  } catch (const CliError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(TargetLiteralTest, ParsesEveryForm) {
  auto index = parse_target_literal(" 3 ");
  EXPECT_EQ(index.kind, Kind::kIndex);
  EXPECT_EQ(index.indices, (std::vector<int64_t>{3}));
  EXPECT_EQ(parse_target_literal("-1").indices, (std::vector<int64_t>{-1}));
  auto tuple = parse_target_literal("( 1 , 2 )");
  EXPECT_EQ(tuple.kind, Kind::kTuple);
  EXPECT_EQ(tuple.indices, (std::vector<int64_t>{1, 2}));
  auto single = parse_target_literal("(1,)");
  EXPECT_EQ(single.kind, Kind::kTuple);
  EXPECT_EQ(single.indices, (std::vector<int64_t>{1}));
  EXPECT_EQ(parse_target_literal("(4)").kind, Kind::kIndex); // Python: an int
  auto list = parse_target_literal("[3,1,0]");
  EXPECT_EQ(list.kind, Kind::kPerExample);
  EXPECT_EQ(list.indices, (std::vector<int64_t>{3, 1, 0}));
  auto tuples = parse_target_literal("[(0,1), (2,3),]");
  EXPECT_EQ(tuples.kind, Kind::kPerExampleTuples);
  EXPECT_EQ(tuples.tuples, (std::vector<std::vector<int64_t>>{{0, 1}, {2, 3}}));
  EXPECT_EQ(parse_target_literal("None").kind, Kind::kNone);
  EXPECT_EQ(to_string(tuples), "[(0, 1), (2, 3)]");
  EXPECT_EQ(to_string(single), "(1,)");
}

TEST(TargetLiteralTest, SaysWhatWasExpectedWhere) {
  EXPECT_NE(
      message_of("[1,,2]").find("expected an integer at column 4, found ','"),
      std::string::npos)
      << message_of("[1,,2]");
  EXPECT_NE(
      message_of("(1 2)").find("expected ',' or ')' at column 4"),
      std::string::npos)
      << message_of("(1 2)");
  EXPECT_NE(
      message_of("3 4").find("the end of the target at column 3"),
      std::string::npos);
  EXPECT_NE(message_of("1.5").find("no fractions"), std::string::npos);
  EXPECT_NE(
      message_of("[1, (2,3)]").find("all integers or all tuples"),
      std::string::npos);
  EXPECT_NE(
      message_of("[(1,2), 3]").find("all integers or all tuples"),
      std::string::npos);
  EXPECT_NE(
      message_of("99999999999999999999").find("64 bits"), std::string::npos);
  for (const char* bad :
       {"", " ", "[]", "()", "[", "(1,", "x", "[1", "-", "[(1,2)"}) {
    EXPECT_NE(message_of(bad), "") << bad;
  }
}

TEST(TargetLiteralTest, AcceptsExtremeIntegers) {
  EXPECT_EQ(parse_target_literal("-9223372036854775808").indices[0], INT64_MIN);
  EXPECT_EQ(parse_target_literal("9223372036854775807").indices[0], INT64_MAX);
}

namespace {

std::string neuron_message(const std::string& text) {
  try {
    parse_neuron_literal(text);
  } catch (const guidedbp::cli::CliError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(NeuronLiteralTest, ParsesIndicesAndRanges) {
  NeuronLiteral seven = parse_neuron_literal("7");
  EXPECT_TRUE(seven.is_int);
  ASSERT_EQ(seven.elements.size(), 1u);
  EXPECT_EQ(seven.elements[0].start, 7);
  EXPECT_FALSE(seven.elements[0].is_range);
  EXPECT_TRUE(parse_neuron_literal("(7)").is_int); // Python: an int

  NeuronLiteral mixed = parse_neuron_literal("(0:4, 1, -2:)");
  EXPECT_FALSE(mixed.is_int);
  ASSERT_EQ(mixed.elements.size(), 3u);
  EXPECT_TRUE(mixed.elements[0].is_range);
  EXPECT_EQ(mixed.elements[0].start, 0);
  EXPECT_EQ(mixed.elements[0].stop, 4);
  EXPECT_FALSE(mixed.elements[1].is_range);
  EXPECT_EQ(mixed.elements[1].start, 1);
  EXPECT_TRUE(mixed.elements[2].is_range);
  EXPECT_EQ(mixed.elements[2].start, -2);
  EXPECT_EQ(mixed.elements[2].stop, NeuronLiteral::kOpenStop);

  NeuronLiteral all = parse_neuron_literal("( : , 3 )");
  EXPECT_TRUE(all.elements[0].is_range);
  EXPECT_EQ(all.elements[0].start, 0);
  EXPECT_EQ(all.elements[0].stop, NeuronLiteral::kOpenStop);

  NeuronLiteral one = parse_neuron_literal("(2:5)"); // a one-range tuple
  EXPECT_FALSE(one.is_int);
  EXPECT_EQ(to_string(one), "(2:5,)");
  EXPECT_EQ(to_string(mixed), "(:4, 1, -2:)");
  EXPECT_EQ(to_string(seven), "7");
  EXPECT_EQ(to_string(parse_neuron_literal("(5, 1, 2)")), "(5, 1, 2)");
}

TEST(NeuronLiteralTest, SaysWhatWasExpectedWithTheNeuronForms) {
  const std::string bare = neuron_message("0:4");
  EXPECT_NE(bare.find("bad --neuron '0:4'"), std::string::npos) << bare;
  EXPECT_NE(bare.find("a range goes inside a tuple"), std::string::npos);
  EXPECT_NE(bare.find("(0:4,1,2)"), std::string::npos) << bare;
  const std::string list = neuron_message("[1, 2]");
  EXPECT_NE(list.find("bad --neuron"), std::string::npos) << list;
  EXPECT_EQ(list.find("--target"), std::string::npos) << list;
  EXPECT_EQ(list.find("[3,1,0]"), std::string::npos) << list;
  for (const char* bad :
       {"", "()", "(1,,2)", "(1 2)", "(1:2:3)", "(a)", "7 8"}) {
    EXPECT_NE(neuron_message(bad), "") << bad;
  }
}
