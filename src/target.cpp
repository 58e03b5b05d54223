#include <c10/util/Exception.h>
#include <guidedbp/target.h>

#include <sstream>
#include <utility>

namespace guidedbp {
namespace {

std::string tuple_literal(const std::vector<int64_t>& t) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < t.size(); ++i) {
    out << (i ? ", " : "") << t[i];
  }
  out << (t.size() == 1 ? ",)" : ")");
  return out.str();
}

// Python indexing: -size <= index < size, negatives counting from the end.
void check_index(
    int64_t index,
    int64_t dim,
    const torch::Tensor& output,
    const Target& target) {
  const int64_t size = output.size(dim);
  TORCH_CHECK_INDEX(
      index >= -size && index < size,
      "target ",
      target.to_string(),
      ": index ",
      index,
      " is out of range for dimension ",
      dim,
      " of the model's output of shape ",
      output.sizes(),
      " (valid: ",
      -size,
      " to ",
      size - 1,
      ")");
}

void check_tuple_length(
    const std::vector<int64_t>& t,
    const torch::Tensor& output,
    const Target& target) {
  TORCH_CHECK_VALUE(
      static_cast<int64_t>(t.size()) <= output.dim() - 1,
      "target ",
      target.to_string(),
      " has ",
      t.size(),
      " indices, but the model's output of shape ",
      output.sizes(),
      " allows at most ",
      output.dim() - 1,
      " after the batch dimension");
}

void check_per_example_count(
    size_t count,
    const torch::Tensor& output,
    const Target& target) {
  TORCH_CHECK_VALUE(
      static_cast<int64_t>(count) == output.size(0),
      "target ",
      target.to_string(),
      " has ",
      count,
      " per-example entries, but the batch has ",
      output.size(0),
      " examples (model output of shape ",
      output.sizes(),
      ")");
}

// output[i0, i1, ...] over the dims after `first_dim`, one select per index.
torch::Tensor select_tuple(
    torch::Tensor t,
    const std::vector<int64_t>& indices,
    int64_t dim) {
  for (int64_t index : indices) {
    t = t.select(dim, index);
  }
  return t;
}

} // namespace

Target::Target(int64_t index) : kind_(Kind::kIndex), indices_{index} {}

Target::Target(const torch::Tensor& tensor) {
  TORCH_CHECK_TYPE(
      tensor.defined() &&
          c10::isIntegralType(tensor.scalar_type(), /*includeBool=*/false),
      "Target: a target tensor must hold integers, got ",
      tensor.defined() ? c10::toString(tensor.scalar_type())
                       : "an undefined tensor");
  if (tensor.numel() == 1) {
    kind_ = Kind::kIndex;
    indices_ = {tensor.item<int64_t>()};
    return;
  }
  TORCH_CHECK_VALUE(
      tensor.dim() == 1,
      "Target: a target tensor must hold one element, or one per example "
      "(1-D), got shape ",
      tensor.sizes());
  torch::Tensor values = tensor.to(torch::kCPU, torch::kLong).contiguous();
  kind_ = Kind::kPerExample;
  indices_.assign(
      values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + values.numel());
}

Target Target::none() {
  return Target();
}

Target Target::index(int64_t index) {
  return Target(index);
}

Target Target::tuple(std::vector<int64_t> indices) {
  Target t;
  t.kind_ = Kind::kTuple;
  t.indices_ = std::move(indices);
  return t;
}

Target Target::per_example(std::vector<int64_t> indices) {
  Target t;
  t.kind_ = Kind::kPerExample;
  t.indices_ = std::move(indices);
  return t;
}

Target Target::per_example_tuples(std::vector<std::vector<int64_t>> indices) {
  Target t;
  t.kind_ = Kind::kPerExampleTuples;
  t.tuples_ = std::move(indices);
  return t;
}

std::string Target::to_string() const {
  std::ostringstream out;
  switch (kind_) {
    case Kind::kNone:
      return "None";
    case Kind::kIndex:
      out << indices_.at(0);
      break;
    case Kind::kTuple:
      out << tuple_literal(indices_);
      break;
    case Kind::kPerExample:
      out << "[";
      for (size_t i = 0; i < indices_.size(); ++i) {
        out << (i ? ", " : "") << indices_[i];
      }
      out << "]";
      break;
    case Kind::kPerExampleTuples:
      out << "[";
      for (size_t i = 0; i < tuples_.size(); ++i) {
        out << (i ? ", " : "") << tuple_literal(tuples_[i]);
      }
      out << "]";
      break;
  }
  std::string s = out.str();
  // Keep messages one readable line for very long per-example lists.
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

torch::Tensor Target::select(const torch::Tensor& output) const {
  TORCH_CHECK_VALUE(
      output.dim() >= 1 && output.size(0) > 0,
      "target selection: the model's output must have a non-empty batch "
      "dimension, got shape ",
      output.sizes());
  const int64_t batch = output.size(0);
  torch::Tensor selected;
  switch (kind_) {
    case Kind::kNone:
      selected = output;
      break;
    case Kind::kIndex:
    case Kind::kTuple: {
      check_tuple_length(indices_, output, *this);
      for (size_t d = 0; d < indices_.size(); ++d) {
        check_index(indices_[d], static_cast<int64_t>(d) + 1, output, *this);
      }
      selected = select_tuple(output, indices_, /*dim=*/1);
      break;
    }
    case Kind::kPerExample: {
      check_per_example_count(indices_.size(), output, *this);
      TORCH_CHECK_VALUE(
          output.dim() == 2,
          "target ",
          to_string(),
          ": one index per example needs a 2-D output (batch, classes), but "
          "the model's output has shape ",
          output.sizes(),
          "; use one index tuple per example instead");
      for (int64_t index : indices_) {
        // Like Captum's torch.gather: no negative indices here.
        TORCH_CHECK_INDEX(
            index >= 0 && index < output.size(1),
            "target ",
            to_string(),
            ": index ",
            index,
            " is out of range for dimension 1 of the model's output of shape ",
            output.sizes(),
            " (valid: 0 to ",
            output.size(1) - 1,
            ")");
      }
      torch::Tensor index = torch::tensor(indices_, torch::dtype(torch::kLong))
                                .to(output.device())
                                .reshape({batch, 1});
      selected = output.gather(1, index);
      break;
    }
    case Kind::kPerExampleTuples: {
      check_per_example_count(tuples_.size(), output, *this);
      for (const auto& t : tuples_) {
        TORCH_CHECK_VALUE(
            t.size() == tuples_[0].size(),
            "target ",
            to_string(),
            ": the per-example tuples must all have the "
            "same length, got ",
            tuples_[0].size(),
            " and ",
            t.size());
      }
      std::vector<torch::Tensor> rows;
      rows.reserve(tuples_.size());
      for (int64_t i = 0; i < batch; ++i) {
        const auto& t = tuples_[i];
        check_tuple_length(t, output, *this);
        for (size_t d = 0; d < t.size(); ++d) {
          check_index(t[d], static_cast<int64_t>(d) + 1, output, *this);
        }
        rows.push_back(select_tuple(output[i], t, /*dim=*/0));
      }
      selected = torch::stack(rows);
      break;
    }
  }
  const int64_t per_example = selected.numel() / batch;
  TORCH_CHECK_VALUE(
      selected.size(0) == batch && per_example == 1,
      kind_ == Kind::kNone ? "no target given, but the model's output of shape "
                           : "target " + to_string() +
              " leaves several values per example of the model's output of shape ",
      output.sizes(),
      " (",
      per_example,
      " values per example); pass a target that selects one value per example, "
      "e.g. a class index");
  return selected.reshape({batch});
}

} // namespace guidedbp
