"""Renders characters as FreeType does for Martin's and fontnik's glyph servers (unhinted,
anti-aliased, 24 px em), an outside reference for rentgrid's glyphs. Usage:
freetype_glyphs.py FONT_FILE "FAMILY STYLE" CHARS ; prints JSON: the face's ascender and, per
character, its bitmap's left, top, width, rows and coverage (0-255, row by row) and its advance."""

import json
import sys

import freetype

path, name, chars = sys.argv[1], sys.argv[2], sys.argv[3]
count = freetype.Face(path).num_faces
face = None
for i in range(count):
    f = freetype.Face(path, i)
    if f"{f.family_name.decode()} {f.style_name.decode()}" == name:
        face = f
        break
if face is None:
    sys.exit(f"no face {name!r} in {path}")
face.set_char_size(0, 24 * 64, 0, 0)
out = {"ascender": face.size.ascender >> 6, "glyphs": {}}
for c in chars:
    face.load_char(c, freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_RENDER)
    g = face.glyph
    b = g.bitmap
    rows = [list(b.buffer[r * b.pitch : r * b.pitch + b.width]) for r in range(b.rows)]
    out["glyphs"][c] = {
        "left": g.bitmap_left,
        "top": g.bitmap_top,
        "width": b.width,
        "rows": b.rows,
        "coverage": rows,
        "advance": g.metrics.horiAdvance >> 6,
    }
json.dump(out, sys.stdout)
