# Installs the library, its headers and a CMake package, so consumers can
# find_package(guidedbp CONFIG REQUIRED) and link guidedbp::guidedbp.
include(CMakePackageConfigHelpers)

set(GUIDEDBP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/guidedbp)

install(TARGETS guidedbp EXPORT guidedbp-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/guidedbp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/guidedbp/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/guidedbp)
install(EXPORT guidedbp-targets
  NAMESPACE guidedbp::
  DESTINATION ${GUIDEDBP_CMAKE_DIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/guidedbpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/guidedbpConfig.cmake
  INSTALL_DESTINATION ${GUIDEDBP_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/guidedbpConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/guidedbpConfig.cmake
  ${PROJECT_BINARY_DIR}/guidedbpConfigVersion.cmake
  DESTINATION ${GUIDEDBP_CMAKE_DIR})
