#pragma once

/// guidedbp: Guided Backpropagation, Deconvolution and Saliency for LibTorch
/// models, with Captum's semantics. This umbrella header brings in the whole
/// public API; include the narrower headers to compile faster.
///
/// Example:
/// ```
/// #include <guidedbp/guidedbp.h>
/// #include <torch/script.h>
///
/// guidedbp::GuidedBackprop gbp(torch::jit::load("model.pt"));
/// torch::Tensor attribution = gbp.attribute(images, /*target=*/3);
/// ```

#include <guidedbp/attribution.h>
#include <guidedbp/compiled.h>
#include <guidedbp/grad_cam.h>
#include <guidedbp/infidelity.h>
#include <guidedbp/layer.h>
#include <guidedbp/model.h>
#include <guidedbp/neuron.h>
#include <guidedbp/pixel_curves.h>
#include <guidedbp/randomization.h>
#include <guidedbp/sensitivity.h>
#include <guidedbp/similarity.h>
#include <guidedbp/target.h>
#include <guidedbp/version.h>
#include <guidedbp/visualization.h>
