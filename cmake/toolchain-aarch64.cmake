# Cross build for aarch64 Linux with Debian's g++-aarch64-linux-gnu; tests run under
# qemu-aarch64 (Debian's qemu-user) against the cross toolchain's own sysroot. The CPU model
# is chosen per test through QEMU_CPU (tests/CMakeLists.txt), so no -cpu here.
# Use: cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(QGEMM_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${QGEMM_AARCH64_SYSROOT})

# Libraries and headers only from the cross sysroot; programs (cmake, python) from the host.
set(CMAKE_FIND_ROOT_PATH ${QGEMM_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
