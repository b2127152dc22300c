#!/usr/bin/env python3
"""Writes data/ne_110m_land.txt, the coastline of clmtune's maps, from the TopoJSON file
land-110m.json of the npm package world-atlas 2.0.2 (Natural Earth 4.1.0 1:110m land).

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python3 data/ne_110m_land.py package/land-110m.json > data/ne_110m_land.txt

The TopoJSON arcs are quantised and delta-encoded: each arc's points are running sums of
integer steps, times the transform's scale plus its translate. A polygon's rings are lists
of arc indices (~i: arc i reversed); consecutive arcs share their end point. world-atlas
stitches the geometry across 180 degrees (spherical polygons), so for a flat lon/lat map
each ring is unwrapped to continuous longitudes, a ring around a pole (Antarctica) is closed
along that pole's latitude, and every ring is clipped to -180..180 after shifting by -360,
0 and +360 degrees (a ring across 180 degrees becomes two). Only the standard library.
"""

import json
import sys


def decode(topo):
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring_points(arcs, indices):
    out = []
    for i in indices:
        pts = arcs[i] if i >= 0 else arcs[~i][::-1]
        out.extend(pts if not out else pts[1:])
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def unwrap(ring):
    out = [ring[0]]
    for lon, lat in ring[1:]:
        prev = out[-1][0]
        while lon - prev > 180:
            lon -= 360
        while lon - prev < -180:
            lon += 360
        out.append((lon, lat))
    return out


def clip(ring, keep, cross):
    """Sutherland-Hodgman against one half plane: keep(p) says whether p is inside,
    cross(p, q) is where the edge p-q crosses the boundary."""
    out = []
    for k, q in enumerate(ring):
        p = ring[k - 1]
        if keep(q):
            if not keep(p):
                out.append(cross(p, q))
            out.append(q)
        elif keep(p):
            out.append(cross(p, q))
    return out


def at_lon(x):
    def cross(p, q):
        t = (x - p[0]) / (q[0] - p[0])
        return (x, p[1] + t * (q[1] - p[1]))

    return cross


def area(ring):
    return 0.5 * sum(
        ring[k - 1][0] * ring[k][1] - ring[k][0] * ring[k - 1][1] for k in range(len(ring))
    )


def flat_rings(ring):
    """The rings of a lon/lat map (-180..180) that one spherical ring becomes."""
    # unwrapped with its closing edge: a ring around a pole ends 360 degrees from its start
    u = unwrap(ring + [ring[0]])
    turn = round((u[-1][0] - u[0][0]) / 360)
    if turn == 0:
        u = u[:-1]
    else:
        # around a pole: close it along the pole's latitude
        pole = -90.0 if sum(p[1] for p in u) < 0 else 90.0
        u = u + [(u[-1][0], pole), (u[0][0], pole)]
    lo = min(p[0] for p in u)
    hi = max(p[0] for p in u)
    out = []
    for shift in (-720, -360, 0, 360, 720):
        if hi + shift <= -180 or lo + shift >= 180:
            continue
        r = [(x + shift, y) for x, y in u]
        r = clip(r, lambda p: p[0] >= -180, at_lon(-180))
        r = clip(r, lambda p: p[0] <= 180, at_lon(180)) if r else r
        r = [(round(x, 2) + 0.0, round(y, 2) + 0.0) for x, y in r]
        r = [p for k, p in enumerate(r) if p != r[k - 1]]
        if len(r) >= 3 and abs(area(r)) > 1e-4:
            out.append(r)
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "land-110m.json"
    with open(path) as f:
        topo = json.load(f)
    arcs = decode(topo)
    blocks = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            for k, indices in enumerate(poly):
                for r in flat_rings(ring_points(arcs, indices)):
                    blocks.append(("land" if k == 0 else "hole", r))
    w = sys.stdout.write
    w("# Natural Earth 1:110m land (version 4.1.0, public domain) from land-110m.json of the\n")
    w("# npm package world-atlas 2.0.2 (ISC, Mike Bostock), written by data/ne_110m_land.py.\n")
    w('# One ring per block: "land N" or "hole N", then N lines "lon lat" (degrees, -180..180;\n')
    w("# the first point is not repeated). Rings across 180 degrees are split there; the ring\n")
    w("# around the South Pole is closed along 90S. Edges on 180E/W or 90S are not coastline.\n")
    for kind, r in blocks:
        w(f"{kind} {len(r)}\n")
        for x, y in r:
            w(f"{x:.2f} {y:.2f}\n")
    n = sum(len(r) for _, r in blocks)
    print(f"{len(blocks)} rings, {n} points", file=sys.stderr)


if __name__ == "__main__":
    main()
