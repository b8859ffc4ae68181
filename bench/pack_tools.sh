#!/bin/sh
# Packs what a machine without kiln's build needs to compile and run kiln model libraries:
# the kiln binary (stripped), libdnnl.so.2 (+ libOpenCL.so.1, which it links) and the oneDNN
# headers the generated code includes. Compressed: the whole bundle is a few MiB.
#   bench/pack_tools.sh OUT_DIR [KILN_BINARY]     (KILN_BINARY: default build/kiln)
# On the other machine: . bench/unpack_tools.sh OUT_DIR  (sets PATH-like variables, see there)
set -eu
out=${1:?usage: pack_tools.sh OUT_DIR [KILN_BINARY]}
kiln=${2:-build/kiln}
libdir=/usr/lib/x86_64-linux-gnu
[ -x "$kiln" ] || { echo "pack_tools.sh: $kiln is not an executable kiln binary" >&2; exit 1; }
[ -e "$libdir/libdnnl.so.2" ] || { echo "pack_tools.sh: no $libdir/libdnnl.so.2" >&2; exit 1; }
mkdir -p "$out"
strip -o "$out/kiln" "$kiln"
xz -f -6 "$out/kiln"
xz -6 -c "$(readlink -f "$libdir/libdnnl.so.2")" > "$out/libdnnl.so.2.xz"
cp -L "$libdir/libOpenCL.so.1" "$out/libOpenCL.so.1"
headers=$(cd /usr/include && ls -d dnnl*.h dnnl*.hpp oneapi/dnnl)
tar -cJf "$out/dnnl-include.tar.xz" -C /usr/include $headers
ls -l "$out"
