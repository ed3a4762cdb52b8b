# Per-ISA kernel objects. Each ISA's sources are compiled with that ISA's flags and nothing
# else; the rest of the library stays at the baseline ISA, so libqgemm.a runs on any CPU of
# its architecture and dispatch decides at run time. Adding an ISA = a folder under kernels/
# (its sources compiled with QGEMM_ISA_FLAGS_<isa>).

set(QGEMM_ISA_FLAGS_avx2       -mavx2 -mfma -mf16c)
set(QGEMM_ISA_FLAGS_avx512bw   -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c)
set(QGEMM_ISA_FLAGS_avxvnni    -mavx2 -mfma -mf16c -mavxvnni)
set(QGEMM_ISA_FLAGS_avx512vnni -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c)
# Not a GEMM ISA (no qgemm::Isa value): the weight-only linear's bf16-X kernels, used beside
# the avx512bw quantization table where the CPU has AVX512_BF16 (src/quant/quant_dispatch.cpp).
set(QGEMM_ISA_FLAGS_avx512bf16 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mfma -mf16c)
# -fno-schedule-insns: g++ 12's pre-allocation scheduler hoists all 32 UMULLs of the neon
# kernel's K step ahead of their UADALPs and spills 18 vectors per step; without it the loop
# is 84 instructions and spill-free (objdump of u8s8_gemm_4x4c16__neon). No effect on results.
set(QGEMM_ISA_FLAGS_neon       -march=armv8-a -fno-schedule-insns)
set(QGEMM_ISA_FLAGS_dotprod    -march=armv8.2-a+dotprod)
set(QGEMM_ISA_FLAGS_i8mm       -march=armv8.2-a+dotprod+i8mm)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(QGEMM_ARCH x86)
  set(QGEMM_ARCH_ISAS avx2 avx512bw avxvnni avx512vnni avx512bf16)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(QGEMM_ARCH arm)
  set(QGEMM_ARCH_ISAS neon dotprod i8mm)
else()
  set(QGEMM_ARCH none)
  set(QGEMM_ARCH_ISAS)
endif()

# qgemm_add_isa_kernels(target): for every ISA of this architecture whose folder
# kernels/<arch>/<isa>/ holds sources, builds them as an object library with the ISA's flags,
# links them into `target` and defines QGEMM_BUILT_<ISA>=1 for the dispatch table.
option(QGEMM_X86_EMULATION "Compile the x86 kernels against SIMDe (no native intrinsics) and report every x86 ISA as available: tests kernels on CPUs that lack them; never for speed" OFF)

function(qgemm_add_isa_kernels target)
  set(built)
  if(QGEMM_X86_EMULATION AND QGEMM_ARCH STREQUAL "x86")
    target_compile_definitions(${target} PRIVATE QGEMM_SIMDE_EMULATION=1)
  endif()
  foreach(isa IN LISTS QGEMM_ARCH_ISAS)
    string(TOUPPER ${isa} ISA)
    option(QGEMM_ENABLE_${ISA} "Build the ${isa} kernels" ON)
    file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/${QGEMM_ARCH}/${isa}/*.cpp)
    if(NOT QGEMM_ENABLE_${ISA} OR NOT srcs)
      continue()
    endif()
    add_library(qgemm_${isa} OBJECT ${srcs})
    # Kernels see the public headers and kernels/ only, never src/ (the driver's side).
    target_include_directories(qgemm_${isa} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/kernels)
    if(QGEMM_X86_EMULATION AND QGEMM_ARCH STREQUAL "x86")
      target_compile_definitions(qgemm_${isa} PRIVATE QGEMM_SIMDE_EMULATION=1 SIMDE_NO_NATIVE=1)
      target_compile_options(qgemm_${isa} PRIVATE -ffp-contract=off -Wall -Wextra -Wno-psabi)
    else()
      target_compile_options(qgemm_${isa} PRIVATE ${QGEMM_ISA_FLAGS_${isa}} -ffp-contract=off -Wall -Wextra)
    endif()
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:qgemm_${isa}>)
    # The GEMM dispatch entry exists once the folder holds a u8s8_gemm kernel (other
    # operations' kernels may share the folder and register in their own tables).
    file(GLOB gemm_srcs ${PROJECT_SOURCE_DIR}/kernels/${QGEMM_ARCH}/${isa}/u8s8_gemm_*.cpp)
    if(gemm_srcs)
      target_compile_definitions(${target} PRIVATE QGEMM_BUILT_${ISA}=1)
      list(APPEND built ${isa})
    endif()
  endforeach()
  message(STATUS "qgemm: kernels built for: scalar ${built}")
  set(QGEMM_BUILT_ISAS scalar ${built} PARENT_SCOPE)
endfunction()
