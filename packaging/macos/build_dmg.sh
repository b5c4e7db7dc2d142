#!/usr/bin/env bash
# Builds dist/medsys-desktop-<version>.dmg on macOS (not run on the Linux CI machine).
# Needs: Python 3.11+ with `pip install -e '.[dev]'`, and Xcode command line tools (hdiutil, iconutil).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(python3 -c "from importlib.metadata import version; print(version('medsys'))")

# The icon: macOS wants .icns; build it from the same PNG as Linux.
iconset=build/medsys.iconset
mkdir -p "$iconset"
for size in 16 32 128 256; do
  sips -z $size $size packaging/linux/medsys-desktop.png --out "$iconset/icon_${size}x${size}.png" >/dev/null
done
iconutil -c icns "$iconset" -o packaging/macos/medsys.icns

python3 -m PyInstaller --noconfirm --distpath dist packaging/medsys-desktop.spec
# One-folder bundle → an .app wrapper, then a compressed disk image.
app=dist/medsys.app
rm -rf "$app" && mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp -R dist/medsys-desktop/ "$app/Contents/MacOS/"
cp packaging/macos/medsys.icns "$app/Contents/Resources/"
sed "s/@VERSION@/$version/" packaging/macos/Info.plist > "$app/Contents/Info.plist"
"$app/Contents/MacOS/medsys-desktop" --selftest
hdiutil create -volname medsys -srcfolder "$app" -ov -format UDZO "dist/medsys-desktop-$version.dmg"
