# oneDNN for the tests and benchmarks (the independent cross-check and the bar), found by its
# header and library instead of its CMake package config: Debian's libdnnl-dev config asks for
# the OpenCL headers and development library (its GPU runtime) that the package does not pull
# in, and qgemm uses only oneDNN's CPU engine. libdnnl.so still needs the OpenCL loader at run
# time (ocl-icd-libopencl1), which libdnnl2 depends on. Defines the imported target DNNL::dnnl.
if(TARGET DNNL::dnnl)
  return()
endif()
find_path(QGEMM_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(QGEMM_DNNL_LIBRARY NAMES dnnl)
if(NOT QGEMM_DNNL_INCLUDE_DIR OR NOT QGEMM_DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found (header oneapi/dnnl/dnnl.hpp: ${QGEMM_DNNL_INCLUDE_DIR}, "
                      "library: ${QGEMM_DNNL_LIBRARY}): install libdnnl-dev, or configure with "
                      "-DQGEMM_WITH_ONEDNN=OFF")
endif()
add_library(DNNL::dnnl SHARED IMPORTED GLOBAL)
set_target_properties(DNNL::dnnl PROPERTIES
  IMPORTED_LOCATION "${QGEMM_DNNL_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${QGEMM_DNNL_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")
