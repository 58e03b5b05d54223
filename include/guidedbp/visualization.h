#pragma once
// Placeholder: being written (heat maps as Captum's visualize_image_attr).
