// Explains one Fashion-MNIST-sized input with the shipped TorchScript model.
// Usage: explain_one MODEL.pt
#include <guidedbp/guidedbp.h>
#include <torch/script.h>

#include <iostream>

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
    torch::Tensor attribution = gbp.attribute(image, /*target=*/0);
    std::cout << "attribution shape " << attribution.sizes()
              << ", relus overridden " << gbp.last_relu_count() << ", max "
              << attribution.max().item<float>() << "\n";
  } catch (const c10::Error& e) {
    std::cerr << "explain_one: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  return 0;
}
