# Builds qgemm's Python package from this checkout with Debian's packages alone:
#   python3 -m venv --system-site-packages .venv && .venv/bin/pip install --no-build-isolation ./python
# The extension links the static libqgemm.a (built position-independent) that CMake builds from
# the checkout one folder up (or QGEMM_SOURCE_DIR), with the library's OpenMP runtime.
import os
import pathlib
import subprocess

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

HERE = pathlib.Path(__file__).resolve().parent


def source_dir():
    src = pathlib.Path(os.environ.get("QGEMM_SOURCE_DIR", HERE.parent)).resolve()
    if not (src / "CMakeLists.txt").is_file() or not (src / "include" / "qgemm" / "qgemm.hpp").is_file():
        raise RuntimeError(f"qgemm sources not found at {src}: build from a qgemm checkout or set QGEMM_SOURCE_DIR")
    return src


class CMakeLibraryBuildExt(build_ext):
    def build_extensions(self):
        src = source_dir()
        lib_build = pathlib.Path(self.build_temp).resolve() / "libqgemm"
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "-S", str(src), "-B", str(lib_build), "-DCMAKE_BUILD_TYPE=Release",
                               "-DQGEMM_BUILD_TESTS=OFF", "-DQGEMM_BUILD_BENCHMARKS=OFF",
                               "-DQGEMM_WITH_ONEDNN=OFF", "-DQGEMM_OPENMP=ON"])
        subprocess.check_call(["cmake", "--build", str(lib_build), "--target", "qgemm", "-j", jobs])
        for ext in self.extensions:
            ext.include_dirs.append(str(src / "include"))
            ext.extra_objects.append(str(lib_build / "libqgemm.a"))
            ext.extra_link_args.append("-fopenmp")
        super().build_extensions()


setup(
    name="qgemm",
    version="0.1.0",
    description="Python bindings of qgemm (int8 GEMM, quantized linear layers) with PyTorch modules",
    packages=["qgemm"],
    ext_modules=[Pybind11Extension("qgemm._qgemm", ["src/qgemm_py.cpp"], cxx_std=17,
                                   extra_compile_args=["-O2"])],
    cmdclass={"build_ext": CMakeLibraryBuildExt},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
