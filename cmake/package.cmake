# A Debian package of what cmake/install.cmake installs (the library, its
# headers and CMake package, the CLI) plus the docs and the examples, made by
# scripts/package-deb.sh (cpack -G DEB). Its dependencies are computed from
# the CLI's shared libraries (dpkg-shlibdeps), so a package built on Debian 12
# asks for LibTorch 1.13 and one built on Debian 13 for LibTorch 2.6; the
# version carries the release (0.1.0-1~deb12) so the two never mix.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
# The shipped model and images (`guidedbp explain` on them is the first thing
# to try), and the consumer example (find_package(guidedbp)).
set(GUIDEDBP_EXAMPLES_DIR ${CMAKE_INSTALL_DATADIR}/guidedbp/examples)
install(FILES
  examples/fashion_mnist/README.md
  examples/fashion_mnist/model.pt
  examples/fashion_mnist/model_card.json
  examples/fashion_mnist/labels.txt
  DESTINATION ${GUIDEDBP_EXAMPLES_DIR}/fashion_mnist)
install(DIRECTORY examples/fashion_mnist/images
  DESTINATION ${GUIDEDBP_EXAMPLES_DIR}/fashion_mnist)
install(FILES examples/consumer/CMakeLists.txt examples/consumer/main.cpp
  DESTINATION ${GUIDEDBP_EXAMPLES_DIR}/consumer)

file(STRINGS /etc/os-release GUIDEDBP_OS_VERSION_ID REGEX "^VERSION_ID=")
string(REGEX REPLACE "^VERSION_ID=\"?([0-9]+).*" "\\1" GUIDEDBP_OS_VERSION_ID
  "${GUIDEDBP_OS_VERSION_ID}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME guidedbp)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Guided Backpropagation for PyTorch models (LibTorch): library and CLI")
set(CPACK_PACKAGE_DESCRIPTION
  "Explains TorchScript models with Guided Backpropagation, Deconvolution, \
saliency and Grad-CAM: the C++ library (static, headers, CMake package \
guidedbp::guidedbp), the guidedbp command-line tool (explain, attribute, \
serve), the docs, an example Fashion-MNIST model with images and a consumer \
example.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "guidedbp developers" CACHE STRING
  "The Maintainer field of the Debian package")
if(GUIDEDBP_OS_VERSION_ID)
  set(CPACK_DEBIAN_PACKAGE_RELEASE "1~deb${GUIDEDBP_OS_VERSION_ID}")
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # guidedbp_0.1.0-1~deb12_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Building against the library needs LibTorch's headers and CMake package
# (our config calls find_dependency(Torch)); the CLI alone does not.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS libtorch-dev)
include(CPack)
