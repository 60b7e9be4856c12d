/** Each end-to-end run starts with an empty artifacts folder, so what is there is this run's. */
import { rm } from 'node:fs/promises';
import { ARTIFACTS } from './harness/codeServer';

export default async function setup(): Promise<void> {
  await rm(ARTIFACTS, { recursive: true, force: true });
}
