#!/bin/sh
# Copies the parts of pdf.js (npm devDependency pdfjs-dist, pinned in
# package.json) that the browser client loads into web/static/vendor/pdfjs/,
# where they are embedded into the binary and served from Parley itself.
# The copies are committed: `make run` needs only Go. Run this after
# changing the pinned version (npm install first), then commit the result.
#
# Copied: the library and its worker (modern builds, ES modules), their
# licence, and the standard fonts (for PDFs that use the 14 standard fonts
# without embedding them, like most generated contracts) with their
# licences, and the JavaScript builds of the JPEG 2000 and JBIG2 image
# decoders (scanned contracts use them; the client turns WebAssembly off,
# which the CSP does not allow, and pdf.js then imports these instead).
# Not copied: the WebAssembly files, CMaps (CJK text), the viewer
# application, source maps.
set -eu
cd "$(dirname "$0")/.."

src=node_modules/pdfjs-dist
dst=web/static/vendor/pdfjs
if [ ! -f "$src/package.json" ]; then
	echo "vendor-pdfjs: $src is missing; run npm install first" >&2
	exit 1
fi
version=$(node -p "require('./$src/package.json').version")
pinned=$(node -p "require('./package.json').devDependencies['pdfjs-dist']")
if [ "$version" != "$pinned" ]; then
	echo "vendor-pdfjs: installed pdfjs-dist $version, package.json pins $pinned; run npm install" >&2
	exit 1
fi

rm -rf "$dst"
mkdir -p "$dst/standard_fonts" "$dst/wasm"
cp "$src/build/pdf.min.mjs" "$src/build/pdf.worker.min.mjs" "$dst/"
cp "$src/LICENSE" "$dst/LICENSE"
cp "$src"/wasm/openjpeg_nowasm_fallback.js "$src"/wasm/jbig2_nowasm_fallback.js \
	"$src"/wasm/LICENSE_OPENJPEG "$src"/wasm/LICENSE_PDFJS_OPENJPEG "$src"/wasm/LICENSE_JBIG2 "$src"/wasm/LICENSE_PDFJS_JBIG2 "$dst/wasm/"
cp "$src"/standard_fonts/*.pfb "$src"/standard_fonts/*.ttf "$src"/standard_fonts/LICENSE_* "$dst/standard_fonts/"
if grep -q sourceMappingURL "$dst/pdf.min.mjs" "$dst/pdf.worker.min.mjs"; then
	echo "vendor-pdfjs: the minified files refer to source maps, which are not copied" >&2
	exit 1
fi
printf 'pdfjs-dist %s, copied from node_modules by scripts/vendor-pdfjs.sh; do not edit.\n' "$version" >"$dst/VERSION.txt"

max=$((2 * 1024 * 1024))
for f in "$dst"/*.mjs "$dst"/wasm/* "$dst"/standard_fonts/*; do
	size=$(wc -c <"$f")
	if [ "$size" -gt "$max" ]; then
		echo "vendor-pdfjs: $f is $size bytes, over 2 MiB" >&2
		exit 1
	fi
done
echo "vendor-pdfjs: pdfjs-dist $version → $dst"
ls -l "$dst" "$dst/standard_fonts"
