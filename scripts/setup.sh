#!/usr/bin/env bash
# Installs every Debian package the build needs (idempotent), builds kiln, and runs it on the
# bundled example model.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build g++ libgtest-dev libgmock-dev nlohmann-json3-dev libdnnl-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build --target kiln

# The bundled example: inspect it, compile it to a model library, run the library on a stored
# input, and build the C++ serving example against it.
./build/kiln inspect examples/models/mlp.pt2
./build/kiln compile examples/models/mlp.pt2 -o build/mlp.so
./build/kiln run build/mlp.so --inputs examples/models/mlp_input.npy --out build/mlp_out \
  --expect examples/models/mlp_expected.npy
cmake -S examples/cpp -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/example
./build/example/serve build/mlp.so
