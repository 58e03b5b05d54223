// Concurrency stress (issue #5): many threads attribute with ONE shared model
// and ONE shared attribution object per method, mixing methods, targets,
// inputs, attribute_targets, failing calls and (for TorchScript) the caller's
// own optimised inference on the same module. Every result must be bitwise
// equal (torch::equal) to the one computed single-threaded beforehand, and
// every thread's own state (grad mode, graph-optimizer flag) must be as it
// was. Also: a TorchScript forward that throws leaves the module, its
// parameters and the inputs exactly as before.

#include <gtest/gtest.h>
#include <guidedbp/attribution.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_models.h"

using namespace guidedbp_test;

namespace {

constexpr int kThreads = 8;         // at least 8 (issue #5)
constexpr int kCallsPerThread = 50; // at least 50 (issue #5)
constexpr int64_t kBatch = 4;
constexpr int64_t kClasses = 5;

// conv 1->4 3x3, relu_, flatten, linear 144->16, relu, linear 16->5 on
// 1 x 8 x 8 inputs. Small enough that no op splits its work across OpenMP
// threads (below ATen's grain size), so results are bitwise reproducible.
torch::jit::Module script_net() {
  torch::jit::Module m("StressNet");
  m.register_parameter("w1", torch::randn({4, 1, 3, 3}), /*is_buffer=*/false);
  m.register_parameter("b1", torch::randn({4}) * 0.1, /*is_buffer=*/false);
  m.register_parameter(
      "w2", torch::randn({16, 144}) * 0.1, /*is_buffer=*/false);
  m.register_parameter("b2", torch::randn({16}) * 0.1, /*is_buffer=*/false);
  m.register_parameter("w3", torch::randn({kClasses, 16}), /*is_buffer=*/false);
  m.define(
      "def forward(self, x):\n"
      "    h = torch.conv2d(x, self.w1, self.b1)\n"
      "    h = h.relu_()\n"
      // Huge inputs make an op fail inside the interpreter (mm of a 4-D
      // tensor), after part of the graph is built: a forward that throws.
      "    if bool(x.max() > 1.0e5):\n"
      "        h = torch.mm(h, h)\n"
      "    h = torch.flatten(h, 1)\n"
      "    h = torch.relu(torch.addmm(self.b2, h, self.w2.t()))\n"
      "    return torch.matmul(h, self.w3.t())\n");
  m.eval();
  return m;
}

torch::nn::Sequential nn_net() {
  torch::nn::Sequential net(
      torch::nn::Conv2d(1, 4, 3),
      torch::nn::ReLU(torch::nn::ReLUOptions(/*inplace=*/true)),
      torch::nn::Flatten(),
      torch::nn::Linear(144, 16),
      torch::nn::ReLU(),
      torch::nn::Linear(16, kClasses));
  net->eval();
  return net;
}

std::vector<torch::Tensor> stress_inputs() {
  return {
      torch::randn({kBatch, 1, 8, 8}),
      torch::randn({kBatch, 1, 8, 8}, torch::kDouble).to(torch::kFloat) * 3,
      torch::rand({kBatch, 1, 8, 8}),
  };
}

std::vector<guidedbp::Target> stress_targets() {
  return {
      guidedbp::Target(2),
      guidedbp::Target(-1),
      guidedbp::Target::per_example({0, 4, 1, 3}),
      guidedbp::Target(torch::tensor({1, 2, 3, 0}, torch::kLong)),
  };
}

std::vector<std::shared_ptr<guidedbp::ModifiedReluGradient>> methods(
    const guidedbp::Model& model) {
  return {
      std::make_shared<guidedbp::GuidedBackprop>(model),
      std::make_shared<guidedbp::Deconvolution>(model),
      std::make_shared<guidedbp::Saliency>(model),
      std::make_shared<guidedbp::Saliency>(
          model, guidedbp::SaliencyOptions().abs(true)),
  };
}

// Spins until every thread has arrived, so the calls really overlap.
class StartLine {
 public:
  explicit StartLine(int n) : waiting_(n) {}
  void arrive_and_wait() {
    waiting_.fetch_sub(1);
    while (waiting_.load() > 0) {
      std::this_thread::yield();
    }
  }

 private:
  std::atomic<int> waiting_;
};

struct ThreadReport {
  int calls = 0;
  int equal = 0;
  int expected_throws = 0;
  std::string first_problem;
  bool state_restored = false;
};

void note(ThreadReport& report, const std::string& problem) {
  if (report.first_problem.empty()) {
    report.first_problem = problem;
  }
}

// kThreads x kCallsPerThread mixed attributions on one model. Each call i of
// thread t picks (method, input, target) from a different combination; every
// 5th call of a thread is attribute_targets over all classes; every 7th is a
// bad target that must throw c10::IndexError and change nothing. With
// `own_inference`, threads 6 and 7 also run the TorchScript module themselves
// with grad on and the optimizer on between calls (building the module's own
// optimised plan, which must not hide ReLUs from guidedbp).
void run_stress(
    const guidedbp::Model& model,
    const torch::jit::Module* own_inference) {
  const auto explainers = methods(model);
  const auto inputs = stress_inputs();
  const auto targets = stress_targets();
  const size_t combos = explainers.size() * inputs.size() * targets.size();

  // Single-threaded results first.
  std::vector<torch::Tensor> expected(combos);
  for (size_t c = 0; c < combos; ++c) {
    const size_t m = c % explainers.size();
    const size_t i = (c / explainers.size()) % inputs.size();
    const size_t k = c / (explainers.size() * inputs.size());
    expected[c] = explainers[m]->attribute(inputs[i], targets[k]);
  }
  std::vector<guidedbp::Target> all_classes;
  for (int64_t c = 0; c < kClasses; ++c) {
    all_classes.emplace_back(c);
  }
  std::vector<guidedbp::AttributionResult> expected_targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    expected_targets.push_back(
        explainers[i % explainers.size()]->attribute_targets(
            {inputs[i]}, all_classes));
  }

  std::vector<ThreadReport> reports(kThreads);
  StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ThreadReport& report = reports[t];
      // Each thread starts from its own thread-local state; half of them
      // with the optimizer off, to check it is restored either way.
      const bool optimizer = t % 2 == 0;
      torch::jit::setGraphExecutorOptimize(optimizer);
      start.arrive_and_wait();
      for (int call = 0; call < kCallsPerThread; ++call) {
        ++report.calls;
        const size_t c = (size_t(t) * 7 + size_t(call) * 13) % combos;
        try {
          if (call % 7 == 6) {
            // Class 5 of 5: an IndexError from target selection.
            (void)explainers[c % explainers.size()]->attribute(
                inputs[0], kClasses);
            note(report, "bad target did not throw");
          } else if (call % 5 == 4) {
            const size_t i = c % inputs.size();
            // Also what the call found (output, ReLU count): its own,
            // whatever the other threads do meanwhile.
            const guidedbp::AttributionResult& want = expected_targets[i];
            guidedbp::AttributionResult got =
                explainers[i % explainers.size()]->attribute_targets(
                    {inputs[i]}, all_classes);
            bool same = got.attributions.size() == want.attributions.size() &&
                got.relu_count == want.relu_count &&
                torch::equal(got.output, want.output);
            for (size_t k = 0; same && k < got.attributions.size(); ++k) {
              same =
                  torch::equal(got.attributions[k][0], want.attributions[k][0]);
            }
            report.equal += same;
            if (!same) {
              note(
                  report,
                  "attribute_targets differs at call " + std::to_string(call));
            }
          } else {
            const size_t m = c % explainers.size();
            const size_t i = (c / explainers.size()) % inputs.size();
            const size_t k = c / (explainers.size() * inputs.size());
            torch::Tensor a = explainers[m]->attribute(inputs[i], targets[k]);
            const bool same = torch::equal(a, expected[c]);
            report.equal += same;
            if (!same) {
              note(
                  report,
                  "combination " + std::to_string(c) + " differs at call " +
                      std::to_string(call));
            }
          }
        } catch (const c10::IndexError&) {
          ++report.expected_throws;
        } catch (const std::exception& e) {
          note(report, std::string("unexpected exception: ") + e.what());
        }
        if (own_inference != nullptr && t >= 6) {
          torch::jit::Module module = *own_inference; // shares the module
          torch::jit::setGraphExecutorOptimize(true);
          torch::Tensor x =
              inputs[call % inputs.size()].clone().requires_grad_();
          torch::Tensor y = module.forward({x}).toTensor().sum();
          torch::autograd::grad({y}, {x}); // leaves the parameters' .grad alone
          torch::jit::setGraphExecutorOptimize(optimizer);
        }
      }
      report.state_restored = torch::GradMode::is_enabled() &&
          torch::jit::getGraphExecutorOptimize() == optimizer;
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  int total_good = 0;
  for (int t = 0; t < kThreads; ++t) {
    const ThreadReport& r = reports[t];
    const int throws = kCallsPerThread / 7; // calls 6, 13, 20, ...
    EXPECT_EQ(r.calls, kCallsPerThread) << "thread " << t;
    EXPECT_EQ(r.expected_throws, throws) << "thread " << t;
    EXPECT_EQ(r.equal, kCallsPerThread - throws)
        << "thread " << t << ": " << r.first_problem;
    EXPECT_TRUE(r.first_problem.empty())
        << "thread " << t << ": " << r.first_problem;
    EXPECT_TRUE(r.state_restored) << "thread " << t;
    total_good += r.equal;
  }
  // Nothing was left on the shared inputs.
  for (const auto& x : inputs) {
    EXPECT_FALSE(x.requires_grad());
    EXPECT_FALSE(x.grad().defined());
  }
  // And the single-threaded answer is still the same afterwards.
  for (size_t c = 0; c < combos; c += 5) {
    const size_t m = c % explainers.size();
    const size_t i = (c / explainers.size()) % inputs.size();
    const size_t k = c / (explainers.size() * inputs.size());
    EXPECT_TRUE(torch::equal(
        explainers[m]->attribute(inputs[i], targets[k]), expected[c]))
        << "combination " << c << " after the stress";
  }
  ::testing::Test::RecordProperty(
      "threads_x_calls",
      std::to_string(kThreads) + "x" + std::to_string(kCallsPerThread));
  ::testing::Test::RecordProperty("equal_results", total_good);
}

} // namespace

class StressTest : public SeededTest {};

TEST_F(StressTest, ManyThreadsOnOneTorchScriptModuleMatchSingleThreaded) {
  torch::jit::Module module = script_net();
  const bool training = module.is_training();
  run_stress(module, &module);
  EXPECT_EQ(module.is_training(), training);
}

TEST_F(StressTest, ManyThreadsOnOneNnModelMatchSingleThreaded) {
  torch::nn::Sequential net = nn_net();
  std::vector<torch::Tensor> before;
  for (const auto& p : net->parameters()) {
    before.push_back(p.clone());
  }
  run_stress(net, nullptr);
  size_t n = 0;
  for (const auto& p : net->parameters()) {
    EXPECT_TRUE(torch::equal(p, before[n++]));
    EXPECT_FALSE(p.grad().defined());
    EXPECT_TRUE(p.requires_grad());
  }
  EXPECT_FALSE(net->is_training());
}

// properties_test.cpp covers a throwing C++ forward and a throwing target
// selection on a torch::nn model; this adds a TorchScript forward that raises
// (the interpreter unwinds through our executor and guards) and checks the
// parameters' values and requires_grad and the module's mode as well.
TEST_F(StressTest, TorchScriptForwardThatRaisesLeavesNothingBehind) {
  torch::jit::Module module = script_net();
  guidedbp::GuidedBackprop gbp(module);
  torch::Tensor x = torch::rand({kBatch, 1, 8, 8});
  torch::Tensor huge = torch::full({kBatch, 1, 8, 8}, 1.0e6);
  const torch::Tensor expected = gbp.attribute(x, 1);

  for (const bool optimizer : {true, false}) {
    torch::jit::setGraphExecutorOptimize(optimizer);
    const bool training = module.is_training();
    std::vector<torch::Tensor> params;
    std::vector<bool> requires_grad;
    for (const auto& p : module.parameters()) {
      params.push_back(p.clone());
      requires_grad.push_back(p.requires_grad());
    }
    torch::Tensor leaf = huge.clone().requires_grad_();
    try {
      (void)gbp.attribute(leaf, 1);
      ADD_FAILURE() << "the raising forward did not throw";
    } catch (const std::exception& e) {
      EXPECT_NE(
          std::string(e.what()).find("must be a matrix"), std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(torch::GradMode::is_enabled());
    EXPECT_EQ(torch::jit::getGraphExecutorOptimize(), optimizer);
    EXPECT_TRUE(leaf.requires_grad());
    EXPECT_FALSE(leaf.grad().defined());
    EXPECT_TRUE(torch::equal(leaf, huge));
    size_t n = 0;
    for (const auto& p : module.parameters()) {
      EXPECT_TRUE(torch::equal(p, params[n]));
      EXPECT_EQ(p.requires_grad(), requires_grad[n]);
      EXPECT_FALSE(p.grad().defined());
      ++n;
    }
    EXPECT_EQ(module.is_training(), training);
    // Same target selection failure, then a good call: same answer as before.
    EXPECT_THROW((void)gbp.attribute(x, kClasses), c10::IndexError);
    EXPECT_TRUE(torch::equal(gbp.attribute(x, 1), expected));
  }
  torch::jit::setGraphExecutorOptimize(true);
}
