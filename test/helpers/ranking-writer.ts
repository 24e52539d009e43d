// Child process for the kill -9 durability test: saves rankings in a loop through the real
// service and tells the parent after each save returned (the moment the UI would say "saved").
import {forkEngine} from '../../main/node/engine/fork-engine.js';
import {Services} from '../../main/node/services/index.js';

const [dataDir, annotatorId, ...itemIds] = process.argv.slice(2);
const services = new Services({dataDir: dataDir!, spawnEngine: forkEngine, threads: 1});
for (let n = 0; ; n++) {
  const itemId = itemIds[n % itemIds.length]!;
  const ranking = n % 2 ? [[0], [1], [2], [3]] : [[3], [2], [1], [0]];
  services.annotation.save({itemId, annotatorId: annotatorId!, ranking, marks: [], comment: `save#${n}`, allWrong: false, correction: null});
  process.send!(`${itemId}:${n}`);
  await new Promise((r) => setImmediate(r));
}
