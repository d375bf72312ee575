# Sourced by the cross-compilation and packaging scripts: board files and toolchain tools.

# load_board SCRIPT BOARD: sets triple, arch (Debian's), cpu and machine from Boards/BOARD.toml, or stops with the
# list of boards.
load_board() {
  local script=$1 board=$2 file=Boards/$2.toml boards
  boards=$(ls Boards | sed -n 's/\.toml$//p' | tr '\n' ' ')
  [ -n "$board" ] || { echo "$script: name a board: $boards" >&2; exit 2; }
  [ -f "$file" ] || { echo "$script: no board $board; the boards are: $boards" >&2; exit 2; }
  board_value() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" "$file"; }
  triple=$(board_value triple)
  arch=$(board_value debian_architecture)
  cpu=$(board_value cpu)
  machine=${triple%%-*}
}

# toolchain_bin: the folder of the Swift toolchain's binaries (where `swift` really lives).
toolchain_bin() {
  local swift
  swift=$(command -v swift) && dirname "$(realpath "$swift")"
}

# toolchain_tool NAME: NAME from PATH, else the one in the Swift toolchain (it ships clang, lld, llvm-objcopy);
# empty when neither exists.
toolchain_tool() {
  command -v "$1" && return
  local bin
  bin=$(toolchain_bin) && [ -x "$bin/$1" ] && echo "$bin/$1"
  return 0
}
