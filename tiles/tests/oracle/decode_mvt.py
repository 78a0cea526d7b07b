"""Decodes MVT files with mapbox-vector-tile (an outside reference) and reports, per layer and
feature, its id, properties, geometry type, sorted distinct vertices and, for polygons, whether
shapely (GEOS) finds the geometry valid. Usage: decode_mvt.py TILE.mvt... ; prints JSON."""

import json
import sys

import mapbox_vector_tile
from shapely.geometry import shape


def vertices(coords):
    if coords and isinstance(coords[0], (int, float)):
        return [tuple(coords)]
    return [v for c in coords for v in vertices(c)]


out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        tile = mapbox_vector_tile.decode(f.read(), default_options={"y_coord_down": True})
    layers = {}
    for name, layer in tile.items():
        feats = []
        for feat in layer["features"]:
            g = feat["geometry"]
            valid = None
            if g["type"] in ("Polygon", "MultiPolygon"):
                valid = shape(g).is_valid
            feats.append({
                "id": feat.get("id"),
                "properties": feat["properties"],
                "type": g["type"],
                "vertices": sorted(set(vertices(g["coordinates"]))),
                "valid": valid,
            })
        layers[name] = {"extent": layer["extent"], "version": layer["version"], "features": feats}
    out.append(layers)
json.dump(out, sys.stdout)
