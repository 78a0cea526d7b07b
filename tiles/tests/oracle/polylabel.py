"""For each polygon of a JSON list ({"rings": [[[x, y], ...], ...], "point": [x, y], "tolerance": t},
coordinates on a metric plane, exterior first), reports shapely's (GEOS) pole of inaccessibility at
the same tolerance, and the distance to the outline of both it and the given point, with whether
the given point lies inside. Usage: polylabel.py FILE.json ; prints JSON."""

import json
import sys

from shapely.geometry import Point, Polygon
from shapely.ops import polylabel

with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for c in cases:
    poly = Polygon(c["rings"][0], c["rings"][1:])
    theirs = polylabel(poly, tolerance=c["tolerance"])
    ours = Point(c["point"])
    out.append(
        {
            "valid": poly.is_valid,
            "inside": poly.contains(ours),
            "ours": poly.boundary.distance(ours),
            "theirs": poly.boundary.distance(theirs),
        }
    )
json.dump(out, sys.stdout)
