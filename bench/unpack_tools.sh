# Unpacks a bundle made by bench/pack_tools.sh and sets up the environment for kiln there.
# Source it (it exports variables):  . bench/unpack_tools.sh BUNDLE_DIR [DEST_DIR]
# Afterwards: $KILN is the kiln binary; LD_LIBRARY_PATH finds libdnnl.so.2 at run time,
# LIBRARY_PATH and CPLUS_INCLUDE_PATH let kiln compile link against it and include its headers.
_bundle=${1:?usage: . unpack_tools.sh BUNDLE_DIR [DEST_DIR]}
_dest=${2:-/tmp/kiln-tools}
mkdir -p "$_dest/lib" "$_dest/include" &&
  xz -dc "$_bundle/kiln.xz" > "$_dest/kiln" && chmod +x "$_dest/kiln" &&
  xz -dc "$_bundle/libdnnl.so.2.xz" > "$_dest/lib/libdnnl.so.2" &&
  ln -sf libdnnl.so.2 "$_dest/lib/libdnnl.so" &&
  tar -xJf "$_bundle/dnnl-include.tar.xz" -C "$_dest/include" || echo "unpack_tools.sh: failed" >&2
# libOpenCL.so.1 only where the machine has none of its own.
if ! ldconfig -p 2>/dev/null | grep -q 'libOpenCL.so.1 '; then
  cp "$_bundle/libOpenCL.so.1" "$_dest/lib/"
fi
export KILN="$_dest/kiln"
export LD_LIBRARY_PATH="$_dest/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LIBRARY_PATH="$_dest/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CPLUS_INCLUDE_PATH="$_dest/include${CPLUS_INCLUDE_PATH:+:$CPLUS_INCLUDE_PATH}"
unset _bundle _dest
