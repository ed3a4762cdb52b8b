# Sourced by scripts/test-python and scripts/bench-python: installs Debian's Python, numpy,
# torch and pybind11, makes build/python-venv (a venv that sees Debian's packages:
# --system-site-packages) and installs the package from python/ into it with pip, offline
# (no package index is needed, nor used). Debian's /usr/bin/python3 is the interpreter with
# python3-torch and python3-numpy; another python3 earlier on PATH (pyenv, conda) would not
# see them. Sets QGEMM_PY to the venv's interpreter.
qgemm_python_venv() {
  qgemm_install_deps cmake make g++ libxsimd-dev python3 python3-dev python3-venv python3-pip \
    python3-setuptools python3-wheel python3-numpy python3-torch python3-pytest pybind11-dev python3-pybind11
  local venv=build/python-venv
  if [ ! -x "$venv/bin/python" ]; then
    echo "== [python] venv $venv (system site packages: Debian's numpy and torch)"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  echo "== [python] pip install --no-build-isolation ./python"
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$venv/bin/pip" install -q --no-index --no-build-isolation --no-deps ./python
  QGEMM_PY=$(pwd)/$venv/bin/python
}
