#include <guidedbp/visualization.h>
