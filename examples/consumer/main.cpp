// Explains one Fashion-MNIST-sized input with the shipped TorchScript model.
// Usage: explain_one MODEL.pt
#include <guidedbp/guidedbp.h>
#include <torch/script.h>

#include <iostream>

// README.md's C++ API example, verbatim between the markers (the test
// readme.example compares them), so that the package tests compile it.
// clang-format off
// BEGIN README EXAMPLE
#include <guidedbp/guidedbp.h>
#include <torch/script.h>

// images: a batch of model inputs; x1, x2, mask: those of a two-input model.
void explain(torch::Tensor images, torch::Tensor x1, torch::Tensor x2, torch::Tensor mask) {
  torch::jit::Module model = torch::jit::load("model.pt");  // scripted or traced
  model.eval();
  guidedbp::GuidedBackprop gbp(model);  // also guidedbp::Deconvolution, guidedbp::Saliency

  torch::Tensor a = gbp.attribute(images, /*target=*/3);  // same shape and dtype as images
  // Several inputs (Captum's tuple): a braced list gives one attribution per input.
  std::vector<torch::Tensor> as = gbp.attribute({x1, x2}, guidedbp::Target::per_example({3, 1}),
                                                /*additional_forward_args=*/{mask, 2.0});
  std::vector<torch::Tensor> one = gbp.attribute({images}, 3);  // a list of one input

  // K targets from ONE forward pass, with what that pass found.
  guidedbp::AttributionResult r = gbp.attribute_targets({images}, {0, 1, 2});
  torch::Tensor a2 = r.attributions[2][0];  // target 2, input 0
  torch::Tensor scores = r.output;          // the model's output, detached
  std::cout << r.relu_count << " ReLUs overridden\n";  // 0: a plain gradient (and a warning)

  // Targets chosen from the output of that same pass, e.g. each example's predicted class.
  guidedbp::AttributionResult p = gbp.attribute_chosen_targets({images}, [](const torch::Tensor& out) {
    return std::vector<guidedbp::Target>{out.argmax(1)};
  });
}
// END README EXAMPLE
// clang-format on

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: explain_one MODEL.pt\n";
    return 2;
  }
  try {
    torch::jit::Module model = torch::jit::load(argv[1]);
    model.eval();
    // A bright square on black, the input format of the shipped model.
    torch::Tensor image = torch::zeros({1, 1, 28, 28});
    image.index_put_(
        {0, 0, torch::indexing::Slice(8, 20), torch::indexing::Slice(8, 20)},
        1.0);

    guidedbp::GuidedBackprop gbp(model);
    guidedbp::AttributionResult result =
        gbp.attribute_targets({image}, {/*target=*/0});
    torch::Tensor attribution = result.attributions[0][0];
    std::cout << "attribution shape " << attribution.sizes()
              << ", relus overridden " << result.relu_count << ", max "
              << attribution.max().item<float>() << "\n";
  } catch (const c10::Error& e) {
    std::cerr << "explain_one: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  return 0;
}
