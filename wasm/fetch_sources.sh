#!/usr/bin/env bash
# Fetches the SDL2 and Dear ImGui sources that the workbench builds with, from
# Debian's source packages (libsdl2 2.26.5, imgui 1.86), into DEST (default
# build-web/deps), once: a second run finds them and does nothing.
#
#   wasm/fetch_sources.sh [DEST]
#
# Prints nothing but the two folders, one a line:
#   SDL2=<dest>/SDL2-2.26.5   IMGUI=<dest>/imgui-1.86
# The CMake build takes them as DMC_SDL2_SOURCE_DIR / DMC_IMGUI_SOURCE_DIR;
# anyone outside Debian can point those at the upstream release tags
# (SDL release-2.26.5, ImGui v1.86) instead and skip this script.
#
# Needs a deb-src entry for apt: when none exists it adds one next to the
# machine's deb entries (root, or sudo), as wasm/TOOLCHAIN.md describes.
set -euo pipefail
DEST="${1:-build-web/deps}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

find_dir() { # the extracted source folder of a package, if any
    find "$DEST" -maxdepth 1 -mindepth 1 -type d -name "$1" | sort | tail -1
}
SDL2_DIR="$(find_dir 'libsdl2-2.*')"
IMGUI_DIR="$(find_dir 'imgui-1.*')"

if [ -z "$SDL2_DIR" ] || [ -z "$IMGUI_DIR" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "fetch_sources: adding a deb-src entry for apt (Debian's source packages)" >&2
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
                $SUDO tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
        else
            grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
                $SUDO tee /etc/apt/sources.list.d/debian-src.list >/dev/null
        fi
        $SUDO apt-get update -qq >&2
    fi
    command -v dpkg-source >/dev/null || {
        $SUDO apt-get install -y -qq dpkg-dev >&2
    }
    (
        cd "$DEST"
        # --download-only then dpkg-source: no build dependencies, no patches
        # we would not want (Debian's patches apply; they are build fixes).
        for pkg in libsdl2 imgui; do
            if [ -z "$(find_dir "$pkg-[0-9]*")" ]; then
                if ! ls "$pkg"_*.dsc >/dev/null 2>&1; then
                    apt-get source --download-only "$pkg" >&2 || {
                        $SUDO apt-get update -qq >&2 && apt-get source --download-only "$pkg" >&2
                    }
                fi
                dpkg-source --no-check -x "$(ls "$pkg"_*.dsc | sort | tail -1)" >&2
            fi
        done
    )
    SDL2_DIR="$(find_dir 'libsdl2-2.*')"
    IMGUI_DIR="$(find_dir 'imgui-1.*')"
fi
test -f "$SDL2_DIR/include/SDL.h" || { echo "fetch_sources: no SDL2 source in $DEST" >&2; exit 1; }
test -f "$IMGUI_DIR/imgui.h" || { echo "fetch_sources: no ImGui source in $DEST" >&2; exit 1; }
echo "SDL2=$SDL2_DIR"
echo "IMGUI=$IMGUI_DIR"
