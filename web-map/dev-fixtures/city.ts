/**
 * A small made-up district near 121.55E 29.87N for `npm run dev`, answering the same API as
 * `rentgrid serve` (see `vite.config.ts`). A 16×10 lattice of cells: each cell is one grid of four
 * city blocks; cell edges are arterial or secondary roads, the lines through the cells local roads;
 * two cells are a lake. Numbers come from a seeded generator, so every run shows the same city.
 * Only for development: the built app never includes it.
 */
import type { Feature, FeatureCollection, Polygon, Position } from 'geojson';

const WEST = 121.5;
const SOUTH = 29.84;
const COLS = 16;
const ROWS = 10;
const CELL_W = 0.00625; // ≈ 600 m
const CELL_H = 0.006; // ≈ 665 m
const EAST = WEST + COLS * CELL_W;
const NORTH = SOUTH + ROWS * CELL_H;
const KM_PER_DEG_LAT = 110.57;
const KM_PER_DEG_LON = 111.32 * Math.cos(((SOUTH + NORTH) / 2) * (Math.PI / 180));

const TARGETS = { reg_rate: 0.9, permit_rate: 0.9, rental_rate: 0.95, consistency_rate: 0.7, pledge_rate: 0.95 };

const STREETS = [
  { code: '330203001', name: '西门街道', cols: [0, 5] },
  { code: '330203002', name: '鼓楼街道', cols: [6, 10] },
  { code: '330203003', name: '南门街道', cols: [11, 15] },
] as const;
const COMMUNITY_NAMES = [
  '中山', '天一', '月湖', '孝闻', '苍水', '永寿', '望春', '柳汀', '新芝', '南塘', '联丰', '尹江', '高塘', '石碶',
  '段塘', '白云', '华光', '安丰', '青林湾', '气象', '翠柏', '西成', '常青藤', '芝兰', '春华', '文昌', '鼓楼', '公园',
  '秀水', '兴宁', '集士港', '洞桥', '卖面桥', '丽园', '泰康', '新典', '环城', '海晏', '万安', '长春',
];
/** Cells that are water: no grid, no blocks. */
const LAKE = new Set(['7,3', '8,3']);
/** Corner cells left out so the district outline is not a plain rectangle. */
const OUTSIDE = new Set(['0,0', '1,0', '0,1', '15,9', '14,9', '15,8', '13,9']);

const KINDS = ['tower', 'walkup', 'village_house', 'factory', 'dormitory', 'shop'] as const;

/** mulberry32: a tiny seeded generator, good enough for fixtures. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
const box = (w: number, s: number, e: number, n: number): Polygon => ({
  type: 'Polygon',
  coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]].map(([x, y]) => [round(x!), round(y!)])],
});
const cellBox = (col: number, row: number) =>
  [WEST + col * CELL_W, SOUTH + row * CELL_H, WEST + (col + 1) * CELL_W, SOUTH + (row + 1) * CELL_H] as const;
const inDistrict = (col: number, row: number) =>
  col >= 0 && col < COLS && row >= 0 && row < ROWS && !OUTSIDE.has(`${col},${row}`);
const isLand = (col: number, row: number) => inDistrict(col, row) && !LAKE.has(`${col},${row}`);
const streetOf = (col: number) => STREETS.find((s) => col >= s.cols[0] && col <= s.cols[1])!;

/** Wilson 95% interval of k successes in n. */
function wilson(k: number, n: number): [number, number] | null {
  if (n === 0) return null;
  const z = 1.96;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = ((z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n)));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

interface Building {
  polygon: Polygon;
  bbox: readonly [number, number, number, number];
  properties: Record<string, number | string>;
}

interface City {
  district: object;
  grids: FeatureCollection;
  basemap: FeatureCollection;
  buildings: Building[];
}

function buildCity(): City {
  const rand = random(330203);
  const grids: Feature[] = [];
  const blocks: Feature[] = [];
  const buildings: Building[] = [];
  let gridId = 0;
  let buildingId = 0;

  for (let row = 0; row < ROWS; row++) {
    for (let col = 0; col < COLS; col++) {
      if (!isLand(col, row)) continue;
      const [w, s, e, n] = cellBox(col, row);
      const street = streetOf(col);
      const communityIndex = Math.floor(row / 2) * 8 + Math.floor(col / 2);
      const communityName = `${COMMUNITY_NAMES[communityIndex % COMMUNITY_NAMES.length]}社区`;
      const id = ++gridId;
      const gridBuildings: Building[] = [];
      // How well this grid's caseworkers keep up: most grids are close to the target.
      const quality = 0.8 + rand() * 0.2;

      // Four blocks per cell, set back from the road centre lines; six buildings on each.
      const inset = 0.00028;
      const midX = (w + e) / 2;
      const midY = (s + n) / 2;
      for (const [bw, bs, be, bn] of [[w, s, midX, midY], [midX, s, e, midY], [w, midY, midX, n], [midX, midY, e, n]] as const) {
        const block = [bw + inset, bs + inset, be - inset, bn - inset] as const;
        blocks.push({ type: 'Feature', properties: { kind: 'block' }, geometry: box(...block) });
        const kind = KINDS[Math.floor(rand() * KINDS.length)]!;
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 2; j++) {
            const cw = (block[2] - block[0]) / 3;
            const ch = (block[3] - block[1]) / 2;
            const x = block[0] + i * cw + cw * 0.18;
            const y = block[1] + j * ch + ch * 0.2;
            const footprint = [x, y, x + cw * 0.64, y + ch * 0.55] as const;
            const floors = kind === 'tower' ? 18 + Math.floor(rand() * 15) : kind === 'walkup' ? 5 + Math.floor(rand() * 3) : 1 + Math.floor(rand() * 4);
            const units = Math.floor(rand() * floors * (kind === 'dormitory' ? 6 : 2));
            const persons = Math.floor(units * (1 + rand() * 2.5));
            gridBuildings.push({
              polygon: box(...footprint),
              bbox: footprint,
              properties: {
                id: ++buildingId,
                kind,
                grid_id: id,
                floors,
                rental_units: units,
                rental_units_registered: Math.floor(units * (0.8 + rand() * 0.2)),
                persons,
                persons_registered: Math.min(persons, Math.round(persons * (quality + (rand() - 0.5) * 0.1))),
              },
            });
          }
        }
      }
      buildings.push(...gridBuildings);

      const sum = (key: string) => gridBuildings.reduce((acc, b) => acc + Number(b.properties[key]), 0);
      // A few grids have nobody: their rates have no denominator.
      const empty = rand() < 0.04;
      const persons = empty ? 0 : sum('persons');
      const registered = empty ? 0 : sum('persons_registered');
      const rentalUnits = sum('rental_units');
      const rentalRegistered = sum('rental_units_registered');
      const withPermit = Math.floor(registered * (0.85 + rand() * 0.15));
      const consistent = Math.floor(persons * (0.6 + rand() * 0.35));
      const pledges = Math.floor(rentalRegistered * (0.88 + rand() * 0.12));
      const rate = (k: number, total: number) => (total === 0 ? null : k / total);
      const regRate = rate(registered, persons);
      const interval = wilson(registered, persons);
      const areaKm2 = CELL_W * KM_PER_DEG_LON * CELL_H * KM_PER_DEG_LAT;
      grids.push({
        type: 'Feature',
        id,
        geometry: box(w, s, e, n),
        properties: {
          id,
          code: `${street.code}${String(id).padStart(3, '0')}`,
          name: `${communityName}第${(col % 2) + (row % 2) * 2 + 1}网格`,
          community_code: `${street.code}${String(communityIndex).padStart(3, '0')}`,
          community_name: communityName,
          street_code: street.code,
          street_name: street.name,
          label_point: [round(midX + CELL_W / 4), round(midY + CELL_H / 4)],
          area_km2: Math.round(areaKm2 * 1000) / 1000,
          buildings: gridBuildings.length,
          rental_units: rentalUnits,
          rental_units_registered: rentalRegistered,
          persons,
          persons_registered: registered,
          persons_with_permit: withPermit,
          persons_consistent: consistent,
          pledges_signed: pledges,
          reg_rate: regRate,
          permit_rate: rate(withPermit, persons),
          rental_rate: rate(rentalRegistered, rentalUnits),
          consistency_rate: rate(consistent, persons),
          pledge_rate: rate(pledges, rentalRegistered),
          reg_rate_low: interval?.[0] ?? null,
          reg_rate_high: interval?.[1] ?? null,
          persons_per_km2: Math.round(persons / areaKm2),
          reg_status: regRate === null ? 'none' : regRate >= TARGETS.reg_rate ? 'meets' : regRate >= TARGETS.reg_rate - 0.05 ? 'near' : 'below',
        },
      });
    }
  }

  return {
    district: {
      code: '330203',
      name: '海曙区',
      bbox: [WEST, SOUTH, round(EAST), round(NORTH)],
      center: [round((WEST + EAST) / 2), round((SOUTH + NORTH) / 2)],
      targets: TARGETS,
      near_band: 0.05,
    },
    grids: { type: 'FeatureCollection', features: grids },
    basemap: { type: 'FeatureCollection', features: [...basemapOutlines(), ...blocks, ...roads()] },
    buildings,
  };
}

/**
 * The outline of a set of lattice cells: every cell edge that has a cell of the set on one side
 * only, chained into rings.
 */
function outline(member: (col: number, row: number) => boolean): Position[][] {
  const edges = new Map<string, string>();
  const key = (c: number, r: number) => `${c},${r}`;
  for (let row = 0; row < ROWS; row++) {
    for (let col = 0; col < COLS; col++) {
      if (!member(col, row)) continue;
      // Counter-clockwise around the cell, skipping edges shared with another member.
      if (!(row > 0 && member(col, row - 1))) edges.set(key(col, row), key(col + 1, row));
      if (!(col < COLS - 1 && member(col + 1, row))) edges.set(key(col + 1, row), key(col + 1, row + 1));
      if (!(row < ROWS - 1 && member(col, row + 1))) edges.set(key(col + 1, row + 1), key(col, row + 1));
      if (!(col > 0 && member(col - 1, row))) edges.set(key(col, row + 1), key(col, row));
    }
  }
  const rings: Position[][] = [];
  while (edges.size) {
    const [start] = edges.keys();
    const ring: Position[] = [];
    let at = start!;
    do {
      const [c, r] = at.split(',').map(Number);
      ring.push([round(WEST + c! * CELL_W), round(SOUTH + r! * CELL_H)]);
      const next = edges.get(at)!;
      edges.delete(at);
      at = next;
    } while (at !== start);
    ring.push(ring[0]!);
    rings.push(ring);
  }
  return rings;
}

function basemapOutlines(): Feature[] {
  return [
    { type: 'Feature', properties: { kind: 'district' }, geometry: { type: 'Polygon', coordinates: outline(inDistrict) } },
    ...STREETS.map((street): Feature => ({
      type: 'Feature',
      properties: { kind: 'street', code: street.code, name: street.name },
      geometry: { type: 'Polygon', coordinates: outline((c, r) => inDistrict(c, r) && streetOf(c) === street) },
    })),
    // The server sends each shared boundary once; the fixture's street rings are close enough for dev.
    {
      type: 'Feature',
      properties: { kind: 'street_boundary' },
      geometry: {
        type: 'MultiLineString',
        coordinates: STREETS.flatMap((street) => outline((c, r) => inDistrict(c, r) && streetOf(c) === street)),
      },
    },
    { type: 'Feature', properties: { kind: 'water' }, geometry: { type: 'Polygon', coordinates: outline((c, r) => LAKE.has(`${c},${r}`)) } },
  ];
}

/**
 * Roads along the cell edges and through the cells, wherever there is land on either side; runs of
 * touching segments are joined into one line.
 */
function roads(): Feature[] {
  const features: Feature[] = [];
  const addRuns = (roadClass: string, steps: number, present: (i: number) => boolean, at: (i: number) => Position) => {
    let run: Position[] = [];
    for (let i = 0; i <= steps; i++) {
      if (i < steps && present(i)) {
        if (!run.length) run.push(at(i));
        run.push(at(i + 1));
      } else if (run.length) {
        features.push({
          type: 'Feature',
          properties: { kind: 'road', class: roadClass },
          geometry: { type: 'LineString', coordinates: run.map(([x, y]) => [round(x!), round(y!)]) },
        });
        run = [];
      }
    }
  };
  for (let col = 0; col <= COLS; col++) {
    const x = WEST + col * CELL_W;
    addRuns(col % 4 === 0 ? 'arterial' : 'secondary', ROWS, (r) => isLand(col - 1, r) || isLand(col, r), (r) => [x, SOUTH + r * CELL_H]);
    addRuns('local', ROWS, (r) => isLand(col, r), (r) => [x + CELL_W / 2, SOUTH + r * CELL_H]);
  }
  for (let row = 0; row <= ROWS; row++) {
    const y = SOUTH + row * CELL_H;
    addRuns(row % 5 === 0 ? 'arterial' : 'secondary', COLS, (c) => isLand(c, row - 1) || isLand(c, row), (c) => [WEST + c * CELL_W, y]);
    addRuns('local', COLS, (c) => isLand(c, row), (c) => [WEST + c * CELL_W, y + CELL_H / 2]);
  }
  return features;
}

const city = buildCity();

export const district = () => city.district;
export const grids = () => city.grids;
export const basemap = () => city.basemap;

/** `GET /api/buildings`: buildings meeting `bbox`, at most `limit`, or null for a bad bbox. */
export function buildings(bbox: number[], limit: number): object | null {
  const [w, s, e, n] = bbox;
  if (bbox.length !== 4 || bbox.some((v) => !Number.isFinite(v)) || w! > e! || s! > n!) return null;
  const matched = city.buildings.filter((b) => b.bbox[0] <= e! && b.bbox[2] >= w! && b.bbox[1] <= n! && b.bbox[3] >= s!);
  const page = matched.slice(0, limit);
  return {
    type: 'FeatureCollection',
    numberMatched: matched.length,
    numberReturned: page.length,
    features: page.map((b) => ({ type: 'Feature', id: b.properties.id, geometry: b.polygon, properties: b.properties })),
  };
}
