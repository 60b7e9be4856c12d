// Draws the extension's Marketplace icon, media/icon.png (128x128, as vsce requires a PNG): the
// activity-bar symbol of media/keel.svg (hull, mast, sail) in white on a rounded blue square.
// Run it after changing the drawing: node extension/drawIcon.mjs
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
/** Samples per pixel side: edges are anti-aliased by averaging SAMPLES² points. */
const SAMPLES = 4;
const TOP = [30, 58, 95];
const BOTTOM = [37, 99, 235];
const WHITE = [255, 255, 255];

/** keel.svg's 24-unit grid, scaled to the icon with a margin. */
const unit = (v) => 16 + (v * (SIZE - 32)) / 24;
const polygon = (points) => points.map(([x, y]) => [unit(x), unit(y)]);
const HULL = polygon([
  [3, 13],
  [21, 13],
  [18, 19],
  [6, 19],
]);
const SAIL = polygon([
  [12.6, 4],
  [18, 11],
  [12.6, 11],
]);
const MAST = polygon([
  [11.3, 3],
  [12.3, 3],
  [12.3, 13],
  [11.3, 13],
]);
const SHAPES = [HULL, SAIL, MAST];

function inside(x, y, points) {
  let hit = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

/** Inside the background's square with corners rounded to radius 24. */
function inBackground(x, y) {
  const r = 24;
  const cx = Math.min(Math.max(x, r), SIZE - r);
  const cy = Math.min(Math.max(y, r), SIZE - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function pixel(px, py) {
  let background = 0;
  let symbol = 0;
  for (let sy = 0; sy < SAMPLES; sy++) {
    for (let sx = 0; sx < SAMPLES; sx++) {
      const x = px + (sx + 0.5) / SAMPLES;
      const y = py + (sy + 0.5) / SAMPLES;
      if (!inBackground(x, y)) continue;
      background++;
      if (SHAPES.some((shape) => inside(x, y, shape))) symbol++;
    }
  }
  const total = SAMPLES * SAMPLES;
  const t = py / (SIZE - 1);
  const base = TOP.map((c, i) => c + (BOTTOM[i] - c) * t);
  const share = background === 0 ? 0 : symbol / background;
  const rgb = base.map((c, i) => Math.round(c + (WHITE[i] - c) * share));
  return [...rgb, Math.round((255 * background) / total)];
}

function crc32(bytes) {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const rows = [];
for (let y = 0; y < SIZE; y++) {
  rows.push(Buffer.from([0, ...Array.from({ length: SIZE }, (_, x) => pixel(x, y)).flat()]));
}
const header = Buffer.alloc(13);
header.writeUInt32BE(SIZE, 0);
header.writeUInt32BE(SIZE, 4);
header.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, no filter, no interlace
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', header),
  chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
const out = join(dirname(fileURLToPath(import.meta.url)), 'media', 'icon.png');
writeFileSync(out, png);
console.log(`Wrote ${out} (${png.length} bytes)`);
